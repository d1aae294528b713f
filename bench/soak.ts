// Memory soak (issue 22, finding 7): the hub's memory under steady load must follow the calls in progress, not
// the calls per minute. Starts the benchmark's backend, a fake Entra ID, the real hub and agent, measures the
// hub's idle RSS, runs wrk on the raw route and on invoke at once for --minutes, then waits 10 s and measures again.
//
//   tsc -p bench && node bench/dist/bench/soak.js [--minutes 8] [--raw 4] [--invoke 2] [--body 3072] [--hub-env NAME=VALUE]…
//
// --raw / --invoke: wrk connections on each route (0 leaves the route out); --body: the invoke request body's
// size in bytes (decoded). Prints idle, peak and after-load RSS (from /proc; after: 10 s and, for the record,
// 30 s after the load), the heap and external memory the hub reports in /metrics at the same moments, and the
// verdict against the target: peak RSS at most 3x idle, and RSS back within 50 MiB of idle 10 s after the load
// stops. Exits 1 when the target is missed.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { api, gatewayWithAgent, killLeftovers, setLineLimit, startHub, startProc } from '../test/helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../test/helpers/tmp.js';

const MiB = 1024 * 1024;
const run = promisify(execFile);
const log = (s: string) => process.stdout.write(`${s}\n`);

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '8' },
    raw: { type: 'string', default: '4' },
    invoke: { type: 'string', default: '2' },
    body: { type: 'string', default: '3072' },
    'hub-env': { type: 'string', multiple: true, default: [] },
  },
});
/** --hub-env NAME=VALUE (repeatable): extra environment for the hub (a setting, or MALLOC_ARENA_MAX=2 and the like). */
const HUB_ENV = Object.fromEntries(values['hub-env'].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const MINUTES = Number(values.minutes);
const RAW_C = Number(values.raw);
const INVOKE_C = Number(values.invoke);
const BODY = Number(values.body);
if (!(MINUTES > 0) || !(RAW_C >= 0) || !(INVOKE_C >= 0) || RAW_C + INVOKE_C === 0 || !(BODY >= 0)) {
  log('usage: soak.js [--minutes N] [--raw CONNECTIONS] [--invoke CONNECTIONS] [--body BYTES]');
  process.exit(2);
}

/** The hub's resident memory by kind of mapping (from /proc/PID/smaps): glibc's main heap ([heap]), anonymous
 *  mappings (V8's pages, malloc's other arenas, thread stacks) and files (code, libraries). */
function rssParts(pid: number): string {
  const parts = { heap: 0, anon: 0, file: 0 };
  let kind: keyof typeof parts = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      kind = head[1] === '[heap]' ? 'heap' : head[1] === '' || head[1]!.startsWith('[') ? 'anon' : 'file';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) parts[kind] += Number(rss[1]) * 1024;
  }
  return `[heap] ${mib(parts.heap)}, anonymous ${mib(parts.anon)}, files ${mib(parts.file)}`;
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;

/** Heap used and external memory as the hub reports them (prom-client's default metrics). */
async function heapOf(hubUrl: string): Promise<{ heap: number; heapTotal: number; external: number }> {
  const text = await (await request(`${hubUrl}/metrics`)).body.text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return {
    heap: read('gatehouse_hub_nodejs_heap_size_used_bytes'),
    heapTotal: read('gatehouse_hub_nodejs_heap_size_total_bytes'),
    external: read('gatehouse_hub_nodejs_external_memory_bytes'),
  };
}

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const wrkPath = execFileSync('sh', ['-c', 'command -v wrk || true'], { encoding: 'utf8' }).trim();
  if (!wrkPath) {
    log('soak: wrk is not installed (apt-get install wrk). Stopping.');
    process.exit(2);
  }
  setLineLimit(2_000);
  const dir = tempDir('gatehouse-soak-');
  const origin = startProc([new URL('./origin.js', import.meta.url).pathname, '0'], {});
  const direct = `http://127.0.0.1:${(await origin.waitForLine((l) => l.startsWith('origin listening'))).split(' ')[2]}`;
  const entra = await startFakeEntra();
  const hub = await startHub(entra, { GATEHOUSE_THROTTLE: '1000000000/60s', ...HUB_ENV });
  const token = await entra.token({}, { expSec: 3 * 3600 });
  const { gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${direct}/`]);
  const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: direct, gatewayId, timeoutSeconds: 600 }))
    .json.id as string;
  const pid = hub.child.pid!;

  const script = join(dir, 'invoke.lua');
  const body = JSON.stringify({ method: 'POST', url: '/', body: Buffer.alloc(BODY, 'z').toString('base64') });
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n`);
  const seconds = Math.max(1, Math.round(MINUTES * 60));
  const wrk = (c: number, target: string, extra: string[] = []) =>
    run(wrkPath, ['-t1', `-c${c}`, `-d${seconds}s`, '-H', `Authorization: Bearer ${token}`, ...extra, target], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const requestsIn = (out: string) => Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errorsIn = (out: string) => Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);

  // Idle: after the stack's own set-up calls, once the hub has settled.
  await new Promise((r) => setTimeout(r, 5_000));
  const idle = rssOf(pid);
  const idleHeap = await heapOf(hub.url);
  log(
    `soak: ${MINUTES} min, raw route at ${RAW_C} connections + invoke at ${INVOKE_C} (${BODY}-byte bodies); node ${process.version}${values['hub-env'].length ? `; hub env ${values['hub-env'].join(' ')}` : ''}`,
  );
  const idleParts = rssParts(pid);
  log(`idle:   RSS ${mib(idle)}, heap ${mib(idleHeap.heap)} of ${mib(idleHeap.heapTotal)}, external ${mib(idleHeap.external)}`);

  let peak = idle;
  let peakHeap = idleHeap;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, 500);
  const heapSampler = setInterval(() => {
    void heapOf(hub.url).then(
      (h) => {
        if (h.heap + h.external > peakHeap.heap + peakHeap.external) peakHeap = h;
      },
      () => {},
    );
  }, 5_000);
  const [rawOut, invokeOut] = await Promise.all([
    RAW_C > 0 ? wrk(RAW_C, `${hub.url}/v1/connections/${conn}/proxy/`).then((r) => r.stdout) : Promise.resolve(''),
    INVOKE_C > 0 ? wrk(INVOKE_C, `${hub.url}/v1/connections/${conn}/invoke`, ['-s', script]).then((r) => r.stdout) : Promise.resolve(''),
  ]);
  clearInterval(heapSampler);
  await new Promise((r) => setTimeout(r, 10_000));
  clearInterval(sampler);
  const after = rssOf(pid);
  const afterHeap = await heapOf(hub.url);
  log(`load:   raw ${requestsIn(rawOut)} calls (${errorsIn(rawOut)} non-2xx), invoke ${requestsIn(invokeOut)} calls (${errorsIn(invokeOut)} non-2xx)`);
  log(
    `peak:   RSS ${mib(peak)} (${(peak / idle).toFixed(2)}x idle), heap ${mib(peakHeap.heap)} of ${mib(peakHeap.heapTotal)}, external ${mib(peakHeap.external)} (largest sample)`,
  );
  const afterParts = rssParts(pid);
  log(
    `after:  RSS ${mib(after)} 10 s after the load (${after >= idle ? '+' : ''}${mib(after - idle)} on idle), heap ${mib(afterHeap.heap)} of ${mib(afterHeap.heapTotal)}, external ${mib(afterHeap.external)}`,
  );
  // For the record (not the target): where it is 20 s later, when V8 has usually collected the load's garbage.
  await new Promise((r) => setTimeout(r, 20_000));
  const later = rssOf(pid);
  const laterHeap = await heapOf(hub.url);
  log(
    `later:  RSS ${mib(later)} 30 s after the load (${later >= idle ? '+' : ''}${mib(later - idle)} on idle), heap ${mib(laterHeap.heap)} of ${mib(laterHeap.heapTotal)}, external ${mib(laterHeap.external)}`,
  );
  log(`resident by mapping: idle ${idleParts}; 10 s after ${afterParts}`);
  const ok = peak <= 3 * idle && after - idle <= 50 * MiB;
  log(`verdict: ${ok ? 'PASS' : 'FAIL'} (target: peak at most 3x idle, back within 50 MiB of idle 10 s after)`);

  await agent.stop();
  await hub.stop();
  await origin.stop();
  await entra.close();
  cleanupTempDirs();
  process.exit(ok ? 0 : 1);
}

// A failed run leaves no hub, agent or backend behind.
main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).stack}\n`);
  killLeftovers();
  process.exit(1);
});
