// The Node flags the hub and the agent need (NODE_FLAGS, packages/shared/src/node-flags.ts) reach the running
// process however it is started: the `gatehouse-hub` / `gatehouse-agent` launchers that npx runs (their #!
// line) and `npm start`. The Docker images and the service definitions are checked in docker.test.ts and
// service.test.ts; the test helper starts the hub and the agent with them too (stack.ts), as deployed.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { request } from 'undici';
import { NODE_FLAGS } from '@gatehouse/shared';
import { freePort } from '../helpers/apache.js';
import { startCommand, type Proc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const repo = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop('SIGINT');
  cleanupTempDirs();
});

/** The young generation's size (bytes) that a running hub reports on /metrics. */
async function newSpace(url: string): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith('gatehouse_hub_nodejs_heap_space_size_total_bytes{space="new"} '));
  return Number(line?.split(' ')[1]);
}

async function devHub(start: (port: number, dir: string) => Proc): Promise<string> {
  const port = await freePort();
  const p = start(port, join(tempDir(), 'dev'));
  procs.push(p);
  await p.waitForLine((l) => l.includes('Stop with Ctrl+C'), 60_000);
  return `http://127.0.0.1:${port}`;
}

describe('Node flags', () => {
  it('the launchers carry them on their #! line, and npm start on its command line', () => {
    for (const bin of ['packages/hub/bin/gatehouse-hub.js', 'packages/agent/bin/gatehouse-agent.js']) {
      expect(readFileSync(repo(bin), 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`);
    }
    const start = (JSON.parse(readFileSync(repo('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toContain(`node ${NODE_FLAGS.join(' ')} packages/hub/dist/main.js dev`);
  });

  it('a hub started through its launcher, as npx does, runs node with them, and so does the agent dev starts', async () => {
    // Executed directly, not through node: the kernel reads the #! line (env execs node in the same process).
    let pid = 0;
    const url = await devHub((port, dir) => {
      const p = startCommand([repo('packages/hub/bin/gatehouse-hub.js'), 'dev', '--listen', `127.0.0.1:${port}`, '--dir', dir], {});
      pid = p.child.pid!;
      return p;
    });
    const argv = (p: number) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    expect(argv(pid).slice(1, 1 + NODE_FLAGS.length)).toEqual([...NODE_FLAGS]);
    // and the agent that `dev` starts runs with them too
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    const agent = children.map(argv).find((a) => a.some((x) => x.endsWith('agent/dist/main.js')) && a.includes('run'));
    expect(agent, children.map((c) => argv(c).join(' ')).join('\n')).toBeDefined();
    expect(agent!.slice(1, 1 + NODE_FLAGS.length)).toEqual([...NODE_FLAGS]);
    expect(await newSpace(url)).toBeGreaterThanOrEqual(8 * 1024 * 1024);
  });

  it('they set what they are for: a young generation of 8 MiB from the start (1 MiB without) that does not grow under load (to 16 without)', () => {
    const young = (flags: readonly string[], churn = '') =>
      Number(
        execFileSync(
          process.execPath,
          [...flags, '-e', `${churn}process.stdout.write(String(require('v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size))`],
          { encoding: 'utf8' },
        ),
      );
    expect(young(NODE_FLAGS)).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(young([])).toBeLessThan(8 * 1024 * 1024);
    // Short-lived garbage makes V8 grow the young generation up to its maximum (space_size counts both halves).
    const churn = 'let a = []; for (let i = 0; i < 3e6; i++) { a.push({ i }); if (a.length > 1e5) a = []; } ';
    expect(young(NODE_FLAGS, churn)).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(young([], churn)).toBeGreaterThan(16 * 1024 * 1024);
  });
});
