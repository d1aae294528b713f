#!/usr/bin/env node
// tsc writes files without the execute bit; the workspace binaries (npx gatehouse-hub, npx gatehouse-agent)
// need it on POSIX systems. (No-op on Windows, where npm's .cmd shims run node.)
import { chmodSync, existsSync } from 'node:fs';

for (const p of ['packages/hub/dist/main.js', 'packages/agent/dist/main.js']) {
  const file = new URL(`../${p}`, import.meta.url);
  if (existsSync(file)) chmodSync(file, 0o755);
}
