// What a hub of a cluster reads every 5 s to apply member changes made through other hubs (member-sync.ts):
// one read for all the members connected to it, against the one read per gateway it made before. Starts a
// throwaway PostgreSQL on loopback (and, for comparison, a SQLite file, which a cluster does not use), stores N
// gateways with a member each, and times both, three rounds.
//
//   npx tsc -p bench && N=1000 node bench/dist/bench/member-reads.js
import { join } from 'node:path';
import { startPostgres } from '../test/helpers/datastores.js';
import { cleanupTempDirs, tempDir } from '../test/helpers/tmp.js';

// The hub's own store (not exported by the package); this file runs from bench/dist/bench/.
const { openStore } = (await import(
  new URL('../../../packages/hub/dist/store/open-store.js', import.meta.url).href
)) as typeof import('../packages/hub/dist/store/open-store.js');

const n = Number(process.env.N ?? 1000);
const pg = await startPostgres();
for (const database of [pg.url, `sqlite:${join(tempDir(), 'bench.db')}`]) {
  const store = await openStore(database);
  console.log(database.split(':')[0]);
  try {
    const now = new Date().toISOString();
    for (let i = 0; i < n; i++) {
      await store.createGateway(
        {
          id: `g${i}`,
          name: `g${i}`,
          ownerTid: 't',
          ownerOid: 'o',
          publicKeyPem: null,
          sealedPrivateKey: null,
          routing: 'primary',
          createdAt: now,
          keyHandoff: null,
          previousPublicKeyPem: null,
        },
        'User',
      );
      await store.addMember(
        { id: `m${i}`, gatewayId: `g${i}`, name: 'n', hostname: 'h', version: 'v', credentialHash: 'x', enabled: true, createdAt: now, lastSeenAt: null },
        1,
      );
    }
    const ids = Array.from({ length: n }, (_, i) => `m${i}`);
    for (let round = 1; round <= 3; round++) {
      let t = performance.now();
      for (let i = 0; i < n; i++) await store.listMembers(`g${i}`);
      const each = performance.now() - t;
      t = performance.now();
      const got = await store.getMembers(ids);
      const once = performance.now() - t;
      console.log(
        `round ${round}: ${n} gateways with one member each: one read per gateway ${each.toFixed(1)} ms, one read for all ${once.toFixed(1)} ms (${got.length} members)`,
      );
    }
  } finally {
    await store.close();
  }
}
await pg.stop();
cleanupTempDirs();
