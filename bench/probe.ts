// A quick A/B probe (not the benchmark): starts the benchmark's backend, a fake Entra ID, the real hub and
// agent (all pinned to CPU 0, this process and wrk to CPU 1), then prints per-process CPU per request and
// context switches from /proc for wrk runs and/or 256 MiB transfers through the raw route. Compare only
// figures of one invocation: this machine's speed drifts by minutes. Build with `tsc -p bench`.
//
//   T=direct,raw C=1,16 DUR=4 node bench/dist/bench/probe.js     wrk runs (target x concurrency, in order; targets:
//                                                                 direct, raw, healthz = the hub's /healthz, conn =
//                                                                 GET /v1/connections/{id} (token, ownership, JSON),
//                                                                 min = bench/min-relay.ts, the reference)
//   SUFFIX=64k                                                    path after the base ("" = 12 bytes, 64k, big?mb=N)
//   BIG=down,up,down T= node bench/dist/bench/probe.js            256 MiB transfers (MiB/s, CPU per MiB, hub full GCs)
//   WRAP=/path/to/script                                          prefix for every process (after taskset), e.g. a
//                                                                 script that adds node flags: exec "$1" --flag "${@:2}"
//   HOLD=60                                                       keep the stack up 60 s (for perf record -p)
//   CPU=user (or sys)                                             count only user (or system) CPU time
//   ALT=/path/to/checkout T=raw,alt,raw,alt                       a second hub and agent from another built checkout
//                                                                 (a git worktree at the old commit, `npm ci && npm run
//                                                                 build` there), target `alt`: A/B in one invocation
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { api, gatewayWithAgent, setProcessPrefix, startHub, startProc } from '../test/helpers/stack.js';

const run = promisify(execFile);
const TASKSET = '/usr/bin/taskset';
if (!process.env.GATEHOUSE_PROBE_PINNED) {
  const r = spawnSync(TASKSET, ['-c', '1', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, GATEHOUSE_PROBE_PINNED: '1' },
  });
  process.exit(r.status ?? 1);
}

/** CPU time (user + system, µs; CPU=user or CPU=sys: that part alone) and context switches of a process, from /proc. */
const cpuUs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const [user, sys] = [Number(f[11]), Number(f[12])];
  return ({ user, sys }[process.env.CPU ?? ''] ?? user + sys) * 10_000;
};
const switches = (pid: number) =>
  readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .filter((l) => l.includes('ctxt_switches'))
    .reduce((a, l) => a + Number(l.split(/\s+/)[1]), 0);
const snapshot = (procs: Record<string, number>, f: (pid: number) => number) => Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, f(p)]));

async function main(): Promise<void> {
  setProcessPrefix([TASKSET, '-c', '0', ...(process.env.WRAP ? [process.env.WRAP] : [])]);
  const origin = startProc([new URL('./origin.js', import.meta.url).pathname, '0'], {});
  const direct = `http://127.0.0.1:${(await origin.waitForLine((l) => l.startsWith('origin listening'))).split(' ')[2]}`;
  const entra = await startFakeEntra();
  const hub = await startHub(entra, { GATEHOUSE_THROTTLE: '1000000000/60s', GATEHOUSE_MAX_RAW_BODY: '1GiB' });
  const token = await entra.token({}, { expSec: 3 * 3600 });
  const { gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${direct}/`]);
  const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: direct, gatewayId, timeoutSeconds: 600 }))
    .json.id as string;
  const raw = `${hub.url}/v1/connections/${conn}/proxy/`;
  const altRoot = process.env.ALT;
  const altHub = altRoot
    ? await startHub(entra, { GATEHOUSE_THROTTLE: '1000000000/60s', GATEHOUSE_MAX_RAW_BODY: '1GiB' }, { main: `${altRoot}/packages/hub/dist/main.js` })
    : undefined;
  const altGw = altHub ? await gatewayWithAgent(altHub.url, token, [`${direct}/`], 'alt', [], `${altRoot}/packages/agent/dist/main.js`) : undefined;
  const altConn = altHub
    ? ((
        await api(altHub.url, token, 'POST', '/v1/connections', {
          authType: 'AnonymousGateway',
          baseResourceUrl: direct,
          gatewayId: altGw!.gatewayId,
          timeoutSeconds: 600,
        })
      ).json.id as string)
    : '';
  const alt = altHub ? `${altHub.url}/v1/connections/${altConn}/proxy/` : '';
  const minHub = startProc([new URL('./min-relay.js', import.meta.url).pathname, 'hub'], {});
  const minPort = (await minHub.waitForLine((l) => l.startsWith('min-relay hub'))).split(' ').slice(2).map(Number);
  const minAgent = startProc([new URL('./min-relay.js', import.meta.url).pathname, 'agent', String(minPort[1]), direct], {});
  await minAgent.waitForLine((l) => l.includes('connected'));
  const procs: Record<string, number> = {
    hub: hub.child.pid!,
    agent: agent.child.pid!,
    origin: origin.child.pid!,
    minHub: minHub.child.pid!,
    minAgent: minAgent.child.pid!,
  };
  if (altHub) Object.assign(procs, { altHub: altHub.child.pid!, altAgent: altGw!.agent.child.pid! });
  console.log('pids', JSON.stringify(procs), 'raw route', raw);
  const auth = { authorization: `Bearer ${token}` };

  /** The hub's full (mark-compact) collections so far, from its /metrics: many per download is the slow regime. */
  const majorGcs = async () =>
    Number(/^gatehouse_hub_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)/m.exec(await (await request(`${hub.url}/metrics`)).body.text())?.[1] ?? 0);
  for (const kind of (process.env.BIG ?? '').split(',').filter(Boolean)) {
    const gcs = await majorGcs();
    const before = snapshot(procs, cpuUs);
    const started = performance.now();
    if (kind === 'down') {
      const r = await request(`${raw}big?mb=256`, { headers: auth });
      for await (const _ of r.body) {
        /* drain */
      }
    } else {
      const chunk = Buffer.alloc(1024 * 1024, 'u');
      const r = await request(`${raw}upload`, {
        method: 'POST',
        headers: { ...auth, 'content-length': String(256 * 1024 * 1024) },
        body: Readable.from(
          (function* () {
            for (let i = 0; i < 256; i++) yield chunk;
          })(),
        ),
      });
      await r.body.text();
    }
    const secs = (performance.now() - started) / 1000;
    console.log(
      `${kind}: ${(256 / secs).toFixed(0)} MiB/s; CPU µs per MiB: ${Object.entries(procs)
        .map(([k, p]) => `${k} ${((cpuUs(p) - before[k]!) / 256).toFixed(0)}`)
        .join(', ')}; hub full GCs ${(await majorGcs()) - gcs}`,
    );
  }

  for (const target of (process.env.T ?? 'direct,raw').split(',').filter(Boolean)) {
    for (const c of (process.env.C ?? '1,16').split(',')) {
      const base = { direct: `${direct}/`, raw, alt, min: `http://127.0.0.1:${minPort[0]}/` }[target];
      const url = target === 'healthz' ? `${hub.url}/healthz` : target === 'conn' ? `${hub.url}/v1/connections/${conn}` : base + (process.env.SUFFIX ?? '');
      const cpu0 = snapshot(procs, cpuUs);
      const cs0 = snapshot(procs, switches);
      const { stdout: out } = await run('wrk', ['-t1', `-c${c}`, `-d${process.env.DUR ?? 4}s`, '--latency', '-H', `Authorization: Bearer ${token}`, url]);
      const n = Number(/(\d+) requests in/.exec(out)![1]);
      const per = Object.entries(procs)
        .map(([k, p]) => `${k} ${((cpuUs(p) - cpu0[k]!) / n).toFixed(0)} µs / ${((switches(p) - cs0[k]!) / n).toFixed(1)} cs`)
        .join(', ');
      console.log(
        `${target} c=${c}: ${Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]).toFixed(0)} req/s, p50 ${/\s50%\s+(\S+)/.exec(out)![1]}; per request: ${per}`,
      );
    }
  }
  if (process.env.HOLD) {
    console.log(`holding ${process.env.HOLD} s; token:`, token);
    await new Promise((r) => setTimeout(r, Number(process.env.HOLD) * 1000));
  }
  await altGw?.agent.stop();
  await altHub?.stop();
  await minAgent.stop();
  await minHub.stop();
  await agent.stop();
  await hub.stop();
  await origin.stop();
  await entra.close();
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
