// Red team (issue 22): one tenant cannot hurt the hub or another tenant through the agents' own routes.
// B1: a member credential posting huge or junk bodies to /v1/agent/rotate/commit; B5: strangers flooding
// /v1/agent/register with heavy bodies that never named a gateway. Real hub and agent; another tenant's calls
// through its own agent keep being answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { holdRotationCommit, registerMember } from '../helpers/hostile-agent.js';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sealSecret } from '@gatehouse/shared';
import {
  AGENT_REGISTRATION_RATE_PER_GATEWAY,
  AGENT_ROUTE_RATE_PER_MEMBER,
  JOIN_FAILURES_PER_GATEWAY,
  ROTATION_STEPS_PER_GATEWAY,
  ROTATIONS_AT_ONCE_PER_TENANT,
} from '../../packages/hub/dist/http/agent-api.js';
import { LIVE_REGISTRATION_KEYS } from '../../packages/hub/dist/http/registration-keys.js';

const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const TENANT_C = 'cccccccc-0000-4000-8000-00000000000c';
/** The per-tenant share of held bodies this hub runs with: small, so that a commit body can be seen to count. */
const SHARE = 48 * 1024;

/** A JSON object of `bytes` characters made of many tiny keys: the costliest shape to parse per byte. */
function junkKeys(bytes: number, wrap: (inner: string) => string): string {
  const parts: string[] = [];
  let len = 20;
  for (let i = 0; len < bytes; i++) {
    const s = `"k${i}":{}`;
    parts.push(s);
    len += s.length + 1;
  }
  return wrap(parts.join(','));
}

describe('agent API bounds (red team B1, B5)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let good: AgentProc;
  let goodConn: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    token = await entra.token();
    // It makes hundreds of connections in a few seconds: the management API rate (api-rate.test.ts) raised.
    hub = await startHub(entra, {
      GATEHOUSE_THROTTLE: '100000/60s',
      GATEHOUSE_MAX_HELD_BODIES_SHARE: String(SHARE),
      GATEHOUSE_API_RATE: '100000/60s',
      GATEHOUSE_API_TENANT_RATE: '100000/60s',
    });
    const g = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'tenant-a');
    good = g.agent;
    goodConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json
      .id;
  }, 60_000);
  afterAll(async () => {
    await good?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  /** Another tenant's call through its own agent, answered within a few seconds. */
  async function otherTenantServed(): Promise<void> {
    const r = await api(hub.url, token, 'POST', `/v1/connections/${goodConn}/invoke`, { method: 'GET', url: 'echo/still-served' });
    expect(r.status).toBe(200);
  }

  it('B1: one agent credential cannot stall the hub or grow its memory with rotate/commit bodies', async () => {
    const tB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000001' });
    const m = await registerMember(hub.url, tB, 'attacker');
    const commit = async (body: string) => {
      const r = await request(`${hub.url}/v1/agent/rotate/commit`, {
        method: 'POST',
        headers: { authorization: `GatehouseAgent ${m.credential}`, 'content-type': 'application/json' },
        body,
      });
      return { status: r.statusCode, code: ((await r.body.json()) as { error?: { code: string } }).error?.code };
    };
    // The probe's 16 MB of tiny keys: the gateway has no sealed connections, so the bound is 64 KiB.
    expect(await commit(junkKeys(16_000_000, (inner) => `{"junk":{${inner}}}`))).toEqual({ status: 413, code: 'PayloadTooLarge' });
    // Within the bound, but shaped like no commit: refused before it is parsed.
    expect(await commit(junkKeys(40_000, (inner) => `{"junk":{${inner}}}`))).toEqual({ status: 400, code: 'InvalidRequest' });
    // Its bytes count in the held-body pool: past the tenant's share, 503.
    expect(await commit(JSON.stringify({ previousPublicKeyPem: 'x'.repeat(SHARE + 4096) }))).toEqual({ status: 503, code: 'ServiceUnavailable' });

    // One rotation request in progress per member: a second one gets 429 while the first is still sending.
    const first = holdRotationCommit(hub.url, m.credential);
    let second = { status: 0, code: undefined as string | undefined };
    for (let i = 0; i < 50 && second.status !== 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      second = await commit('{}');
    }
    expect(second).toEqual({ status: 429, code: 'TooManyRequests' });
    await first.release();
    // Its place is given back once the first is gone.
    let third = second;
    for (let i = 0; i < 50 && third.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      third = await commit('{}');
    }
    expect(third).toEqual({ status: 400, code: 'InvalidRequest' });
    await otherTenantServed();
  }, 60_000);

  it(`red team session 17 (a tenant's rotation steps in one burst): at most ${ROTATIONS_AT_ONCE_PER_TENANT} key rotation requests of one tenant in progress at once; the next gets 429, another tenant's goes on`, async () => {
    const tD = await entra.token({ tid: 'dddddddd-0000-4000-8000-00000000000d', oid: 'dddddddd-0000-4000-8000-000000000001' });
    const members = [];
    for (let g = 0; g <= ROTATIONS_AT_ONCE_PER_TENANT; g++) members.push(await registerMember(hub.url, tD, `burst-${g}`));
    const begin = async (c: string) => {
      const r = await request(`${hub.url}/v1/agent/rotate/begin`, { method: 'POST', headers: { authorization: `GatehouseAgent ${c}` } });
      const body = (await r.body.json()) as { error?: { message: string } };
      return { status: r.statusCode, message: body.error?.message, retryAfter: r.headers['retry-after'] };
    };
    // The tenant's first members each hold a commit open (its body still arriving).
    const held = members.slice(0, ROTATIONS_AT_ONCE_PER_TENANT).map((m) => holdRotationCommit(hub.url, m.credential));
    const last = members[ROTATIONS_AT_ONCE_PER_TENANT]!;
    let refused = await begin(last.credential);
    for (let i = 0; i < 50 && refused.status !== 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      refused = await begin(last.credential);
    }
    expect(refused.status).toBe(429);
    expect(refused.message).toBe(
      `agent -> hub: this gateway's tenant has ${ROTATIONS_AT_ONCE_PER_TENANT} key rotation requests in progress, the most it may have at once; try again in a second`,
    );
    expect(refused.retryAfter).toBe('1');
    // Another tenant's rotation is not held up by them.
    const e = await registerMember(
      hub.url,
      await entra.token({ tid: 'eeeeeeee-0000-4000-8000-00000000000e', oid: 'eeeeeeee-0000-4000-8000-000000000001' }),
      'e-rotator',
    );
    expect((await begin(e.credential)).status).toBe(200);
    // Once the held requests are gone, the tenant's next one goes through.
    await Promise.all(held.map((h) => h.release()));
    let after = refused;
    for (let i = 0; i < 50 && after.status === 429; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await begin(last.credential);
    }
    expect(after.status).toBe(200);
    await otherTenantServed();
  }, 60_000);

  it("red team session 17 F3 and F2: a commit's resealed credentials are checked as the connections API checks them; rotation steps are limited per gateway and per tenant (429 with Retry-After), and other gateways and tenants are not", async () => {
    const tC = await entra.token({ tid: TENANT_C, oid: 'cccccccc-0000-4000-8000-000000000001' });
    const m = await registerMember(hub.url, tC, 'rotator');
    const agentAuth = { authorization: `GatehouseAgent ${m.credential}`, 'content-type': 'application/json' };
    const step = async (path: 'begin' | 'commit', body?: object) => {
      const r = await request(`${hub.url}/v1/agent/rotate/${path}`, { method: 'POST', headers: agentAuth, body: JSON.stringify(body ?? {}) });
      const json = (await r.body.json()) as { error?: { code: string; message: string } };
      return { status: r.statusCode, code: json.error?.code, message: json.error?.message ?? '', retryAfter: r.headers['retry-after'] };
    };
    const conn = await api(hub.url, tC, 'POST', '/v1/connections', {
      authType: 'BasicGateway',
      baseResourceUrl: echo.url,
      gatewayId: m.gatewayId,
      username: 'svc',
      password: 'pa55word-for-f3',
    });
    expect(conn.status).toBe(201);
    const key = await request(`${hub.url}/v1/agent/key`, { headers: agentAuth });
    const previousPublicKeyPem = ((await key.body.json()) as { publicKeyPem: string }).publicKeyPem;
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyPem = next.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const commit = (sealed: string) =>
      step('commit', {
        previousPublicKeyPem,
        publicKeyPem,
        sealedPrivateKey: 'sealed',
        keyHandoff: 'handoff',
        resealed: [{ connectionId: conn.json.id, sealed }],
      });
    // F3: 20,000 characters on one connection (the probe stored 3 MB) and a blob of no structure are refused naming
    // the entry; before, both were stored.
    const big = await commit('A'.repeat(20_000));
    expect([big.status, big.code]).toEqual([400, 'InvalidRequest']);
    expect(big.message).toMatch(/^caller -> hub: resealed\[0\]\.sealed is over \d+ characters/);
    const junk = await commit('AAAA');
    expect([junk.status, junk.message]).toEqual([400, expect.stringMatching(/^caller -> hub: resealed\[0\]\.sealed has version 0/)]);
    // A credential sealed for the new key is taken.
    const good = await commit(sealSecret({ username: 'svc', password: 'pa55word-for-f3' }, publicKeyPem, m.gatewayId));
    expect(good.status).toBe(200);
    // F2: that was 3 steps; 9 more begins reach the gateway's 12 in 10 minutes, the next is refused.
    for (let i = 0; i < ROTATION_STEPS_PER_GATEWAY.limit - 3; i++) expect((await step('begin')).status).toBe(200);
    const refused = await step('begin');
    expect([refused.status, refused.code]).toEqual([429, 'TooManyRequests']);
    expect(refused.message).toMatch(/key rotation requests are limited to 12 per gateway and 60 per tenant in 10 minutes; try again in \d+ seconds/);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(600);
    expect((await step('commit', {})).status).toBe(429);
    // The tenant's other gateways share 60: four more gateways of 12 steps each reach it, a sixth is refused.
    const others = [];
    for (let g = 0; g < 5; g++) others.push(await registerMember(hub.url, tC, `rotator-${g}`));
    const begin = async (c: string) =>
      (await request(`${hub.url}/v1/agent/rotate/begin`, { method: 'POST', headers: { authorization: `GatehouseAgent ${c}` } })).statusCode;
    for (const o of others.slice(0, 4)) for (let i = 0; i < ROTATION_STEPS_PER_GATEWAY.limit; i++) expect(await begin(o.credential)).toBe(200);
    expect(await begin(others[4]!.credential)).toBe(429);
    // Another tenant's gateway rotates as before, and its calls are served.
    const b = await registerMember(hub.url, await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000002' }), 'b-rotator');
    expect(await begin(b.credential)).toBe(200);
    await otherTenantServed();
  }, 60_000);

  it('limit: a gateway takes at most 256 connections (the bound of a rotation commit)', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'many' });
    const create = () => api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id });
    for (let i = 0; i < 256; i++) expect((await create()).status).toBe(201);
    const over = await create();
    expect(over.status).toBe(400);
    expect(over.json.error.code).toBe('InvalidRequest');
    expect(over.json.error.message).toContain('at most 256 connections');
  }, 60_000);

  it('red team second pass R1: a rotate/commit body of a million empty arrays is refused by its shape before it is parsed', async () => {
    // Before: the shape check counted keys and depth only, so `{"resealed":[[],[],…]}` up to the body bound was
    // parsed whole (385 ms for 3 MB) and answered "previousPublicKeyPem is required".
    const tB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000003' });
    const m = await registerMember(hub.url, tB, 'arrays');
    // 30 KB: under the body bound (64 KiB with no sealed connection) and this hub's held-body share (48 KiB).
    const arrays = `{"resealed":[${Array.from({ length: 10_000 }, () => '[]').join(',')}]}`;
    const r = await request(`${hub.url}/v1/agent/rotate/commit`, {
      method: 'POST',
      headers: { authorization: `GatehouseAgent ${m.credential}`, 'content-type': 'application/json' },
      body: arrays,
    });
    const body = (await r.body.json()) as { error: { code: string; message: string } };
    expect([r.statusCode, body.error.code]).toEqual([400, 'InvalidRequest']);
    expect(body.error.message).toMatch(/the rotation's body holds more than 16 keys and values/);
    await otherTenantServed();
  }, 60_000);

  it('red team second pass R3: a management API body of many tiny values is refused by its shape before it is parsed', async () => {
    // Before: PATCH /v1/gateways/{id} parsed 64 KiB of `[[],[],…]` whole on every request (one caller at 4
    // connections took another tenant's p50 from 2.9 to 46 ms) and answered about the routing value.
    const tB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000004' });
    const gw = await api(hub.url, tB, 'POST', '/v1/gateways', { name: 'shape' });
    const junk = `{"routing":"bogus","x":[${Array.from({ length: 20_000 }, () => '[]').join(',')}]}`;
    const r = await request(`${hub.url}/v1/gateways/${gw.json.id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${tB}`, 'content-type': 'application/json' },
      body: junk,
    });
    const body = (await r.body.json()) as { error: { code: string; message: string } };
    expect([r.statusCode, body.error.code]).toEqual([400, 'InvalidRequest']);
    expect(body.error.message).toBe('caller -> hub: the body holds more than 512 keys and values');
    // A real change still goes through.
    expect((await api(hub.url, tB, 'PATCH', `/v1/gateways/${gw.json.id}`, { routing: 'distribute' })).status).toBe(200);
    await otherTenantServed();
  }, 60_000);

  // Runs last: its failures lock 127.0.0.1 out of the agent routes for the rest of the window.
  it('B5: register flood with heavy bodies naming no gateway is counted by the limiter and refused before reading', async () => {
    const body = junkKeys(30_000, (inner) => `{${inner}}`);
    const statuses: number[] = [];
    let limited: { code: string; retryAfter: unknown } | undefined;
    for (let i = 0; i < 300 && !limited; i++) {
      const path = i % 2 === 0 ? '/v1/agent/register' : '/v1/agent/join-info';
      const r = await request(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const j = (await r.body.json()) as { error: { code: string } };
      statuses.push(r.statusCode);
      if (r.statusCode === 429) limited = { code: j.error.code, retryAfter: r.headers['retry-after'] };
    }
    // 100 failures per 60 s from one address (GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS): the 101st is refused.
    expect(statuses.slice(0, 100).every((s) => s === 400)).toBe(true);
    expect(statuses.length).toBe(101);
    expect(limited?.code).toBe('TooManyRequests');
    expect(Number(limited?.retryAfter)).toBeGreaterThan(0);
    await otherTenantServed();
  }, 60_000);

  it('red team session 18: a gateway key is RSA of 2048-4096 bits with exponent 65537; failed join proofs are limited per gateway even with a valid registration key', async () => {
    const tF = await entra.token({ tid: 'ffffffff-0000-4000-8000-00000000000f', oid: 'ffffffff-0000-4000-8000-000000000001' });
    const register = async (gatewayId: string, registrationKey: string, extra: Record<string, unknown>) =>
      api(hub.url, undefined, 'POST', '/v1/agent/register', { gatewayId, registrationKey, name: 'm', sealedPrivateKey: 'sealed', ...extra });
    const pem = (opts: { modulusLength: number; publicExponent?: number }) =>
      generateKeyPairSync('rsa', opts).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const gw = (await api(hub.url, tF, 'POST', '/v1/gateways', { name: 'heavy-key' })).json;
    // (the refused keys on a gateway of their own: register has a rate per gateway, 15 at once)
    const refusing = (await api(hub.url, tF, 'POST', '/v1/gateways', { name: 'refused-keys' })).json;
    // The key the probe used: a large exponent makes every check of a signature with it cost 20 times more.
    for (const bad of [
      pem({ modulusLength: 2048, publicExponent: 3 }),
      pem({ modulusLength: 2048, publicExponent: 0x1000001 }),
      pem({ modulusLength: 1024 }),
    ]) {
      const r = await register(refusing.id, refusing.registrationKey, { publicKeyPem: bad });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toBe('caller -> hub: publicKeyPem must be an RSA public key of 2048 to 4096 bits with the public exponent 65537');
    }
    const first = await register(gw.id, gw.registrationKey, { publicKeyPem: pem({ modulusLength: 2048 }) });
    expect(first.status, first.text).toBe(201);
    // Joining needs a proof made with the gateway's private key; wrong proofs with a valid registration key are 401,
    // until the gateway has had JOIN_FAILURES_PER_GATEWAY of them: then 429 before any signature is checked.
    const key = (await api(hub.url, tF, 'POST', `/v1/gateways/${gw.id}/registration-keys`)).json.registrationKey;
    const statuses: number[] = [];
    for (let i = 0; i < JOIN_FAILURES_PER_GATEWAY.limit + 1; i++)
      statuses.push((await register(gw.id, key, { proof: Buffer.alloc(256, i).toString('base64') })).status);
    expect(statuses.slice(0, JOIN_FAILURES_PER_GATEWAY.limit)).toEqual(Array(JOIN_FAILURES_PER_GATEWAY.limit).fill(401));
    const limited = await register(gw.id, key, { proof: 'AAAA' });
    expect(limited.status).toBe(429);
    expect(limited.json.error.message).toMatch(/join proofs for this gateway failed in 10 minutes; try again in \d+ seconds/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another gateway's registration is not held up.
    const other = (await api(hub.url, tF, 'POST', '/v1/gateways', { name: 'other' })).json;
    expect((await register(other.id, other.registrationKey, { publicKeyPem: pem({ modulusLength: 2048 }) })).status).toBe(201);
    await otherTenantServed();
  }, 60_000);

  it('red team sessions 18 and 19: the agent routes a valid credential opens have a rate per member (and per tenant); join-info and register one per gateway', async () => {
    const tG = await entra.token({ tid: '99999999-0000-4000-8000-000000000009', oid: '99999999-0000-4000-8000-000000000001' });
    const m = await registerMember(hub.url, tG, 'key-looper');
    const key = async (credential: string) =>
      request(`${hub.url}/v1/agent/key`, { headers: { authorization: `GatehouseAgent ${credential}` } }).then(async (r) => ({
        status: r.statusCode,
        retryAfter: r.headers['retry-after'],
        body: (await r.body.json()) as { error?: { message: string } },
      }));
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await key(m.credential));
    const ok = answers.filter((a) => a.status === 200).length;
    // A quarter of 60 at once, then one a second: 30 in a row cannot all pass.
    expect(ok).toBeGreaterThanOrEqual(AGENT_ROUTE_RATE_PER_MEMBER.limit / 4);
    expect(ok).toBeLessThan(30);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.body.error?.message).toMatch(/^agent -> hub: this member made 60 agent route requests in 60 s, the most the hub takes; try again in \d+ s$/);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // Another member is not held up.
    const other = await registerMember(hub.url, tG, 'key-reader');
    expect((await key(other.credential)).status).toBe(200);
    // join-info with a valid registration key: per gateway.
    const gw = (await api(hub.url, tG, 'POST', `/v1/gateways/${m.gatewayId}/registration-keys`)).json.registrationKey;
    const info = [];
    for (let i = 0; i < 30; i++)
      info.push((await api(hub.url, undefined, 'POST', '/v1/agent/join-info', { gatewayId: m.gatewayId, registrationKey: gw })).status);
    // (the member's own registration was one of the gateway's 15 at once)
    expect(info.filter((st) => st === 200).length).toBeGreaterThanOrEqual(AGENT_REGISTRATION_RATE_PER_GATEWAY.limit / 4 - 1);
    expect(info).toContain(429);
    // Red team session 19, F3: register with a valid key that is refused after the key check (no join proof for a
    // gateway that has its key pair) is limited per gateway too; it was never counted (24,234 in 14 s).
    const otherKey = (await api(hub.url, tG, 'POST', `/v1/gateways/${other.gatewayId}/registration-keys`)).json.registrationKey;
    const registers: Array<{ status: number; message: string }> = [];
    for (let i = 0; i < 30; i++) {
      const r = await api(hub.url, undefined, 'POST', '/v1/agent/register', { gatewayId: other.gatewayId, registrationKey: otherKey, name: 'no-proof' });
      registers.push({ status: r.status, message: r.json.error?.message ?? '' });
    }
    expect(registers[0]!.status).toBe(400);
    expect(registers[0]!.message).toMatch(/gatehouse-agent join/);
    // (less the registration of `other` itself, one of the 15 at once)
    expect(registers.filter((r) => r.status === 400).length).toBeGreaterThanOrEqual(AGENT_REGISTRATION_RATE_PER_GATEWAY.limit / 4 - 1);
    expect(registers.find((r) => r.status === 429)?.message).toMatch(/^agent -> hub: this gateway made 60 agent route requests in 60 s/);
    await otherTenantServed();
  }, 60_000);

  it('red team session 18: a gateway key stored before the key rule is not sealed to (400 naming rotate-key), however the connection is written', async () => {
    const tH = await entra.token({ tid: '88888888-0000-4000-8000-000000000008', oid: '88888888-0000-4000-8000-000000000001' });
    const m = await registerMember(hub.url, tH, 'legacy-key');
    const c = await api(hub.url, tH, 'POST', '/v1/connections', {
      authType: 'BasicGateway',
      baseResourceUrl: echo.url,
      gatewayId: m.gatewayId,
      username: 'u',
      password: 'p',
    });
    expect(c.status, c.text).toBe(201);
    // As if registered before the rule: exponent 3 (a large exponent is what made sealing cost 20 times more).
    const legacy = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const db = new Database(join(hub.dbDir, 'hub.db'));
    db.prepare('UPDATE gateways SET public_key_pem = ? WHERE id = ?').run(legacy, m.gatewayId);
    db.close();
    // The hub keeps a gateway it read for 2 s.
    await expect
      .poll(async () => (await api(hub.url, tH, 'PATCH', `/v1/connections/${c.json.id}`, { username: 'u', password: 'p2' })).json.error?.message, {
        timeout: 10_000,
        interval: 500,
      })
      .toBe(
        "caller -> hub: the gateway's key is not one the hub seals to (RSA of 2048 to 4096 bits, exponent 65537): rotate it with `gatehouse-agent rotate-key`",
      );
  }, 60_000);

  it(`red team session 17: a gateway holds at most ${LIVE_REGISTRATION_KEYS} unused registration keys; issuing more voids the oldest (before: 47,620 in 40 s, all kept for a day)`, async () => {
    // A hub of its own: its refusals must not count toward B5's limit on this one.
    const own = await startHub(entra);
    const gw = await api(own.url, token, 'POST', '/v1/gateways', { name: 'keys' });
    const keys = [gw.json.registrationKey as string];
    for (let i = 0; i < LIVE_REGISTRATION_KEYS + 4; i++)
      keys.push((await api(own.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`)).json.registrationKey);
    const register = async (key: string) => {
      const r = await api(own.url, undefined, 'POST', '/v1/agent/join-info', { gatewayId: gw.json.id, registrationKey: key });
      return [r.status, r.json.error?.code];
    };
    // join-info checks a key without using it up: the gateway has no key pair yet, so a live key gets 400 saying so.
    for (const old of keys.slice(0, 5)) expect(await register(old)).toEqual([401, 'Unauthorized']);
    for (const live of [keys[5]!, keys.at(-1)!]) expect(await register(live)).toEqual([400, 'InvalidRequest']);
    await own.stop();
  }, 60_000);
});
