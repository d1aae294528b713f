// What one caller's long lists cost the hub (red team B7): one caller makes N gateways and N connections (the caps
// raised to allow it), then GET /v1/gateways and GET /v1/connections are timed, first page (default top) and
// top=500, median of ROUNDS, with the answer's size. Build with `tsc -p bench`.
// SEALED=1 (red team session 17 F4): the hub is stopped after the creation and every connection given sealed
// credentials of the largest size (11,648 base64 characters, a 4096-bit gateway key's blob) in its SQLite file, then
// started again: what the connection lists cost when the store would hand them the blobs.
//
//   N=3000 ROUNDS=10 node bench/dist/bench/list-cost.js
//   N=1000 ROUNDS=10 SEALED=1 node bench/dist/bench/list-cost.js
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { api, startHub } from '../test/helpers/stack.js';
import { cleanupTempDirs } from '../test/helpers/tmp.js';

const N = Number(process.env.N ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const SEALED = process.env.SEALED === '1';

const entra = await startFakeEntra();
const env = {
  GATEHOUSE_THROTTLE: '1000000/60s',
  GATEHOUSE_MAX_GATEWAYS_PER_CALLER: String(N + 1),
  GATEHOUSE_MAX_GATEWAYS_PER_TENANT: String(N + 1),
  GATEHOUSE_MAX_CONNECTIONS_PER_CALLER: String(N + 1),
  GATEHOUSE_MAX_CONNECTIONS_PER_TENANT: String(N + 1),
  // It creates thousands of objects in seconds: the management API rate raised.
  GATEHOUSE_API_RATE: '100000000/60s',
  GATEHOUSE_API_TENANT_RATE: '100000000/60s',
};
let hub = await startHub(entra, env);
try {
  const token = await entra.token();
  const t0 = performance.now();
  let gatewayId = '';
  for (let i = 0; i < N; i++) gatewayId = (await api(hub.url, token, 'POST', '/v1/gateways', { name: `g${i}` })).json.id;
  for (let i = 0; i < N; i++)
    await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: 'http://127.0.0.1:9/', gatewayId });
  console.log(`created ${N} gateways and ${N} connections in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (SEALED) {
    await hub.stop();
    const db = new Database(join(hub.dbDir, 'hub.db'));
    db.prepare('UPDATE connections SET sealed_credentials = ?').run('A'.repeat(11_648));
    db.close();
    hub = await startHub(entra, env, { port: hub.port, dbDir: hub.dbDir });
    console.log('every connection given 11,648 characters of sealed credentials');
  }
  for (const path of ['/v1/gateways', '/v1/gateways?top=500', '/v1/connections', '/v1/connections?top=500']) {
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const s = performance.now();
      const res = await request(`${hub.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      bytes = (await res.body.arrayBuffer()).byteLength;
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    console.log(`${path.padEnd(26)} median ${times[Math.floor(times.length / 2)]!.toFixed(1).padStart(7)} ms  ${(bytes / 1024).toFixed(0)} KB`);
  }
} finally {
  await hub.stop();
  await entra.close();
  cleanupTempDirs();
}
