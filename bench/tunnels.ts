// npm run bench:tunnels: the scale of one hub. A real hub (single node, SQLite, the fake Entra ID) holds TUNNELS
// idle agent tunnels (default 10,000) from a light agent simulator in its own process (bench/tunnel-sim.ts, the
// real protocol); the bench reports the hub's RSS idle, with the tunnels and per tunnel. Then it restarts the hub
// (stop, start on the same port and database) and reports how long until every tunnel is back online (the
// simulator reconnects on the agent's backoff-with-jitter schedule), while a load loop calls a few gateways whose
// members the simulator also holds: calls served and failed (by code) during the storm, and their latency.
// Loopback only; everything stops by itself within TIMEOUT_S (default 300).
//
// Environment: TUNNELS (default 10000), TIMEOUT_S (default 300), FILL (initial connections per second, default
// 500), CALL_GATEWAYS (gateways the load loop calls, default 4), CALLERS (concurrent calls, default 4), IDLE_S
// (seconds the tunnels idle before the RSS is read, default 12: a heartbeat cycle), GATEHOUSE_AGENT_PENDING_MAX
// (passed to the hub).
// The last line printed is `result {json}` (TunnelsResult), which test/suites/tunnels.test.ts reads.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { api, killLeftovers, setLineLimit, setProcessPrefix, startHub, startProc, type HubProc, type Proc } from '../test/helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../test/helpers/tmp.js';
import { storeFleet } from './tunnel-fleet.js';
import type { SimStatus } from './tunnel-sim.js';

// One process holds TUNNELS sockets (the simulator) and the hub as many: raise the open-file limit for both
// (root may raise the hard limit; anyone else gets the hard limit) by running again under the raised limit.
if (!process.env.GATEHOUSE_TUNNELS_ULIMIT) {
  const r = spawnSync('sh', ['-c', 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, GATEHOUSE_TUNNELS_ULIMIT: '1' },
  });
  process.exit(r.status ?? 1);
}

const N = Number(process.env.TUNNELS ?? 10_000);
const TIMEOUT_MS = Number(process.env.TIMEOUT_S ?? 300) * 1000;
const FILL = Number(process.env.FILL ?? 500);
const CALL_GATEWAYS = Number(process.env.CALL_GATEWAYS ?? 4);
const CALLERS = Number(process.env.CALLERS ?? 4);
const IDLE_S = Number(process.env.IDLE_S ?? 12);
/** The load loop's bounds: calls in all, and a pause between one caller's calls. */
const MAX_CALLS = 50_000;
const CALL_PAUSE_MS = 10;
const started = performance.now();
const log = (s: string) => process.stdout.write(`${s}\n`);
const since = (t: number) => (performance.now() - t) / 1000;

export interface TunnelsResult {
  tunnels: number;
  rssIdleMiB: number;
  rssTunnelsMiB: number;
  rssPerTunnelKiB: number;
  /** Hub CPU while the tunnels idle, % of one core. */
  idleCpuPercent: number;
  /** CPU seconds the restarted hub used until every tunnel was back. */
  stormCpuSeconds: number;
  fillSeconds: number;
  /** Tunnels online before the restart (TUNNELS unless the fill ran out of time). */
  heldBeforeRestart: number;
  /** CPU seconds the hub used to bring them online. */
  fillCpuSeconds: number;
  /** From the restarted hub listening again to half, 90 % of the tunnels online. */
  halfBackSeconds: number;
  mostBackSeconds: number;
  /** From the restarted hub listening again to every tunnel online. */
  backOnlineSeconds: number;
  /** From the stop signal to every tunnel online. */
  restartSeconds: number;
  online: number;
  calls: { ok: number; failed: Record<string, number>; p50Ms: number; p99Ms: number; maxMs: number; okAfterRestart: number };
  sim: SimStatus;
  hubRestarted: boolean;
}

const hardStop = setTimeout(() => {
  log(`bench:tunnels: over the ${TIMEOUT_MS / 1000} s limit; stopping everything`);
  killLeftovers();
  cleanupTempDirs();
  process.exit(3);
}, TIMEOUT_MS);
hardStop.unref();

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100;
}

function lastStatus(sim: Proc): SimStatus | undefined {
  for (let i = sim.lines.length - 1; i >= 0; i--) if (sim.lines[i]!.startsWith('sim ')) return JSON.parse(sim.lines[i]!.slice(4)) as SimStatus;
  return undefined;
}

/** Waits until `online()` reaches N or `limitMs` passes, printing `progress()` every 5 s; returns the seconds at
 *  which half, 90 % and all of the tunnels were online (NaN for a mark not reached). The simulator's counts lag
 *  (its own event loop is busy in a storm): marks count only once fewer than half were seen online. */
async function until(online: () => number, limitMs: number, progress: () => string): Promise<{ half: number; most: number; all: number }> {
  const t = performance.now();
  const marks = { half: NaN, most: NaN, all: NaN };
  let shown = t;
  let dropped = false;
  for (;;) {
    const n = online();
    dropped ||= n < N / 2;
    if (!dropped && performance.now() - t < limitMs) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (n >= N / 2 && Number.isNaN(marks.half)) marks.half = since(t);
    if (n >= N * 0.9 && Number.isNaN(marks.most)) marks.most = since(t);
    if (n >= N) {
      marks.all = since(t);
      return marks;
    }
    if (performance.now() - t > limitMs) {
      log(`  not all online within ${(limitMs / 1000).toFixed(0)} s: ${progress()}`);
      return marks;
    }
    if (performance.now() - shown > 5000) {
      shown = performance.now();
      log(`  ${since(t).toFixed(0)} s: ${progress()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Load {
  ok: number;
  okAfter: number;
  failed: Record<string, number>;
  latencies: number[];
  stop: boolean;
  restartedAt: number;
}

/** CALLERS loops calling the raw route of the call gateways' connections in turn, until told to stop. */
async function loadLoop(hubUrl: string, token: string, connections: string[], load: Load): Promise<void> {
  let n = 0;
  const one = async (): Promise<void> => {
    while (!load.stop && n < MAX_CALLS) {
      const conn = connections[n++ % connections.length]!;
      const t = performance.now();
      let code: string;
      try {
        const r = await request(`${hubUrl}/v1/connections/${conn}/proxy/`, {
          headers: { authorization: `Bearer ${token}` },
          headersTimeout: 15_000,
          bodyTimeout: 15_000,
        });
        const text = await r.body.text();
        code =
          r.statusCode === 200 && text === 'hello, world' ? 'ok' : `${r.statusCode} ${(JSON.parse(text) as { error?: { code?: string } }).error?.code ?? '?'}`;
      } catch (err) {
        code = (err as NodeJS.ErrnoException).code ?? 'error';
      }
      if (code === 'ok') {
        load.ok++;
        if (load.restartedAt && t > load.restartedAt) load.okAfter++;
        load.latencies.push(performance.now() - t);
      } else {
        load.failed[code] = (load.failed[code] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, 100)); // a refused call is not retried in a tight loop
      }
      await new Promise((r) => setTimeout(r, CALL_PAUSE_MS));
    }
  };
  await Promise.all(Array.from({ length: CALLERS }, one));
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

async function main(): Promise<void> {
  setLineLimit(5_000); // the hub logs a line per connect: keep the harness's memory flat
  const dir = tempDir('gatehouse-tunnels-');
  // Every agent dials from 127.0.0.1 here, standing for 10,000 machines: the per-address cap does not apply.
  const env: Record<string, string> = {
    GATEHOUSE_THROTTLE: '1000000000/60s',
    GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: '0',
    // One tenant's 10,000 tunnels on one hub: the per-tenant cap does not apply either.
    GATEHOUSE_MAX_TUNNELS_PER_TENANT: '0',
  };
  if (process.env.GATEHOUSE_AGENT_PENDING_MAX) env.GATEHOUSE_AGENT_PENDING_MAX = process.env.GATEHOUSE_AGENT_PENDING_MAX;
  // PROFILE=dir: the hubs and the simulator write CPU profiles there as they stop.
  if (process.env.PROFILE) setProcessPrefix(['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-dir=${process.env.PROFILE} "$@"`]);
  log(`bench:tunnels: ${N} tunnels on one hub; node ${process.version}`);
  let t = performance.now();
  const fleet = await storeFleet(join(dir, 'hub.db'), Math.max(0, N - CALL_GATEWAYS));
  log(`stored ${fleet.length} members in ${since(t).toFixed(1)} s`);
  const entra = await startFakeEntra();
  let hub: HubProc = await startHub(entra, env, { dbDir: dir });
  let sim: Proc | undefined;
  try {
    const token = await entra.token({}, { expSec: 3600 });
    // The gateways the load loop calls: made through the admin and agent APIs, as a real owner does.
    const publicKeyPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const callers: string[] = [];
    const connections: string[] = [];
    for (let i = 0; i < Math.min(CALL_GATEWAYS, N); i++) {
      const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: `called-${i}` });
      const reg = await api(hub.url, undefined, 'POST', '/v1/agent/register', {
        gatewayId: gw.json.id,
        registrationKey: gw.json.registrationKey,
        name: 'sim',
        publicKeyPem,
        sealedPrivateKey: 'sealed',
      });
      if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
      callers.push(reg.json.credential as string);
      const c = await api(hub.url, token, 'POST', '/v1/connections', {
        authType: 'AnonymousGateway',
        baseResourceUrl: 'http://127.0.0.1:9',
        gatewayId: gw.json.id,
        timeoutSeconds: 10,
      });
      if (c.status !== 201) throw new Error(`connection: ${c.status} ${c.text}`);
      connections.push(c.json.id as string);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const rssIdle = rssMiB(hub.child.pid!);
    log(`hub RSS idle: ${rssIdle.toFixed(1)} MiB`);

    // The call gateways' members spread through the fleet, so they reconnect among the others.
    const all = [...fleet];
    for (const [i, c] of callers.entries()) all.splice(Math.floor(((i + 0.5) * all.length) / callers.length), 0, c);
    const file = join(dir, 'credentials');
    writeFileSync(file, `${all.join('\n')}\n`, { mode: 0o600 });
    t = performance.now();
    sim = startProc([new URL('./tunnel-sim.js', import.meta.url).pathname, String(hub.port), file, String(FILL), String(TIMEOUT_MS)], {});
    const s = sim;
    let cpuAt = { t: performance.now(), hub: 0, sim: 0, hubPid: 0 };
    const cpuShare = () => {
      const now = { t: performance.now(), hub: cpuSeconds(hub.child.pid!), sim: cpuSeconds(s.child.pid!), hubPid: hub.child.pid! };
      const dt = (now.t - cpuAt.t) / 1000;
      const out =
        now.hubPid === cpuAt.hubPid
          ? `hub ${(((now.hub - cpuAt.hub) / dt) * 100).toFixed(0)} % CPU, simulator ${(((now.sim - cpuAt.sim) / dt) * 100).toFixed(0)} %; `
          : '';
      cpuAt = now;
      return out;
    };
    const progress = () => {
      const st = lastStatus(s);
      return st
        ? `${cpuShare()}${st.online} online; refused ${JSON.stringify(st.refused)}, closes ${JSON.stringify(st.closes)}, errors ${JSON.stringify(st.errors)}`
        : 'no simulator status yet';
    };
    const online = () => lastStatus(s)?.online ?? 0;
    const cpuFill0 = cpuSeconds(hub.child.pid!);
    const fillSeconds = (await until(online, Math.max(120_000, (N / FILL) * 4000), progress)).all;
    const held = online();
    const fillCpuSeconds = cpuSeconds(hub.child.pid!) - cpuFill0;
    log(
      `${held} tunnels online${Number.isNaN(fillSeconds) ? '' : ` in ${fillSeconds.toFixed(1)} s`}; the hub used ${fillCpuSeconds.toFixed(1)} CPU s (${((fillCpuSeconds * 1000) / Math.max(held, 1)).toFixed(2)} ms per tunnel)`,
    );
    // Idle: a full heartbeat cycle (every tunnel pinged both ways; IDLE_S), then the RSS.
    const cpuIdle0 = cpuSeconds(hub.child.pid!);
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const idleCpuPercent = ((cpuSeconds(hub.child.pid!) - cpuIdle0) / IDLE_S) * 100;
    const rssTunnels = rssMiB(hub.child.pid!);
    const perTunnelKiB = ((rssTunnels - rssIdle) * 1024) / held;
    log(
      `hub RSS with ${held} tunnels: ${rssTunnels.toFixed(1)} MiB (${perTunnelKiB.toFixed(1)} KiB per tunnel); hub CPU while they idle ${idleCpuPercent.toFixed(1)} % of a core`,
    );

    // The storm: stop the hub and start it again on the same port and database, calls running throughout.
    const load: Load = { ok: 0, okAfter: 0, failed: {}, latencies: [], stop: false, restartedAt: 0 };
    const loop = loadLoop(hub.url, token, connections, load);
    await new Promise((r) => setTimeout(r, 1000));
    const stopAt = performance.now();
    await hub.stop();
    log(`hub stopped in ${since(stopAt).toFixed(1)} s`);
    hub = await startHub(entra, env, { port: hub.port, dbDir: dir });
    const listeningAt = performance.now();
    load.restartedAt = listeningAt;
    log(`hub listening again ${since(stopAt).toFixed(1)} s after the stop signal`);
    const cpuStorm0 = cpuSeconds(hub.child.pid!);
    const back = await until(online, Math.max(30_000, TIMEOUT_MS - (performance.now() - started) - 20_000), progress);
    const backOnline = back.all;
    const restartSeconds = since(stopAt);
    const stormCpuSeconds = hub.child.exitCode === null ? cpuSeconds(hub.child.pid!) - cpuStorm0 : NaN;
    await new Promise((r) => setTimeout(r, 2000));
    load.stop = true;
    await loop;
    const status = lastStatus(s)!;
    log(`after the hub listened again: half back in ${back.half.toFixed(1)} s, 90 % in ${back.most.toFixed(1)} s, all in ${backOnline.toFixed(1)} s`);
    log(
      `all back online ${backOnline.toFixed(1)} s after the hub listened again (${restartSeconds.toFixed(1)} s after the stop signal); ${status.online}/${N} online; the restarted hub used ${stormCpuSeconds.toFixed(1)} CPU s till then`,
    );
    log(
      `simulator: upgrades refused ${JSON.stringify(status.refused)}, closes ${JSON.stringify(status.closes)}, connect errors ${JSON.stringify(status.errors)}`,
    );
    const result: TunnelsResult = {
      tunnels: N,
      rssIdleMiB: round(rssIdle),
      rssTunnelsMiB: round(rssTunnels),
      rssPerTunnelKiB: round(perTunnelKiB),
      idleCpuPercent: round(idleCpuPercent),
      stormCpuSeconds: round(stormCpuSeconds),
      fillSeconds: round(fillSeconds),
      backOnlineSeconds: round(backOnline),
      restartSeconds: round(restartSeconds),
      online: status.online,
      calls: {
        ok: load.ok,
        failed: load.failed,
        p50Ms: round(pct(load.latencies, 0.5)),
        p99Ms: round(pct(load.latencies, 0.99)),
        maxMs: round(pct(load.latencies, 1)),
        okAfterRestart: load.okAfter,
      },
      sim: status,
      hubRestarted: hub.child.exitCode === null,
      heldBeforeRestart: held,
      fillCpuSeconds: round(fillCpuSeconds),
      halfBackSeconds: round(back.half),
      mostBackSeconds: round(back.most),
    };
    log(
      `calls during the storm: ${load.ok} ok (${load.okAfter} after the restart), failed ${JSON.stringify(load.failed)}; latency of the served p50 ${result.calls.p50Ms} ms, p99 ${result.calls.p99Ms} ms, max ${result.calls.maxMs} ms`,
    );
    // The targets (issue 23), as this run meets or misses them (at TUNNELS other than 10,000: scaled per tunnel).
    const rssAt10k = rssIdle + (perTunnelKiB * 10_000) / 1024;
    log(
      `- 10,000 idle tunnels under 1 GiB RSS: ${rssAt10k.toFixed(0)} MiB${N === 10_000 ? '' : ' (scaled from this run)'}: ${rssAt10k < 1024 ? 'met' : 'missed'}`,
    );
    log(
      `- all back online within 60 s of the restart: ${Number.isNaN(backOnline) ? 'not all back' : `${backOnline.toFixed(1)} s`}: ${backOnline <= 60 ? 'met' : 'missed'} (hub at ${status.online === N ? '' : 'most '}${round((stormCpuSeconds / Math.max(restartSeconds - (listeningAt - stopAt) / 1000, 0.001)) * 100)} % of a core meanwhile)`,
    );
    log(`result ${JSON.stringify(result)}`);
  } finally {
    await sim?.stop();
    await hub.stop();
    await entra.close();
    cleanupTempDirs();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

main().then(
  () => process.exit(0),
  (err: Error) => {
    log(`bench:tunnels failed: ${err.message}`);
    killLeftovers();
    cleanupTempDirs();
    process.exit(1);
  },
);
