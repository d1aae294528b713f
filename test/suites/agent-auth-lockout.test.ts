// Red team B3 (issue 22): the agent authentication limiter must never lock real agents out. Failures are what is
// limited; a valid credential still gets in while its address or member id is over the limit, and behind a
// trusted reverse proxy (GATEHOUSE_TRUSTED_PROXIES) each client is limited by its own address. Red team R2: also
// after the hub restarted, and for members and registration keys made through another hub of the cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, runAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { openHostileAgent } from '../helpers/hostile-agent-socket.js';
import { registerMember } from '../helpers/hostile-agent.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { freePort } from '../helpers/apache.js';
import { postgresAvailable } from '../helpers/datastores.js';
import { startClusterStack, type ClusterStack } from '../helpers/cluster-stack.js';

let entra: FakeEntra;
let echo: EchoServer;
let token: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  token = await entra.token();
});
afterAll(async () => {
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

/** A hub with a victim gateway (a real agent, an Anonymous connection) and another tenant's gateway likewise. */
function hubWithTwoTenants(env: Record<string, string> = {}) {
  const t = {} as { hub: HubProc; victim: AgentProc; victimConn: string; other: AgentProc; otherConn: string };
  beforeAll(async () => {
    t.hub = await startHub(entra, env);
    const conn = async (gatewayId: string) =>
      (await api(t.hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id as string;
    const v = await gatewayWithAgent(t.hub.url, token, [`${echo.url}/`], 'victim');
    t.victim = v.agent;
    t.victimConn = await conn(v.gatewayId);
    const o = await gatewayWithAgent(t.hub.url, token, [`${echo.url}/`], 'other');
    t.other = o.agent;
    t.otherConn = await conn(o.gatewayId);
  }, 60_000);
  afterAll(async () => {
    await t.victim?.stop();
    await t.other?.stop();
    await t.hub?.stop();
  });
  return t;
}

const invoke = (hub: HubProc, conn: string, path: string) =>
  api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: `echo/${path}` });

/** The real agent stopped and started again (a network blip, an update): it must come back within a few seconds. */
async function restart(agent: AgentProc): Promise<AgentProc> {
  await agent.stop();
  const again = await runAgent(agent.configPath);
  // Parsed, not searched as text: a port or a pid can hold the digits 429.
  const refused = again.lines
    .map((l): { level: number; msg: string; retryAfterMs?: number } => (l.startsWith('{') ? JSON.parse(l) : { level: 50, msg: l }))
    .filter(
      (l) => l.level >= 40 || l.msg === 'reconnecting' || l.retryAfterMs !== undefined || /TooManyRequests|\b429\b/.test(JSON.stringify(Object.values(l))),
    );
  expect(refused).toEqual([]);
  return again;
}

describe('red team B3: a flood of bad agent credentials from one address', () => {
  const t = hubWithTwoTenants();

  it('red team B3: 101 bad credentials from one address do not lock out the real agents on it: a restarted agent and a new member connect at once, a wrong credential is still refused with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) {
      const r = await request(`${t.hub.url}/v1/agent/key`, { headers: { authorization: 'GatehouseAgent nobody' } });
      await r.body.text();
      statuses.push(r.statusCode);
    }
    expect(statuses.slice(0, 100)).toEqual(Array(100).fill(401));
    expect(statuses[100]).toBe(429);
    // A member registered just now (never connected) gets in from the limited address.
    const fresh = await registerMember(t.hub.url, token, 'fresh');
    const up = await openHostileAgent(t.hub.port, fresh.credential);
    expect(up.status).toBe(101);
    expect(await up.agent!.hello()).toBeGreaterThan(0);
    up.agent!.destroy();
    // A guess at that member's secret is still refused before any lookup.
    const guess = await openHostileAgent(t.hub.port, `${fresh.memberId}.wrong`);
    expect(guess.status).toBe(429);
    expect(JSON.parse(guess.body).error.code).toBe('TooManyRequests');
    // The victim's real agent restarts and is back: its calls are served, as are the other tenant's.
    t.victim = await restart(t.victim);
    expect((await invoke(t.hub, t.victimConn, 'after-flood')).status).toBe(200);
    expect((await invoke(t.hub, t.otherConn, 'after-flood')).status).toBe(200);
    expect((await api(t.hub.url, token, 'GET', '/v1/agent/key', undefined, { authorization: 'GatehouseAgent nobody' })).status).toBe(429);
  }, 90_000);
});

describe('red team B3: a member-id lockout attempt', () => {
  const t = hubWithTwoTenants();

  it('red team B3: wrong secrets for a known member id (past GATEHOUSE_AGENT_AUTH_FAILURES) do not keep that member’s real agent out', async () => {
    const memberId = t.victim.memberId;
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) {
      const r = await openHostileAgent(t.hub.port, `${memberId}.wrong-${i}`);
      statuses.push(r.status);
      r.agent?.destroy();
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(5).fill(429));
    t.victim = await restart(t.victim);
    expect((await invoke(t.hub, t.victimConn, 'after-member-flood')).status).toBe(200);
    expect((await invoke(t.hub, t.otherConn, 'after-member-flood')).status).toBe(200);
    // Still limited for guesses.
    expect((await openHostileAgent(t.hub.port, `${memberId}.wrong-again`)).status).toBe(429);
  }, 90_000);
});

/** A reverse proxy in front of the hub on 127.0.0.1 that appends the client's address to X-Forwarded-For, as a TLS
 *  proxy of the documented deployment does (plain HTTP here; the agent routes only). */
async function startForwardingProxy(hubPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const up = httpRequest(
      { host: '127.0.0.1', port: hubPort, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': forwarded } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** GET /v1/agent/key with a bad credential, to `port` from `localAddress`: the status. */
function badKeyRequest(port: number, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: '127.0.0.1', port, localAddress, path: '/v1/agent/key', agent: false, headers: { authorization: 'GatehouseAgent nobody', ...headers } },
      (answer) => {
        answer.resume();
        answer.on('end', () => resolve(answer.statusCode ?? 0));
      },
    );
    r.on('error', reject);
    r.end();
  });
}

describe('red team B3: the client address behind a trusted reverse proxy (GATEHOUSE_TRUSTED_PROXIES)', () => {
  const t = hubWithTwoTenants({ GATEHOUSE_TRUSTED_PROXIES: '127.0.0.1', GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS: '20/60s' });
  let proxy: { port: number; close(): Promise<void> };
  beforeAll(async () => {
    proxy = await startForwardingProxy(t.hub.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('red team B3: behind a trusted proxy two clients are limited separately, by the address the proxy forwards', async () => {
    const first: number[] = [];
    for (let i = 0; i < 21; i++) first.push(await badKeyRequest(proxy.port, '127.0.0.2'));
    expect(first.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(first[20]).toBe(429);
    // Another client through the same proxy is not limited by the first one's failures.
    expect(await badKeyRequest(proxy.port, '127.0.0.3')).toBe(401);
    // A client that writes its own X-Forwarded-For through the proxy is still named by the address the proxy saw.
    expect(await badKeyRequest(proxy.port, '127.0.0.2', { 'x-forwarded-for': '10.9.9.9' })).toBe(429);
    expect((await invoke(t.hub, t.otherConn, 'behind-proxy')).status).toBe(200);
  }, 60_000);

  it("red team B3: an untrusted peer's X-Forwarded-For is ignored: its failures count against its own address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push(await badKeyRequest(t.hub.port, '127.0.0.4', { 'x-forwarded-for': `10.0.0.${i}` }));
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
    expect((await invoke(t.hub, t.victimConn, 'untrusted-forwarded')).status).toBe(200);
  }, 60_000);
});

/** Bad credentials (no member id) from the loopback address until the hub answers 429: the address is limited. */
async function limitAddress(hub: HubProc): Promise<void> {
  for (let i = 0; i < 102; i++) {
    const r = await request(`${hub.url}/v1/agent/key`, { headers: { authorization: 'GatehouseAgent nobody' } });
    await r.body.text();
    if (r.statusCode === 429) return;
    expect(r.statusCode).toBe(401);
  }
  throw new Error('the address was never limited');
}

/** Registers a member through the agent API with `key` (the gateway's first member: it brings the key pair). */
function registerWithKey(hubUrl: string, gatewayId: string, key: string) {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return api(hubUrl, undefined, 'POST', '/v1/agent/register', {
    gatewayId,
    registrationKey: key,
    name: 'late',
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sealedPrivateKey: 'sealed',
  });
}

/** The hub's `agent credentials loaded` lines (after line `from`) for `why`. */
function loads(hub: HubProc, why: string, from = 0): Array<{ all: boolean; members: number; registrationKeys: number }> {
  return hub.lines
    .slice(from)
    .filter((l) => l.includes('"agent credentials loaded"'))
    .map((l) => JSON.parse(l))
    .filter((l) => l.why === why);
}

describe('red team R2: a restarted hub knows its agents before the first flood', () => {
  let hub: HubProc;
  let victim: AgentProc;
  let victimConn: string;
  let pending: { gatewayId: string; key: string };
  beforeAll(async () => {
    hub = await startHub(entra, {}, { port: await freePort() });
    const v = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'victim');
    victim = v.agent;
    victimConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: v.gatewayId }))
      .json.id as string;
    // A gateway whose registration key is issued now and spent only after the restart.
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'pending' });
    pending = { gatewayId: gw.json.id as string, key: gw.json.registrationKey as string };
    // The agent stops, then the hub restarts (same database and port): it has looked up nobody since.
    await victim.stop();
    await hub.stop();
    hub = await startHub(entra, {}, { port: hub.port, dbDir: hub.dbDir });
  }, 90_000);
  afterAll(async () => {
    await victim?.stop();
    await hub?.stop();
  });

  it("red team R2: after a restart, 101 bad credentials from the agents' address; the real agent connects at once, a registration key issued before the restart registers, wrong ones still get 429", async () => {
    // Loaded from the store before the hub listened.
    const atStart = loads(hub, 'start');
    expect(atStart).toHaveLength(1);
    expect(atStart[0]!.members).toBe(1);
    expect(atStart[0]!.registrationKeys).toBe(1);
    await limitAddress(hub);
    victim = await restart(victim);
    expect((await invoke(hub, victimConn, 'after-restart')).status).toBe(200);
    // The registration key issued before the restart, then the member it made.
    const reg = await registerWithKey(hub.url, pending.gatewayId, pending.key);
    expect(reg.status).toBe(201);
    const up = await openHostileAgent(hub.port, reg.json.credential as string);
    expect(up.status).toBe(101);
    up.agent!.destroy();
    // Wrong credentials and keys are still refused before any lookup.
    const guess = await openHostileAgent(hub.port, `${victim.memberId}.wrong`);
    expect(guess.status).toBe(429);
    expect(JSON.parse(guess.body).error.code).toBe('TooManyRequests');
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'another' });
    expect((await registerWithKey(hub.url, gw.json.id as string, 'ghr_wrong')).status).toBe(429);
    // A member id this hub does not know: refused, and told to come back no later than the next reload.
    const unknown = await openHostileAgent(hub.port, `${randomUUID()}.wrong`);
    expect(unknown.status).toBe(429);
    expect(Number(unknown.headers['retry-after'])).toBeLessThanOrEqual(5);
  }, 90_000);

  it('red team R2: a flood of random member ids while limited reads the store at most once per 5 s, and every one gets 429', async () => {
    const from = hub.lines.length;
    const began = Date.now();
    await limitAddress(hub);
    const statuses: number[] = [];
    const retries: number[] = [];
    // Longer than one reload interval (5 s), so that at least one reload falls within it.
    for (let round = 0; round < 12 || Date.now() - began < 6000; round++) {
      const answers = await Promise.all(Array.from({ length: 25 }, () => openHostileAgent(hub.port, `${randomUUID()}.guess`)));
      for (const a of answers) {
        statuses.push(a.status);
        retries.push(Number(a.headers['retry-after']));
        a.agent?.destroy();
      }
    }
    const elapsed = Date.now() - began;
    expect(statuses).toEqual(Array(statuses.length).fill(429));
    expect(Math.max(...retries)).toBeLessThanOrEqual(5);
    // Every line of the flood is out once the next summary line is (one per 10 s).
    const end = hub.lines.length;
    await hub.waitForLine((l) => l.includes('"agent authentications refused"') && hub.lines.indexOf(l) >= end, 25_000);
    const reloads = loads(hub, 'unknown credential while limited', from).length;
    expect(reloads).toBeGreaterThanOrEqual(1);
    expect(reloads).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 5000));
  }, 90_000);
});

describe.skipIf(!postgresAvailable())('red team R2: two hubs sharing PostgreSQL', () => {
  let stack: ClusterStack;
  let a: HubProc;
  let b: HubProc;
  beforeAll(async () => {
    stack = await startClusterStack();
    a = await stack.hub();
    b = await stack.hub();
  }, 90_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('red team R2: a member and registration keys issued through hub B get through hub A while A has the address limited', async () => {
    await limitAddress(a);
    const member = await registerMember(b.url, stack.token, 'via-b');
    const gw = await api(b.url, stack.token, 'POST', '/v1/gateways', { name: 'key-from-b' });
    // A gateway made through A (A knows its first key), then a newer key issued through B.
    const gw2 = await api(a.url, stack.token, 'POST', '/v1/gateways', { name: 'newer-key-from-b' });
    const newer = await api(b.url, stack.token, 'POST', `/v1/gateways/${gw2.json.id}/registration-keys`);
    expect((await registerWithKey(a.url, gw2.json.id as string, newer.json.registrationKey as string)).status).toBe(201);
    const up = await openHostileAgent(a.port, member.credential);
    expect(up.status).toBe(101);
    expect(await up.agent!.hello()).toBeGreaterThan(0);
    up.agent!.destroy();
    expect((await registerWithKey(a.url, gw.json.id as string, gw.json.registrationKey as string)).status).toBe(201);
    // Guesses still get 429 on A.
    expect((await openHostileAgent(a.port, `${member.memberId}.wrong`)).status).toBe(429);
    // Found by a reload of what is new since A's start, not by reading every member again.
    const reloads = loads(a, 'unknown credential while limited');
    expect(reloads.length).toBeGreaterThanOrEqual(1);
    expect(reloads.every((r) => !r.all)).toBe(true);
    expect(loads(a, 'start')[0]!.all).toBe(true);
  }, 90_000);
});
