// Issue 22 (red team session 17): one caller looping the management API (lists, creates) took about 1,200 requests a
// second from the shared hub, and another tenant's calls waited. The management API now has a rate per caller
// (GATEHOUSE_API_RATE) and per tenant (GATEHOUSE_API_TENANT_RATE): token buckets refilled evenly that hold a quarter of
// the period's allowance; over it 429 TooManyRequests with Retry-After, and other callers are served as before.
// The calls themselves (invoke, raw route) are not counted: they have the per-connection throttle.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { TokenBuckets } from '../../packages/hub/dist/http/api-rate.js';

const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the management API rate per caller and per tenant', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let agent: AgentProc;
  let conn: string;
  let tokenA1: string;
  let tokenA2: string;
  let tokenA3: string;
  let tokenB: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    tokenA1 = await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a1' });
    tokenA2 = await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a2' });
    tokenA3 = await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a3' });
    tokenB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000001' });
    // Per caller: 40 a minute, so 10 at once, then one each 1.5 s. Per tenant: 120, so 30 at once, then one each 0.5 s.
    hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s', GATEHOUSE_API_RATE: '40/60s', GATEHOUSE_API_TENANT_RATE: '120/60s' });
    const g = await gatewayWithAgent(hub.url, tokenB, [`${echo.url}/`], 'rate');
    agent = g.agent;
    conn = (await api(hub.url, tokenB, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json.id;
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it('a caller past its burst gets 429 naming GATEHOUSE_API_RATE with Retry-After; another tenant is served; after the wait it is served again', async () => {
    const answers = await Promise.all(Array.from({ length: 25 }, () => api(hub.url, tokenA1, 'GET', '/v1/connections')));
    const ok = answers.filter((r) => r.status === 200).length;
    const refused = answers.filter((r) => r.status === 429);
    // 10 at once, and the bucket refills one in 1.5 s: 25 sent together cannot all pass.
    expect(ok).toBeGreaterThanOrEqual(10);
    expect(ok).toBeLessThan(15);
    expect(refused.length).toBe(25 - ok);
    const r = refused[0]!;
    expect(r.json.error.code).toBe('TooManyRequests');
    expect(r.headers['x-gatehouse-error']).toBe('TooManyRequests');
    expect(r.json.error.message).toContain('GATEHOUSE_API_RATE');
    const wait = Number(r.headers['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // Tenant B, and the calls (not counted), are served meanwhile.
    expect((await api(hub.url, tokenB, 'GET', '/v1/gateways')).status).toBe(200);
    // A fresh token of the same caller is the same caller.
    const again = await api(hub.url, await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a1' }), 'GET', '/v1/connections');
    expect(again.status).toBe(429);
    await sleep(wait * 1000 + 100);
    expect((await api(hub.url, tokenA1, 'GET', '/v1/connections')).status).toBe(200);
    // The refusals are logged, as info, naming the setting.
    expect(hub.lines.some((l) => l.includes('caller over the management API rate') && l.includes('GATEHOUSE_API_RATE'))).toBe(true);
  });

  it('calls (invoke) are not counted: a caller with no management requests left still invokes', async () => {
    const exhaust = await Promise.all(Array.from({ length: 30 }, () => api(hub.url, tokenB, 'GET', `/v1/connections/${conn}`)));
    expect(exhaust.some((r) => r.status === 429)).toBe(true);
    for (let i = 0; i < 40; i++) {
      const r = await api(hub.url, tokenB, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: `n${i}` });
      expect(r.status).toBe(200);
      expect(r.json.statusCode).toBe(200);
    }
    expect((await api(hub.url, tokenB, 'GET', `/v1/connections/${conn}`)).status).toBe(429);
  });

  it('the callers of one tenant share GATEHOUSE_API_TENANT_RATE: one caller within its own rate is refused once the tenant has used it', async () => {
    // Four more callers of tenant A, each within its own 10 at once: 40 together are over the tenant's 30.
    const others = [
      tokenA2,
      tokenA3,
      await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a4' }),
      await entra.token({ oid: 'aaaaaaaa-0000-4000-8000-0000000000a5' }),
    ];
    const rs = (await Promise.all(others.map((t) => Promise.all(Array.from({ length: 10 }, () => api(hub.url, t, 'GET', '/v1/gateways')))))).flat();
    const tenantRefusal = rs.find((r) => r.status === 429 && r.json.error.message.includes('GATEHOUSE_API_TENANT_RATE'))?.json.error.message;
    expect(rs.filter((r) => r.status === 200).length).toBeLessThanOrEqual(32);
    expect(tenantRefusal).toMatch(/tenant has used its 120 per 60 s management API requests/);
    // Tenant B is its own tenant: a caller of it who has not used the API is served.
    expect((await api(hub.url, await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000002' }), 'GET', '/v1/gateways')).status).toBe(200);
  });

  it('red team session 18: calls refused before they start (connections the caller cannot use) count against the management API rate', async () => {
    const t = await entra.token({ tid: 'cccccccc-0000-4000-8000-00000000000c', oid: 'cccccccc-0000-4000-8000-000000000001' });
    const answers = [];
    for (let i = 0; i < 25; i++) answers.push(await api(hub.url, t, 'POST', `/v1/connections/${crypto.randomUUID()}/invoke`, { method: 'GET', url: 'x' }));
    const notFound = answers.filter((r) => r.status === 404).length;
    expect(notFound).toBeGreaterThanOrEqual(10);
    expect(notFound).toBeLessThan(20);
    const limited = answers.find((r) => r.status === 429)!;
    expect(limited.json.error.message).toContain('GATEHOUSE_API_RATE');
    // Another tenant's calls to its own connection are not touched.
    expect((await api(hub.url, tokenB, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'still' })).json.statusCode).toBe(200);
  });

  it("red team session 19, F4: the lines about callers over the rate are budgeted per tenant: one tenant's 150 refusals do not use up the lines that tell of another's", async () => {
    const tenantE = 'eeeeeeee-0000-4000-8000-00000000000e';
    const tenantF = 'ffffffff-0000-4000-8000-00000000000f';
    const linesOf = (tid: string) => hub.lines.filter((l) => l.includes('"caller over the management API rate"') && l.includes(tid));
    const e = await entra.token({ tid: tenantE, oid: 'eeeeeeee-0000-4000-8000-000000000001' });
    const eAnswers = [];
    for (let i = 0; i < 160; i++) eAnswers.push((await api(hub.url, e, 'GET', '/v1/gateways')).status);
    expect(eAnswers.filter((st) => st === 429).length).toBeGreaterThan(140);
    // At most 100 lines per 10 s for tenant E: the rest counted for its summary line.
    expect(linesOf(tenantE).length).toBeLessThanOrEqual(100);
    const f = await entra.token({ tid: tenantF, oid: 'ffffffff-0000-4000-8000-000000000001' });
    const fAnswers = [];
    for (let i = 0; i < 15; i++) fAnswers.push((await api(hub.url, f, 'GET', '/v1/gateways')).status);
    expect(fAnswers.filter((st) => st === 429).length).toBeGreaterThan(0);
    await sleep(200);
    expect(linesOf(tenantF).length).toBe(fAnswers.filter((st) => st === 429).length);
  });

  it('bad tokens are refused 401 before any rate (they do not use a caller up)', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, () => api(hub.url, 'not-a-token', 'GET', '/v1/connections')));
    expect(rs.every((r) => r.status === 401)).toBe(true);
  });
});

describe('TokenBuckets (the rate the API uses)', () => {
  it('never lets more through than the burst plus the steady pace, and always lets a key in once it has waited the answer', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 100, max: 3_600_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 5000 })), { minLength: 1, maxLength: 300 }),
        (limit, periodMs, steps) => {
          let t = 0;
          const b = new TokenBuckets({ limit, periodMs }, () => t);
          const capacity = Math.max(1, Math.floor(limit / 4));
          const admitted = [0, 0, 0];
          for (const [key, gap] of steps) {
            t += gap;
            const wait = b.take(`k${key}`);
            if (wait === 0) admitted[key]!++;
            else {
              expect(wait).toBeGreaterThanOrEqual(1);
              // Waiting what it was told is enough.
              t += wait * 1000;
              expect(b.take(`k${key}`)).toBe(0);
              admitted[key]!++;
            }
            // Each key alone: at most its burst plus what refilled since the start.
            for (const n of admitted) expect(n).toBeLessThanOrEqual(capacity + (t * limit) / periodMs + 1e-9);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('remembers a bounded number of keys', () => {
    const b = new TokenBuckets({ limit: 10, periodMs: 1000 }, () => 0);
    for (let i = 0; i < 100_010; i++) b.take(`k${i}`);
    expect(b.size).toBe(100_000);
  });
});
