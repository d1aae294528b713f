// What one audit retention statement costs on SQLite, where it runs on the hub's thread (better-sqlite3 is
// synchronous): N records stored through the store's audit.insert, a page of 51 read from the middle, then all
// deleted through audit.deleteBefore B at a time (B = N: one statement for all of them). Prints one JSON line.
//
//   npx tsc -p bench && N=200000 B=1000 node bench/dist/bench/audit-retention.js
import { join } from 'node:path';
import { cleanupTempDirs, tempDir } from '../test/helpers/tmp.js';

// The hub's own store (not exported by the package); this file runs from bench/dist/bench/.
const { openSqliteStore } = (await import(
  new URL('../../../packages/hub/dist/store/sqlite.js', import.meta.url).href
)) as typeof import('../packages/hub/dist/store/sqlite.js');

const n = Number(process.env.N ?? 200_000);
const batch = Number(process.env.B ?? 1000);
const store = openSqliteStore(join(tempDir(), 'audit.db'));
const base = Date.UTC(2026, 0, 1);
const gatewayId = '95eae104-37cf-45cd-b307-f5de9a7bf5a3';
const connectionId = 'cdbb3563-84e5-48c1-afca-07db5cba5a84';
let t = performance.now();
for (let i = 0; i < n; i++) {
  const ms = base + i * 1000;
  await store.audit.insert({
    id: `${String(ms).padStart(15, '0')}000000${String(i % 1e8).padStart(8, '0')}`,
    time: new Date(ms).toISOString(),
    actor: { type: 'User', tid: 'aaaaaaaa-0000-4000-8000-000000000001', oid: '0000aaaa-1111-4111-8111-000000000001' },
    action: 'connection.update',
    target: { type: 'connection', id: connectionId },
    gatewayId,
    connectionId,
    details: { changed: ['displayName', 'username', 'password'] },
  });
}
const insertMsEach = (performance.now() - t) / n;
t = performance.now();
const page = await store.audit.page({ gatewayId }, `${String(base + (n / 2) * 1000).padStart(15, '0')}00000000000000`, 51);
const pageMs = performance.now() - t;
const times: number[] = [];
const cut = new Date(base + n * 1000).toISOString();
for (let deleted = batch; deleted === batch; ) {
  t = performance.now();
  deleted = await store.audit.deleteBefore(cut, batch);
  if (deleted > 0) times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
const round = (x: number) => Math.round(x * 100) / 100;
console.log(
  JSON.stringify({
    records: n,
    batch,
    statements: times.length,
    medianMs: round(times[times.length >> 1]!),
    slowestMs: round(times.at(-1)!),
    insertMsEach: round(insertMsEach),
    pageOf51Ms: round(pageMs),
    pageRows: page.length,
  }),
);
await store.close();
cleanupTempDirs();
