// Several hubs on real PostgreSQL and Redis: shared store and migrations, exact throttling, agent presence,
// calls relayed to the hub that holds an agent, and the faults an operator meets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { CLIENT_ID } from '../helpers/fake-entra.js';
import { patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { CLUSTER_SECRET, startClusterStack, type ClusterStack } from '../helpers/cluster-stack.js';
import { redisCommand, type Postgres, type Redis } from '../helpers/datastores.js';
import { HUB_MAIN, api, joinAgent, joinAtOnce, nodeHttp, startAgent, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';

let stack: ClusterStack | undefined;
let echo: EchoServer;
let pg: Postgres;
let redis: Redis;
const hubs: HubProc[] = [];
const agents: AgentProc[] = [];
let token: string;
let gatewayId: string;
let conn: string;
const SECRET = CLUSTER_SECRET;

/** One more hub of the cluster; `extra`: settings of its own. */
const clusterHub = (extra: Record<string, string> = {}): Promise<HubProc> => stack!.hub(extra);
/** A presence entry signed as docs/operations.md says: HMAC-SHA256 under the cluster secret over JSON
 *  ["gatehouse-presence-v1", gateway, member, hub, hubUrl, available, exp, connectedAt, lastSeenAt, hostname, version]. */
function signedPresence(
  gw: string,
  e: { memberId: string; hubId: string; hubUrl: string; available: boolean; connectedAt: string; lastSeenAt: string; hostname: string; version: string },
  exp: number,
  secret = SECRET,
): string {
  const fields = ['gatehouse-presence-v1', gw, e.memberId, e.hubId, e.hubUrl, e.available, exp, e.connectedAt, e.lastSeenAt, e.hostname, e.version];
  return JSON.stringify({ ...e, exp, sig: createHmac('sha256', secret).update(JSON.stringify(fields)).digest('base64url') });
}
const invokeOn = (h: HubProc, body: unknown = { method: 'GET', url: 'x' }, id = conn) => api(h.url, token, 'POST', `/v1/connections/${id}/invoke`, body);

beforeAll(async () => {
  // not listed to agents: these cases are about the hub-to-hub relay (test/suites/hub-mesh.test.ts: agents on every hub)
  stack = await startClusterStack({ hubEnv: { GATEHOUSE_THROTTLE: '100/60s', GATEHOUSE_AGENT_ADVERTISE_URL: 'none' } });
  ({ echo, pg, redis, token } = stack);
  // two hubs migrate one fresh database at once
  hubs.push(...(await Promise.all([clusterHub(), clusterHub()])));
  hubs.push(await clusterHub());
  const gw = await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'scaled' });
  gatewayId = gw.json.id;
  agents.push(await startAgent([hubs[0]!.url], gatewayId, gw.json.registrationKey, [`${echo.url}/`]));
  agents.push(await joinAgent(hubs[1]!.url, token, gatewayId, [`${echo.url}/`]));
  conn = (await api(hubs[2]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
}, 180_000);
afterAll(async () => {
  for (const a of agents) await a.stop();
  await stack?.stop();
});

describe('several hubs', () => {
  it('both hubs that migrated the fresh database at once started, and every hub sees the same data', async () => {
    for (const h of hubs) {
      expect((await api(h.url, undefined, 'GET', '/readyz')).status).toBe(200);
      expect((await api(h.url, token, 'GET', `/v1/connections/${conn}`)).status).toBe(200);
    }
  });

  it('a call on every hub reaches the service (hub 3 has no agent: it relays)', async () => {
    for (const [i, h] of hubs.entries()) {
      const r = await invokeOn(h, { method: 'GET', url: `from-hub-${i}` });
      expect(r.status, r.text).toBe(200);
      expect(r.json.statusCode).toBe(200);
      expect(echo.received.at(-1)!.url).toBe(`/from-hub-${i}`);
      // the envelope holds the service's headers only (the relaying hub's own request id once leaked in)
      expect(r.json.headers['x-request-id']).toBeUndefined();
    }
  });

  it('relayed across hubs, a service that answers an upload early: the answer arrives and the connection carries the next call', async () => {
    const client = new Agent({ connections: 1 }); // one connection: the second upload must reuse it
    for (let i = 0; i < 3; i++) {
      const r = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/early`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-length': String(4 * 1024 * 1024) },
        body: Buffer.alloc(4 * 1024 * 1024, 'e'),
        dispatcher: client,
      });
      expect(r.statusCode).toBe(413);
      expect(await r.body.text()).toBe('too large');
    }
    await client.close();
  });

  it('relayed across hubs (hub 3 has no agent), repeated answer headers, a 30 KB answer head and a 28 KB request head all arrive (raw route)', async () => {
    const client = new Agent({ maxHeaderSize: 64 * 1024 });
    const r = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/status?code=200&set=set-cookie:a=1&set=set-cookie:b=2&big=30000`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: client,
    });
    await r.body.text();
    await client.close();
    expect(r.statusCode).toBe(200);
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(String(r.headers['x-big'])).toHaveLength(30000);
    // a request head under the hub's 32 KiB: relayed like any other (the relay's own head travelled in a header,
    // over the other hub's 32 KiB once a head passed about 23 KB, and the caller got a 431 blaming its request)
    const up = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/echo/bighead`, {
      headers: { authorization: `Bearer ${token}`, 'x-big-request': 'r'.repeat(28_000) },
    });
    expect(up.statusCode).toBe(200);
    await up.body.text();
    expect(String(echo.received.at(-1)!.headers['x-big-request'])).toHaveLength(28_000);
    // a 304 with the Content-Length of its 200: hub 3's client read it from the agent's hub (it failed it, and
    // the caller got no answer)
    const nm = await nodeHttp(`${hubs[2]!.url}/v1/connections/${conn}/proxy/status?code=304&set=content-length:1000`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(nm.status).toBe(304);
    expect(nm.headers['content-length']).toBe('1000');
    expect(nm.data.length).toBe(0);
  });

  it("relayed across hubs, an answer declared over the raw route's body limit is a 502 before its head; one at the limit arrives whole", async () => {
    const small = await clusterHub({ GATEHOUSE_MAX_RAW_BODY: '1MiB' });
    try {
      const id = (await api(small.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
        .id as string;
      const over = await request(`${small.url}/v1/connections/${id}/proxy/big?bytes=${3 * 1024 * 1024}`, { headers: { authorization: `Bearer ${token}` } });
      const overBody = await over.body.text();
      expect(over.statusCode, overBody).toBe(502);
      expect(over.headers['x-gatehouse-error']).toBe('BadGateway');
      expect(JSON.parse(overBody).error.message).toMatch(/over the raw route's \d+-byte limit/);
      const at = await request(`${small.url}/v1/connections/${id}/proxy/big?bytes=${1024 * 1024}`, { headers: { authorization: `Bearer ${token}` } });
      expect((await at.body.arrayBuffer()).byteLength).toBe(1024 * 1024);
      // it was relayed: the access line names the hub that holds the agent
      await small.waitForLine((l) => l.includes('"call done"') && l.includes('"viaHub"'), 5000);
    } finally {
      await small.stop();
    }
  });

  it("relayed across hubs, the raw route times as on the agent's own hub: past the head only idle time counts", async () => {
    // Regression: the caller's hub gave a relayed call the connection's timeout for the whole answer (and that
    // timeout again as idle time), so a long download through a second hub was cut off while bytes moved.
    const idleHub = await clusterHub({ GATEHOUSE_IDLE_TIMEOUT: '2s' });
    try {
      const id = (
        await api(idleHub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId, timeoutSeconds: 1 })
      ).json.id as string;
      const auth = { authorization: `Bearer ${token}` };
      // 8 chunks 400 ms apart: 3.2 s in all, over the 1 s timeout, never 2 s quiet
      const drip = await request(`${idleHub.url}/v1/connections/${id}/proxy/drip?n=8&ms=400`, { headers: auth });
      expect(drip.statusCode).toBe(200);
      expect((await drip.body.arrayBuffer()).byteLength).toBe(8 * 1024);
      // an answer that goes quiet after its head is cut off after the 2 s idle time, and the service's call with it
      const before = echo.abandoned;
      const quiet = await request(`${idleHub.url}/v1/connections/${id}/proxy/headstall`, { headers: auth });
      expect(quiet.statusCode).toBe(200);
      await expect(quiet.body.text()).rejects.toThrow();
      await expect.poll(() => echo.abandoned, { timeout: 5000 }).toBe(before + 1);
      // the call was relayed, and the caller's hub counted it like one of its own
      const line = await idleHub.waitForLine(
        (l) => l.includes('"call done"') && l.includes('"viaHub"') && l.includes(`"connection":"${id}"`) && l.includes('"responseBytes":8192'),
        5000,
      );
      expect(JSON.parse(line)).toMatchObject({ route: 'proxy', status: 200, responseBytes: 8 * 1024 });
      const metrics = await (await request(`${idleHub.url}/metrics`)).body.text();
      expect(metrics).toMatch(/gatehouse_relayed_bytes_total\{direction="response"\} [1-9]/);
      expect(metrics).toMatch(/gatehouse_call_phase_seconds_count\{route="proxy",phase="relay"\} [1-9]/);
      expect(metrics).toMatch(/gatehouse_inflight_requests 0/);
    } finally {
      await idleHub.stop();
    }
  });

  it("first registrations on two hubs: the second is told to join, the first member's key is never replaced", async () => {
    const gw = await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'two-firsts' });
    const second = (await api(hubs[0]!.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`)).json.registrationKey as string;
    // Both hubs have read the keyless gateway (their read caches hold it for up to 2 s), as they would when
    // two administrators register at nearly the same time.
    for (const h of hubs.slice(0, 2)) expect((await api(h.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(200);
    const publicKeys = [0, 1].map(() => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const register = (h: HubProc, key: string, i: number) =>
      api(h.url, undefined, 'POST', '/v1/agent/register', {
        gatewayId: gw.json.id,
        registrationKey: key,
        name: `first-${i}`,
        publicKeyPem: publicKeys[i],
        sealedPrivateKey: `sealed-${i}`,
      });
    expect((await register(hubs[0]!, gw.json.registrationKey as string, 0)).status).toBe(201);
    const late = await register(hubs[1]!, second, 1);
    expect(late.status).toBe(400);
    expect(late.json.error.message).toMatch(/another member registered first.*gatehouse-agent join/);
    const info = await api(hubs[1]!.url, undefined, 'POST', '/v1/agent/join-info', { gatewayId: gw.json.id, registrationKey: second });
    expect(info.status).toBe(200);
    expect(info.json.publicKeyPem).toBe(publicKeys[0]);
    expect(info.json.sealedPrivateKey).toBe('sealed-0');
  });

  it('twelve joins at once through two hubs: a gateway still gets at most 10 members', async () => {
    // Before: each registration counted the members, then added one; concurrent ones all counted 9 or fewer.
    const { gatewayId: id, statuses, refusals } = await joinAtOnce([hubs[0]!.url, hubs[1]!.url], token, 12);
    expect(statuses.filter((s) => s === 201)).toHaveLength(9);
    expect(refusals).toHaveLength(3);
    for (const r of refusals) expect(r).toMatch(/a gateway has at most 10 members; remove one first/);
    expect((await api(hubs[0]!.url, token, 'GET', `/v1/gateways/${id}`)).json.members).toHaveLength(10);
  });

  it('a member disabled or removed through one hub stops serving on the hub it is connected to', async () => {
    // Regression: PATCH/DELETE …/members/{id} acted only on the sessions of the hub that took the request, so a
    // member connected to another hub kept serving there (a disabled, possibly compromised machine).
    const gw = (await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'revoke-across' })).json;
    const other = await clusterHub();
    try {
      const member = await startAgent([other.url], gw.id, gw.registrationKey, [`${echo.url}/`]);
      agents.push(member);
      const id = (await api(other.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json
        .id;
      expect((await invokeOn(other, { method: 'GET', url: 'before' }, id)).json.statusCode).toBe(200);
      expect((await api(hubs[0]!.url, token, 'PATCH', `/v1/gateways/${gw.id}/members/${member.memberId}`, { enabled: false })).status).toBe(200);
      await expect
        .poll(async () => (await invokeOn(other, { method: 'GET', url: 'while-disabled' }, id)).json.error?.code, { timeout: 20_000, interval: 1000 })
        .toBe('GatewayOffline');
      expect((await api(hubs[0]!.url, token, 'PATCH', `/v1/gateways/${gw.id}/members/${member.memberId}`, { enabled: true })).status).toBe(200);
      await expect
        .poll(async () => (await invokeOn(other, { method: 'GET', url: 'enabled-again' }, id)).json.statusCode, { timeout: 20_000, interval: 1000 })
        .toBe(200);
      expect((await api(hubs[0]!.url, token, 'DELETE', `/v1/gateways/${gw.id}/members/${member.memberId}`)).status).toBe(204);
      await member.waitForLine((l) => l.includes('"giving up on this hub"'), 20_000);
      await expect
        .poll(async () => (await invokeOn(other, { method: 'GET', url: 'after-delete' }, id)).json.error?.code, { timeout: 20_000, interval: 1000 })
        .toBe('GatewayOffline');
    } finally {
      await other.stop();
    }
  }, 90_000);

  it('a gateway deleted through one hub cuts its agent off on the hub it is connected to', async () => {
    const gw = (await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'delete-across' })).json;
    const member = await startAgent([hubs[1]!.url], gw.id, gw.registrationKey, [`${echo.url}/`]);
    agents.push(member);
    const id = (await api(hubs[0]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json
      .id;
    expect((await api(hubs[0]!.url, token, 'DELETE', `/v1/gateways/${gw.id}`)).status).toBe(400); // in use (PostgreSQL's check)
    expect((await api(hubs[0]!.url, token, 'DELETE', `/v1/connections/${id}`)).status).toBe(204);
    expect((await api(hubs[0]!.url, token, 'DELETE', `/v1/gateways/${gw.id}`)).status).toBe(204);
    await member.waitForLine((l) => l.includes('"giving up on this hub"'), 20_000);
    // the other hub's 2 s read cache may still hold it for a moment
    await expect.poll(async () => (await api(hubs[1]!.url, token, 'GET', `/v1/gateways/${gw.id}`)).status, { timeout: 5000 }).toBe(404);
  }, 60_000);

  it('a hub serves a relay only when signed with the cluster secret, fresh, addressed to it, and once', async () => {
    // Before: a relay captured on the hubs' network could be sent again within 60 s, to its hub or to any other
    // hub holding a member of the gateway, and the service got the call again.
    const member = agents[1]!;
    // the relay's wire: the body starts with the head (4-byte length, JSON), signed in a header
    const envelope = (over: Record<string, unknown> = {}) =>
      Buffer.from(
        JSON.stringify({
          gatewayId,
          memberId: member.memberId,
          to: hubs[1]!.url,
          ts: Date.now(),
          nonce: randomBytes(16).toString('base64url'),
          head: {
            requestId: randomUUID(),
            method: 'GET',
            url: `${echo.url}/relayed-by-hand`,
            headers: [],
            bodyLength: 0,
            timeoutMs: 10_000,
            credentials: null,
          },
          ...over,
        }),
      );
    const send = async (h: HubProc, env: Buffer, secret = SECRET) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(env.length);
      const r = await request(`${h.url}/internal/v1/relay`, {
        method: 'POST',
        body: Buffer.concat([length, env]),
        headers: {
          'x-gatehouse-relay-signature': createHmac('sha256', secret).update(env).digest('base64url'),
        },
      });
      const text = await r.body.text();
      return r.statusCode === 200
        ? '200'
        : `${r.statusCode} ${r.headers['x-gatehouse-relay-error']} ${(JSON.parse(text) as { error: { message: string } }).error.message}`;
    };
    const served = () => echo.received.filter((x) => x.url === '/relayed-by-hand').length;
    const before = served();
    const good = envelope();
    expect(await send(hubs[1]!, good)).toBe('200');
    expect(served()).toBe(before + 1);
    expect(await send(hubs[1]!, good)).toBe('401 Unauthorized hub -> hub: the relay was used before');
    // hub 1 holds a member of the gateway too: the relay is not for it
    expect(await send(hubs[0]!, good)).toBe('401 Unauthorized hub -> hub: the relay is addressed to another hub');
    expect(await send(hubs[1]!, envelope(), 'another-secret-of-at-least-32-characters')).toMatch(
      /^401 Unauthorized hub -> hub: the relay is not signed with this cluster's secret/,
    );
    expect(await send(hubs[1]!, envelope({ ts: Date.now() - 61_000 }))).toMatch(/^401 Unauthorized hub -> hub: the relay is too old/);
    expect(await send(hubs[1]!, envelope({ ts: Date.now() + 61_000 }))).toMatch(/^401 Unauthorized hub -> hub: the relay is too old/);
    expect(served()).toBe(before + 1);
    // hub 3 has no agent: a call there relays to a member's hub as before, once per call
    expect((await invokeOn(hubs[2]!)).json.statusCode).toBe(200);
    // a hub with another secret: its caller gets a 502 naming the link (it was a 401, as if the token were bad)
    const stray = await clusterHub({ GATEHOUSE_CLUSTER_SECRET: 'another-secret-of-at-least-32-characters' });
    try {
      // It cannot check the others' presence entries either (they are signed): its caller is told so, not that the
      // gateway is offline (session 15 had it say GatewayOffline).
      const r = await invokeOn(stray);
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({
        code: 'BadGateway',
        message: expect.stringMatching(
          new RegExp(
            `^hub -> hub: the presence of gateway ${gatewayId} could not be verified: its \\d+ entr(y|ies) in Redis (is|are) signed, but not with this hub's GATEHOUSE_CLUSTER_SECRET \\(the hubs' cluster secrets differ\\)$`,
          ),
        ),
      });
      await expect
        .poll(() => stray.lines.some((l) => l.includes('"agent presence: entry in Redis refused') && l.includes('"reason":"bad signature"')), { timeout: 5000 })
        .toBe(true);
    } finally {
      await stray.stop();
    }
  });

  it('a forged presence entry (written into Redis without the cluster secret) never receives a call: the caller gets GatewayOffline as with no member online', async () => {
    // Before: presence entries were not signed, so whoever could write to Redis could name a host of theirs as the
    // hub holding a member, and a hub relayed the caller's request there and passed back whatever it answered.
    let dialled = 0;
    const trap: Server = createServer((s) => {
      dialled++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}`;
    const gw = (await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'forged-presence' })).json;
    const id = (await api(hubs[0]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json
      .id;
    // a genuine entry of the main gateway, as its hub stored it
    const ids = (await redisCommand(redis.port, 'ZRANGE', `gh:p:${gatewayId}`, '0', '-1')).split('\r\n').filter((l) => l.includes('|'));
    const genuine = JSON.parse((await redisCommand(redis.port, 'GET', `gh:pi:${ids[0]}`)).split('\r\n')[1]!);
    expect(genuine.sig).toBeTruthy();
    const now = Date.now();
    const base = {
      hubId: 'forged-hub',
      hubUrl: trapUrl,
      available: true,
      connectedAt: new Date(now).toISOString(),
      lastSeenAt: new Date(now).toISOString(),
      hostname: 'h',
      version: '1',
    };
    const forged: Record<string, string> = {
      'forged-unsigned': JSON.stringify({ ...base, memberId: 'forged-unsigned' }),
      'forged-other-secret': signedPresence(gw.id, { ...base, memberId: 'forged-other-secret' }, now + 20_000, 'not-the-cluster-secret-0123456789abcdef'),
      'forged-far-ahead': signedPresence(gw.id, { ...base, memberId: 'forged-far-ahead' }, now + 3_600_000),
      // the genuine entry of another gateway's member, listed under this gateway, and with its URL changed
      [genuine.memberId]: JSON.stringify(genuine),
      'forged-copied': JSON.stringify({ ...genuine, memberId: 'forged-copied', hubUrl: trapUrl }),
    };
    const far = String(now + 3_600_000);
    const refusals = (h: HubProc, member: string, reason: string) =>
      h.lines.filter(
        (l) => l.includes('"agent presence: entry in Redis refused') && l.includes(`"claimedMember":"${member}"`) && l.includes(`"reason":"${reason}"`),
      ).length;
    try {
      for (const [member, text] of Object.entries(forged)) {
        await redisCommand(redis.port, 'ZADD', `gh:p:${gw.id}`, far, `${member}|forged`);
        await redisCommand(redis.port, 'SET', `gh:pi:${member}|forged`, text);
      }
      for (let i = 0; i < 2; i++) {
        const r = await invokeOn(hubs[2]!, { method: 'GET', url: 'to-the-trap' }, id);
        expect(r.status).toBe(502);
        expect(r.json.error.code).toBe('GatewayOffline');
      }
      // the gateway's status: no member online anywhere
      expect((await api(hubs[2]!.url, token, 'GET', `/v1/gateways/${gw.id}`)).json.status).toBe('offline');
      expect(dialled).toBe(0);
      // each refused once in the log, naming the claimed member and why; never the secret or a signature
      const h = hubs[2]!;
      await expect.poll(() => refusals(h, 'forged-copied', 'bad signature'), { timeout: 5000 }).toBe(1);
      expect(refusals(h, 'forged-unsigned', 'not signed (fields of an entry, exp, sig)')).toBe(1);
      expect(refusals(h, 'forged-other-secret', 'bad signature')).toBe(1);
      expect(refusals(h, 'forged-far-ahead', 'expiry too far ahead')).toBe(1);
      expect(refusals(h, genuine.memberId, 'bad signature')).toBe(1);
      expect(h.lines.some((l) => l.includes(SECRET) || l.includes(genuine.sig))).toBe(false);
      // a genuine relayed call still works
      const ok = await invokeOn(hubs[2]!, { method: 'GET', url: 'genuine-relay' });
      expect(ok.json.statusCode).toBe(200);
      expect(echo.received.at(-1)!.url).toBe('/genuine-relay');
    } finally {
      for (const member of Object.keys(forged)) {
        await redisCommand(redis.port, 'ZREM', `gh:p:${gw.id}`, `${member}|forged`);
        await redisCommand(redis.port, 'DEL', `gh:pi:${member}|forged`);
      }
      await new Promise((r) => trap.close(r));
    }
  });

  it('an answer to a relay not signed by a hub of the cluster never reaches the caller (a listed hub URL now held by another host)', async () => {
    // Before: the relay's HMAC authenticated the calling hub only; whatever host answered at a hub's URL had its
    // answer passed to the caller. Here a presence entry signed with the cluster secret names a host that is no hub.
    const seen: string[] = [];
    const impostor = createHttpServer((req, res) => {
      seen.push(req.url ?? '');
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain', 'x-gatehouse-relay-backend-ms': '1' }).end('from an impostor');
    });
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    const impostorUrl = `http://127.0.0.1:${(impostor.address() as { port: number }).port}`;
    const gw = (await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'impostor-answer' })).json;
    const id = (await api(hubs[0]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json
      .id;
    const now = Date.now();
    const entry = signedPresence(
      gw.id,
      {
        memberId: 'impostor-member',
        hubId: 'impostor-hub',
        hubUrl: impostorUrl,
        available: true,
        connectedAt: new Date(now).toISOString(),
        lastSeenAt: new Date(now).toISOString(),
        hostname: 'h',
        version: '1',
      },
      now + 20_000,
    );
    try {
      await redisCommand(redis.port, 'ZADD', `gh:p:${gw.id}`, String(now + 20_000), 'impostor-member|impostor-hub');
      await redisCommand(redis.port, 'SET', `gh:pi:impostor-member|impostor-hub`, entry);
      const r = await invokeOn(hubs[2]!, { method: 'GET', url: 'to-the-impostor' }, id);
      expect(seen).toEqual(['/internal/v1/relay']);
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({
        code: 'BadGateway',
        message: `hub -> hub: the answer from ${new URL(impostorUrl).host} is not signed by a hub of this cluster (its cluster secret differs, or it is no hub)`,
      });
      expect(r.text).not.toContain('impostor-member');
      expect(r.text).not.toContain('from an impostor');
      // a genuine hub's answer is signed: relayed calls work as before
      const ok = await invokeOn(hubs[2]!, { method: 'GET', url: 'signed-answer' });
      expect(ok.json.statusCode).toBe(200);
    } finally {
      await redisCommand(redis.port, 'ZREM', `gh:p:${gw.id}`, 'impostor-member|impostor-hub');
      await redisCommand(redis.port, 'DEL', 'gh:pi:impostor-member|impostor-hub');
      await new Promise((r) => impostor.close(r));
    }
  });

  it('gateway status is identical on every hub', async () => {
    const views = await Promise.all(hubs.map(async (h) => (await api(h.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json));
    const shape = (v: { status: string; members: Array<{ id: string; status: string; connectedAt: string }> }) => ({
      status: v.status,
      members: v.members.map((m) => [m.id, m.status, m.connectedAt]),
    });
    expect(views[0].status).toBe('online');
    expect(views[0].members.map((m: { status: string }) => m.status)).toEqual(['online', 'online']);
    for (const v of views) expect(shape(v)).toEqual(shape(views[0]));
  });

  it('exactly 100 of 300 calls spread over the 3 hubs pass', async () => {
    const id = (await api(hubs[0]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
    const results: number[] = [];
    for (let round = 0; round < 10; round++) {
      const batch = await Promise.all(Array.from({ length: 30 }, (_, i) => invokeOn(hubs[i % 3]!, { method: 'GET', url: 'count' }, id)));
      results.push(...batch.map((r) => r.status));
    }
    expect(results.filter((s) => s === 200)).toHaveLength(100);
    expect(results.filter((s) => s === 429)).toHaveLength(200);
    const last = await invokeOn(hubs[1]!, { method: 'GET', url: 'count' }, id);
    expect(last.headers['ratelimit-remaining']).toBe('0');
    expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('a relayed call is logged on both hubs under the one request id', async () => {
    // Regression: the hub that served a relayed call wrote no access line, and its other lines for the call
    // carried an id of its own.
    const r = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/echo/traced`, {
      method: 'POST',
      body: 'nine byte',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'trace-across-1' },
    });
    expect(await r.body.text()).toBe('nine byte');
    const mine = JSON.parse(await hubs[2]!.waitForLine((l) => l.includes('"call done"') && l.includes('trace-across-1')));
    expect(mine).toMatchObject({ requestId: 'trace-across-1', connection: conn, route: 'proxy', status: 200, requestBytes: 9, responseBytes: 9 });
    expect(mine.viaHub).toBeDefined();
    const served = await Promise.any(hubs.slice(0, 2).map((h) => h.waitForLine((l) => l.includes('"call done"') && l.includes('trace-across-1'), 5000)));
    expect(JSON.parse(served)).toMatchObject({
      requestId: 'trace-across-1',
      client: '127.0.0.1',
      relayed: true,
      gateway: gatewayId,
      member: mine.member,
      status: 200,
      answered: 200,
      finished: true,
      requestBytes: 9,
      responseBytes: 9,
    });
    // invoke across hubs: the line is written once the caller's answer is (it said finished false, written when
    // the other hub's answer had arrived, before the envelope was).
    const inv = await api(
      hubs[2]!.url,
      token,
      'POST',
      `/v1/connections/${conn}/invoke`,
      { method: 'GET', url: 'echo/traced-invoke' },
      { 'x-request-id': 'trace-across-2' },
    );
    expect(inv.json.statusCode).toBe(200);
    const invLine = JSON.parse(await hubs[2]!.waitForLine((l) => l.includes('"call done"') && l.includes('trace-across-2')));
    expect(invLine).toMatchObject({ route: 'invoke', status: 200, answered: 200, finished: true });
    expect(invLine.viaHub).toBeDefined();
  });

  it('a 32 MiB body routed across hubs arrives intact both ways', async () => {
    const body = patternBytes(32 * 1024 * 1024, 17);
    const res = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/echo/large`, {
      method: 'PUT',
      body: Readable.from([body]),
      headers: { authorization: `Bearer ${token}`, 'content-length': String(body.length) },
    });
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of res.body) {
      hash.update(c);
      n += c.length;
    }
    expect(res.statusCode).toBe(200);
    expect(n).toBe(body.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(echo.received.at(-1)!.bytes).toBe(body.length);
  });

  it('a caller that disconnects cancels the backend call across hubs', async () => {
    const before = echo.abandoned;
    const stalled = echo.stalled;
    const ac = new AbortController();
    const pending = request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/stall`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal }).catch(
      () => 'aborted',
    );
    await expect.poll(() => echo.stalled).toBe(stalled + 1);
    ac.abort();
    expect(await pending).toBe('aborted');
    await expect.poll(() => echo.abandoned, { timeout: 10_000 }).toBe(before + 1);
  });

  it('issue 23: the hub serving a relayed call moves it to another of its members when the one the relay named never took it', async () => {
    // Regression: the receiving hub ran the call with the named member only, so a member that refused before
    // sending (its --allow does not cover the URL) failed the call though another member there would serve it.
    const gw = await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'retry-on-the-serving-hub' });
    const narrow = await startAgent([hubs[0]!.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/elsewhere`]);
    const wide = await joinAgent(hubs[0]!.url, token, gw.json.id, [`${echo.url}/`]);
    try {
      await api(hubs[0]!.url, token, 'PATCH', `/v1/gateways/${gw.json.id}`, { routing: 'primary' });
      const c = (await api(hubs[2]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id }))
        .json.id;
      // hub 3 names the first member (narrow) in its relay to hub 1
      const r = await api(
        hubs[2]!.url,
        token,
        'POST',
        `/v1/connections/${c}/invoke`,
        { method: 'GET', url: 'moved-on-hub-1' },
        { 'x-request-id': 'retry-on-hub-1' },
      );
      expect(r.status, r.text).toBe(200);
      expect(echo.received.filter((x) => x.url === '/moved-on-hub-1')).toHaveLength(1);
      await hubs[0]!.waitForLine((l) => l.includes('call moved to another member') && l.includes('retry-on-hub-1'), 5000);
    } finally {
      await narrow.stop();
      await wide.stop();
    }
  });

  it("issue 23: the hub serving a relayed call counts it in its phase metrics, under the caller's route", async () => {
    // Regression: the receiving hub ran relayed calls beside the pipeline, with no phase metrics.
    const count = async (h: HubProc) => {
      const text = await (await request(`${h.url}/metrics`)).body.text();
      const line = text.split('\n').find((l) => l.startsWith('gatehouse_call_phase_seconds_count{route="proxy",phase="backend"}'));
      return Number(line?.split(' ')[1] ?? 0);
    };
    const before = await Promise.all(hubs.slice(0, 2).map(count));
    const r = await request(`${hubs[2]!.url}/v1/connections/${conn}/proxy/echo/phase`, {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'phase-across-1' },
    });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    const served = JSON.parse(
      await Promise.any(hubs.slice(0, 2).map((h) => h.waitForLine((l) => l.includes('"call done"') && l.includes('phase-across-1'), 5000))),
    );
    expect(served).toMatchObject({ relayed: true, route: 'proxy', status: 200 });
    const after = await Promise.all(hubs.slice(0, 2).map(count));
    expect(after[0]! + after[1]!).toBe(before[0]! + before[1]! + 1);
  });
});

describe('faults', () => {
  it('Redis stopped: calls get a coded 503 and /readyz is red; Redis back: service resumes without restarting hubs', async () => {
    await redis.stop();
    for (const h of hubs) {
      const r = await invokeOn(h);
      expect(r.status).toBe(503);
      expect(r.json.error.code).toBe('ServiceUnavailable');
      expect(r.json.error.message).toMatch(/Redis/);
      expect((await api(h.url, undefined, 'GET', '/readyz')).status).toBe(503);
    }
    await redis.start();
    for (const h of hubs) await expect.poll(async () => (await api(h.url, undefined, 'GET', '/readyz')).status, { timeout: 15_000 }).toBe(200);
    // presence comes back with the next refresh (every 10 s)
    await expect.poll(async () => (await invokeOn(hubs[2]!)).status, { timeout: 20_000, interval: 1000 }).toBe(200);
  }, 60_000);

  it('PostgreSQL stopped: the same coded 503 and red /readyz; back: service resumes', async () => {
    await pg.stop();
    const r = await api(hubs[0]!.url, token, 'GET', '/v1/gateways');
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('ServiceUnavailable');
    expect((await api(hubs[0]!.url, undefined, 'GET', '/readyz')).status).toBe(503);
    // A hub started while the database is away waits for it (it used to exit at once: ECONNREFUSED).
    const late = clusterHub({ GATEHOUSE_DATABASE_WAIT: '40s' });
    await new Promise((r) => setTimeout(r, 2500));
    await pg.start();
    await expect.poll(async () => (await api(hubs[0]!.url, token, 'GET', '/v1/gateways')).status, { timeout: 15_000 }).toBe(200);
    const h = await late;
    try {
      expect(h.lines.some((l) => l.includes('"database unreachable, waiting for it"'))).toBe(true);
      expect((await api(h.url, token, 'GET', '/v1/gateways')).status).toBe(200);
    } finally {
      await h.stop();
    }
  }, 90_000);

  it('a hub the database refuses stops at once with the reason and the address, never the password', async () => {
    const env = { GATEHOUSE_CLIENT_ID: CLIENT_ID, GATEHOUSE_LISTEN: '127.0.0.1:0', GATEHOUSE_DATABASE_WAIT: '60s' };
    const refused = startProc([HUB_MAIN, 'serve'], { ...env, GATEHOUSE_DATABASE: `postgres://postgres:not-shown-pw@127.0.0.1:${pg.port}/nosuchdb` });
    expect(await refused.exited).toBe(2);
    const out = refused.lines.join('\n');
    expect(out).toMatch(new RegExp(`database: cannot open PostgreSQL at 127\\.0\\.0\\.1:${pg.port}/nosuchdb: database "nosuchdb" does not exist`));
    expect(out).not.toContain('not-shown-pw');
    // no wait wanted: an unreachable database is named at once
    const port = await freePort();
    const gone = startProc([HUB_MAIN, 'serve'], {
      ...env,
      GATEHOUSE_DATABASE_WAIT: '0s',
      GATEHOUSE_DATABASE: `postgres://postgres:not-shown-pw@127.0.0.1:${port}/gatehouse`,
    });
    expect(await gone.exited).toBe(2);
    expect(gone.lines.join('\n')).toMatch(new RegExp(`database: PostgreSQL at 127\\.0\\.0\\.1:${port}/gatehouse is unreachable \\(connect ECONNREFUSED`));
    expect(gone.lines.join('\n')).not.toContain('not-shown-pw');
  });

  it('SIGKILL of the hub a relayed call would go to: the call moves to the hub of another member at once', async () => {
    // Member X is connected only to a hub that is about to die, member Y only to hub 1; callers use hub 2.
    // Presence still lists X (for up to 30 s) after its hub dies.
    const doomed = await clusterHub();
    hubs.push(doomed);
    const gw = await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'moves-on' });
    agents.push(await startAgent([doomed.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]));
    agents.push(await joinAgent(hubs[1]!.url, token, gw.json.id, [`${echo.url}/`]));
    const id = (await api(hubs[2]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id }))
      .json.id;
    await expect.poll(async () => (await invokeOn(hubs[2]!, { method: 'GET', url: 'before' }, id)).status, { timeout: 15_000 }).toBe(200);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    // bodiless, and a body invoke holds in memory: both move on; the very first call already succeeds
    expect((await invokeOn(hubs[2]!, { method: 'GET', url: 'after' }, id)).json.statusCode).toBe(200);
    const post = await invokeOn(hubs[2]!, { method: 'POST', url: 'after-post', body: Buffer.from('payload').toString('base64') }, id);
    expect(post.json.statusCode).toBe(200);
    expect(Buffer.from(post.json.body as string, 'base64').toString()).toBe('payload');
    // a raw-route body that streams is never sent twice: refused with the coded error
    const raw = await request(`${hubs[2]!.url}/v1/connections/${id}/proxy/stream-post`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: Readable.from([Buffer.from('x')]),
    });
    expect(raw.statusCode).toBe(502);
    expect(raw.headers['x-gatehouse-error']).toBe('BadGateway');
    await raw.body.text();
  }, 60_000);

  it('SIGKILL of a hub: an agent with two hub addresses keeps serving through the other', async () => {
    const extra = await clusterHub();
    hubs.push(extra);
    const gw = await api(hubs[1]!.url, token, 'POST', '/v1/gateways', { name: 'two-hubs' });
    const both = await startAgent([extra.url, hubs[1]!.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]);
    agents.push(both);
    await both.waitForLine(() => both.lines.filter((l) => l.includes('"connected to hub"')).length >= 2);
    const id = (await api(hubs[1]!.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id }))
      .json.id;
    expect((await invokeOn(extra, { method: 'GET', url: 'before' }, id)).json.statusCode).toBe(200);
    extra.child.kill('SIGKILL');
    await extra.exited;
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await invokeOn(hubs[1]!, { method: 'GET', url: `after-${i}` }, id)).status);
    expect(statuses.slice(1).every((s) => s === 200)).toBe(true);
    hubs.pop();
  }, 60_000);
});
