// A warm loop over the URL checks every call runs (the hub's resolveTarget, the agent's isAllowed): ns per call,
// best of ROUNDS rounds of N calls, for a few target shapes. Build with `tsc -p bench`.
//
//   node bench/dist/bench/url-check.js                      this checkout's packages/shared build
//   ALT=/path/to/shared/dist/index.js node bench/...         also another build of shared, interleaved (A/B in one run)
//   N=200000 ROUNDS=8 taskset -c 1 node bench/...
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import * as here from '@gatehouse/shared';

type Checks = Pick<typeof here, 'resolveTarget' | 'isAllowed'>;

const N = Number(process.env.N ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const BASE = 'http://127.0.0.1:8080/api/v1';
const PREFIXES = [new URL(`${BASE}/`)];

// The shapes: a plain path (no '%', ';', '.' or non-ASCII: the common case), a file name with a dot, a path with
// escapes, and a query (not judged by the path rule).
const TARGETS: Array<[string, string]> = [
  ['plain', 'items/42/children'],
  ['dotted name', 'items/42/report.json'],
  ['escapes', 'items/a%20b/caf%C3%A9'],
  ['query', 'items?filter=a.b%2e&x=1'],
];

function loop(checks: Checks, which: 'hub' | 'agent', target: string): number {
  const absolute = `${BASE}/${target}`;
  let ok = 0;
  const t0 = performance.now();
  if (which === 'hub') for (let i = 0; i < N; i++) ok += checks.resolveTarget(BASE, target).ok ? 1 : 0;
  else for (let i = 0; i < N; i++) ok += checks.isAllowed(absolute, PREFIXES).ok ? 1 : 0;
  const ns = ((performance.now() - t0) * 1e6) / N;
  if (ok !== N) throw new Error(`${which} refused ${target}`);
  return ns;
}

async function main(): Promise<void> {
  const builds: Array<[string, Checks]> = [['this', here]];
  if (process.env.ALT) builds.push(['alt', (await import(pathToFileURL(process.env.ALT).href)) as Checks]);
  const best = new Map<string, number>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, checks] of builds) {
      for (const which of ['hub', 'agent'] as const) {
        for (const [shape, target] of TARGETS) {
          const key = `${name}\t${which}\t${shape}`;
          const ns = loop(checks, which, target);
          best.set(key, Math.min(best.get(key) ?? Infinity, ns));
        }
      }
    }
  }
  process.stdout.write(`build\tcheck\tshape\tns/call (best of ${ROUNDS} x ${N})\n`);
  for (const [key, ns] of best) process.stdout.write(`${key}\t${ns.toFixed(0)}\n`);
}

void main();
