// What checking agent presence costs a relayed call (cluster/presence-entry.ts): a hub reads a gateway's
// entries on every call it relays and checks each one's HMAC. A warm loop, µs per entry, best of ROUNDS rounds
// of N entries, next to JSON.parse alone (what reading an entry cost before it was signed). Build with
// `tsc -p bench`, then `node bench/dist/bench/presence-check.js` (N=50000 ROUNDS=5).
import { performance } from 'node:perf_hooks';
import { checkedPresence, signedPresence, type PresenceEntry } from '../packages/hub/src/cluster/presence-entry.js';

const N = Number(process.env.N ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECRET = 'cluster-secret-for-the-bench-0123456789abcdef';
const GATEWAY = '0b9f7c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e';
const TTL_MS = 30_000;
const now = new Date().toISOString();
const entry: PresenceEntry = {
  memberId: '3f0c2a52-1b7e-4c1e-9a51-0c6e9c1d2b11',
  hubId: '7d2e3c4b-5a69-4f80-b1c2-d3e4f5a6b7c8',
  hubUrl: 'https://hub-2.internal.example:8443',
  connectedAt: now,
  lastSeenAt: now,
  hostname: 'agent-host-01',
  version: '1.4.0',
  available: true,
};

const best = (f: () => void): number => {
  let least = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) f();
    least = Math.min(least, ((performance.now() - t) * 1000) / N);
  }
  return least;
};

const text = signedPresence(SECRET, GATEWAY, entry, Date.now() + 10 * 60_000);
const forged = JSON.stringify({ ...JSON.parse(text), hubUrl: 'http://127.0.0.1:9' });
const parse = best(() => JSON.parse(text));
const check = best(() => {
  if (!('entry' in checkedPresence(SECRET, GATEWAY, text, Date.now(), 10 * 60_000))) throw new Error('refused');
});
const refuse = best(() => {
  if ('entry' in checkedPresence(SECRET, GATEWAY, forged, Date.now(), TTL_MS)) throw new Error('taken');
});
const sign = best(() => signedPresence(SECRET, GATEWAY, entry, Date.now() + TTL_MS));
const f = (x: number) => `${x.toFixed(2)} µs`;
console.log(`entry of ${text.length} bytes, best of ${ROUNDS} x ${N}`);
console.log(`  JSON.parse only (unsigned, before)   ${f(parse)}`);
console.log(`  checked, signature good              ${f(check)}`);
console.log(`  checked, signature bad (refused)     ${f(refuse)}`);
console.log(`  signed (each write, every 10 s)      ${f(sign)}`);
console.log(`  a gateway's worst-case read (640)    ${((check * 640) / 1000).toFixed(2)} ms`);
