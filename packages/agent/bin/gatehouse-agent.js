#!/usr/bin/env -S node --min-semi-space-size=8 --max-semi-space-size=8
// The workspace binary: a committed launcher, so npm links it at install time, before dist/ is built.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('gatehouse-agent: not built yet: run `npm run build` (or `npm start`) in the repository first\n');
  process.exit(2);
}
await import(main.href);
