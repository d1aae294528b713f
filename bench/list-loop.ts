// What one caller looping the management API costs another tenant (issue 22; red team session 17: four loops of
// GET /v1/connections over 1,000 connections took another tenant's p50 from 2.9 to 749 ms). Two hubs in one run, the
// same data: one with the default management API rate (GATEHOUSE_API_RATE, GATEHOUSE_API_TENANT_RATE), one with it
// raised out of reach. On each: tenant V invokes its echo service through its real agent, one call at a time, for
// SECONDS alone, then for SECONDS while tenant X's caller (N connections, sealed credentials of the largest size)
// runs CONC loops of GET /v1/connections. Printed: V's p50/p95, X's answers by status. Build with `tsc -p bench`.
//
//   N=1000 CONC=4 SECONDS=8 node bench/dist/bench/list-loop.js
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { startEchoServer } from '../test/helpers/echo-server.js';
import { api, gatewayWithAgent, startHub } from '../test/helpers/stack.js';
import { cleanupTempDirs } from '../test/helpers/tmp.js';

const N = Number(process.env.N ?? 1000);
const CONC = Number(process.env.CONC ?? 4);
const SECONDS = Number(process.env.SECONDS ?? 8);
const TENANT_X = 'cccccccc-0000-4000-8000-00000000000c';

const entra = await startFakeEntra();
const echo = await startEchoServer();
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? Number.NaN;

async function run(label: string, rate: Record<string, string>): Promise<void> {
  const base = { GATEHOUSE_THROTTLE: '1000000/60s', GATEHOUSE_MAX_CONNECTIONS_PER_CALLER: String(N + 1) };
  // Made with the rate out of reach, then started again with the rate under test.
  let hub = await startHub(entra, { ...base, GATEHOUSE_API_RATE: '100000000/60s', GATEHOUSE_API_TENANT_RATE: '100000000/60s' });
  const vToken = await entra.token();
  const xToken = await entra.token({ tid: TENANT_X, oid: 'cccccccc-0000-4000-8000-000000000001' });
  const gx = (await api(hub.url, xToken, 'POST', '/v1/gateways', { name: 'x' })).json.id as string;
  for (let i = 0; i < N; i++)
    await api(hub.url, xToken, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: 'http://127.0.0.1:9/', gatewayId: gx });
  await hub.stop();
  const db = new Database(join(hub.dbDir, 'hub.db'));
  db.prepare('UPDATE connections SET sealed_credentials = ?').run('A'.repeat(11_648));
  db.close();
  hub = await startHub(entra, { ...base, ...rate }, { port: hub.port, dbDir: hub.dbDir });
  const v = await gatewayWithAgent(hub.url, vToken, [`${echo.url}/`], 'victim');
  try {
    const vConn = (await api(hub.url, vToken, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: v.gatewayId }))
      .json.id;
    const victim = async (ms: number) => {
      const times: number[] = [];
      const until = performance.now() + ms;
      while (performance.now() < until) {
        const t0 = performance.now();
        const r = await api(hub.url, vToken, 'POST', `/v1/connections/${vConn}/invoke`, { method: 'GET', url: 'echo/x' });
        if (r.status !== 200) throw new Error(`victim call ${r.status}`);
        times.push(performance.now() - t0);
      }
      return times;
    };
    const alone = await victim(SECONDS * 1000);
    const statuses: Record<number, number> = {};
    let stop = false;
    const loops = Array.from({ length: CONC }, async () => {
      while (!stop) {
        const r = await request(`${hub.url}/v1/connections`, { headers: { authorization: `Bearer ${xToken}` } });
        await r.body.arrayBuffer();
        statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
        // A client that honours Retry-After would wait; a hostile one does not.
      }
    });
    const during = await victim(SECONDS * 1000);
    stop = true;
    await Promise.all(loops);
    console.log(
      `${label.padEnd(34)} V alone p50 ${q(alone, 0.5).toFixed(1)} ms p95 ${q(alone, 0.95).toFixed(1)} ms | during X's ${CONC} list loops p50 ${q(during, 0.5).toFixed(1)} ms p95 ${q(during, 0.95).toFixed(1)} ms | X's answers ${JSON.stringify(statuses)}`,
    );
  } finally {
    await v.agent.stop();
    await hub.stop();
  }
}

try {
  console.log(`X: ${N} connections with 11,648 characters of sealed credentials each; ${CONC} loops of GET /v1/connections; ${SECONDS} s each phase`);
  await run('default API rate (1200/60s)', {});
  await run('API rate out of reach', { GATEHOUSE_API_RATE: '100000000/60s', GATEHOUSE_API_TENANT_RATE: '100000000/60s' });
} finally {
  await echo.close();
  await entra.close();
  cleanupTempDirs();
}
