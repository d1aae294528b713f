// `npm run bench` keeps working: a short run (one round of 1 s, two request cases, 16 MiB transfers, no
// cross-hub part) prints every table with a row for each path, CPU figures for the relays and no errors, and
// reads the targets off its own tables. It says nothing about speed: tests never assert timings (the figures
// are in docs/performance.md).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runBench(): Promise<{ code: number | null; out: string }> {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'bench'], {
    cwd: root,
    stdio: 'pipe',
  });
  const child = spawn(process.execPath, ['bench/dist/bench/relay-bench.js'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ROUNDS: '1', DUR: '1', CASES: '12:1,64k:16', BIG_MB: '16', SKIP_CLUSTER: '1' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

/** The cells of the table row that starts with these cells. */
function row(out: string, ...first: string[]): string[] | undefined {
  const prefix = `| ${first.join(' | ')} |`;
  const line = out.split('\n').find((l) => l.startsWith(prefix));
  return line
    ?.split('|')
    .slice(1, -1)
    .map((c) => c.trim());
}

describe('npm run bench', () => {
  it('a short run prints every table, every path, relay CPU and no errors', async () => {
    const { code, out } = await runBench();
    expect(code, out).toBe(0);
    const ssh = !out.includes('note: ssh -R skipped');
    const relays = ['raw route', 'invoke', ...(ssh ? ['ssh -R'] : []), 'minimal Node relay', 'Node byte relay'];
    for (const [size, c] of [
      ['12 B', '1'],
      ['64 KiB', '16'],
    ] as const) {
      const direct = row(out, size, c, 'direct');
      expect(direct, out).toBeDefined();
      expect(Number(direct![3])).toBeGreaterThan(0);
      for (const path of relays) {
        const r = row(out, size, c, path);
        expect(r, `${size} c=${c} ${path}\n${out}`).toBeDefined();
        expect(Number(r![3])).toBeGreaterThan(0); // req/s
        expect(r![8]).toMatch(/^\d+ \(\d+ \+ \d+\)$/); // relay CPU per call, split per process
        expect(r![9]).toBe(''); // errors
      }
    }
    for (const kind of ['upload', 'download']) {
      for (const path of ['direct', 'raw route', 'invoke', ...(ssh ? ['ssh -R'] : [])]) {
        const r = row(out, kind, path);
        expect(r, `${kind} ${path}\n${out}`).toBeDefined();
        expect(Number(r![3])).toBeGreaterThan(0); // MiB/s
      }
      expect(Number(row(out, kind, 'raw route')![6])).toBeGreaterThan(0); // hub peak RSS
    }
    // The targets, read off the tables: figures as the tables print them, verdicts that follow from them.
    const target = (start: string) =>
      out
        .split('\n')
        .find((l) => l.startsWith(`- ${start}: `))
        ?.slice(start.length + 4);
    const c1 = target('added p50 at concurrency 1 under 0.3 ms')?.match(/^(-?\d+\.\d{3}) ms: (met|missed)$/);
    expect(c1, out).toBeTruthy();
    expect(c1![1]).toBe(row(out, '12 B', '1', 'raw route')![7]);
    expect(c1![2]).toBe(Number(c1![1]) < 0.3 ? 'met' : 'missed');
    expect(target('12 B at concurrency 16 ahead of ssh -R'), out).toMatch(/^not measured/); // no 12:16 case in this run
    const k64 = target('64 KiB ahead of ssh -R');
    const big = target('16 MiB bodies ahead of ssh -R');
    if (!ssh) {
      expect(k64).toMatch(/^not measured/);
      expect(big).toMatch(/^not measured/);
    } else {
      const m = k64?.match(/^concurrency 16 (\d+\.\d\d) against (\d+\.\d\d): (met|missed)$/);
      expect(m, out).toBeTruthy();
      expect([m![1], m![2]]).toEqual([row(out, '64 KiB', '16', 'raw route')![4], row(out, '64 KiB', '16', 'ssh -R')![4]]);
      expect(m![3]).toBe(Number(m![1]) > Number(m![2]) ? 'met' : 'missed');
      const b = big?.match(/^upload (\d+\.\d\d) against (\d+\.\d\d), download (\d+\.\d\d) against (\d+\.\d\d): (met|missed)$/);
      expect(b, out).toBeTruthy();
      expect(b!.slice(1, 5)).toEqual([
        row(out, 'upload', 'raw route')![4],
        row(out, 'upload', 'ssh -R')![4],
        row(out, 'download', 'raw route')![4],
        row(out, 'download', 'ssh -R')![4],
      ]);
      expect(b![5]).toBe(Number(b![1]) > Number(b![2]) && Number(b![3]) > Number(b![4]) ? 'met' : 'missed');
    }
  }, 180_000);
});
