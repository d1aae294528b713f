// Issue 23, "A cheap path to an agent on another hub": hubs list themselves in Redis and tell agents (HUBS,
// protocol version 4); an agent keeps a tunnel to every hub, so a call that lands on any hub is served by that
// hub's own session. Real hubs on PostgreSQL and Redis, real agents, on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { request } from 'undici';
import { FrameType } from '@gatehouse/shared';
import type { FakeEntra } from '../helpers/fake-entra.js';
import type { EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { CLUSTER_SECRET, startClusterStack, type ClusterStack } from '../helpers/cluster-stack.js';
import { redisCommand, type Postgres, type Redis } from '../helpers/datastores.js';
import { AGENT_MAIN, HUB_MAIN, api, startAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { startHostileAgent } from '../helpers/hostile-agent.js';
import { startTcpSwitch, type TcpSwitch } from '../helpers/tcp-switch.js';

let stack: ClusterStack | undefined;
let entra: FakeEntra;
let echo: EchoServer;
let pg: Postgres;
let redis: Redis;
let hubA: HubProc;
let hubB: HubProc;
let token: string;
const agents: AgentProc[] = [];
const switches: TcpSwitch[] = [];
const SECRET = CLUSTER_SECRET;

const clusterHub = (): Promise<HubProc> => stack!.hub();

interface TunnelStatus {
  url: string;
  state: string;
  hubId: string | null;
  listed: boolean;
  dials: number;
}
const tunnelsOf = (a: AgentProc): TunnelStatus[] => {
  try {
    return (JSON.parse(readFileSync(`${a.configPath}.status.json`, 'utf8')) as { hubs: TunnelStatus[] }).hubs;
  } catch {
    return [];
  }
};
const connected = (a: AgentProc) => tunnelsOf(a).filter((t) => t.state === 'connected' && t.hubId);
/** Connections the agent has made (its log says each). */
const connects = (a: AgentProc) => a.lines.filter((l) => l.includes('"connected to hub"')).length;
/** A hub's id, as its agents see it: the hubId of a tunnel dialled at the hub's own URL. */
const hubIdOf = (a: AgentProc, h: HubProc) => connected(a).find((t) => t.url === h.url)?.hubId;

/** Every member of the hub list, as stored. */
async function listEntries(port: number): Promise<string[]> {
  const reply = await redisCommand(port, 'ZRANGE', 'gh:hubs', '0', '-1');
  return reply.split('\r\n').filter((l) => l.startsWith('{'));
}

/** A hub-list entry signed as docs/operations.md says: HMAC-SHA256 under the cluster secret over
 *  JSON ["gatehouse-hubs-v1", id, url, exp], base64url. */
const signedEntry = (id: string, url: string, exp: number, secret = SECRET) =>
  JSON.stringify({
    id,
    url,
    exp,
    sig: createHmac('sha256', secret)
      .update(JSON.stringify(['gatehouse-hubs-v1', id, url, exp]))
      .digest('base64url'),
  });

async function newGateway(name: string): Promise<{ id: string; registrationKey: string }> {
  const gw = await api(hubA.url, token, 'POST', '/v1/gateways', { name });
  return gw.json;
}
const accessLine = async (h: HubProc, requestId: string) =>
  JSON.parse(await h.waitForLine((l) => l.includes('"call done"') && l.includes(requestId), 10_000)) as Record<string, unknown>;

beforeAll(async () => {
  stack = await startClusterStack({ hubEnv: { GATEHOUSE_THROTTLE: '100000/60s' } });
  ({ entra, echo, pg, redis, token } = stack);
  hubA = await clusterHub();
  hubB = await clusterHub();
}, 180_000);
afterAll(async () => {
  for (const a of agents) await a.stop();
  for (const s of switches) await s.close();
  await stack?.stop();
});

describe('GATEHOUSE_AGENT_ADVERTISE_URL', () => {
  it('is in serve --help; a value that is not http(s)://host[:port] or none stops the hub with the reason', async () => {
    const help = startProc([HUB_MAIN, 'serve', '--help'], {});
    await help.exited;
    expect(help.lines.join('\n')).toMatch(/--agent-advertise-url +GATEHOUSE_AGENT_ADVERTISE_URL .*agents.*\(default the advertise URL\)/);
    const port = await freePort();
    const bad = startProc([HUB_MAIN, 'serve'], {
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_CLIENT_ID: 'x',
      GATEHOUSE_DATABASE: pg.url,
      GATEHOUSE_REDIS_URL: redis.url,
      GATEHOUSE_ADVERTISE_URL: `http://127.0.0.1:${port}`,
      GATEHOUSE_CLUSTER_SECRET: SECRET,
      GATEHOUSE_AGENT_ADVERTISE_URL: 'http://hub.example.com/agents',
    });
    expect(await bad.exited).toBe(2);
    expect(bad.lines.join('\n')).toContain('GATEHOUSE_AGENT_ADVERTISE_URL must be http(s)://host:port (the URL agents dial this hub at) or none');
  });
});

describe('agents keep a tunnel to every hub', () => {
  let agent: AgentProc;
  let conn: string;
  let gatewayId: string;

  it("an agent given only hub a's URL gets a tunnel on hub b too, and a call through hub b is served by hub b's own session", async () => {
    const gw = await newGateway('mesh');
    gatewayId = gw.id;
    agent = await startAgent([hubA.url], gw.id, gw.registrationKey, [`${echo.url}/`]);
    agents.push(agent);
    await expect
      .poll(
        () =>
          connected(agent)
            .map((t) => `${t.url} ${t.listed}`)
            .sort(),
        { timeout: 15_000 },
      )
      .toEqual([`${hubA.url} false`, `${hubB.url} true`].sort());
    conn = (await api(hubB.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
    const r = await request(`${hubB.url}/v1/connections/${conn}/proxy/echo/mesh`, {
      method: 'POST',
      body: 'on hub b',
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'mesh-direct-1' },
    });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('on hub b');
    const line = await accessLine(hubB, 'mesh-direct-1');
    // served by hub b's own session: no hub in between (a relayed call's line names the hub it went through)
    expect(line).toMatchObject({ status: 200, member: agent.memberId, connection: conn });
    expect(line.viaHub).toBeUndefined();
    expect(line.relayed).toBeUndefined();
    expect(hubA.lines.some((l) => l.includes('mesh-direct-1'))).toBe(false);
    // gateway status: the member once, online, on two hubs, the same on both
    for (const h of [hubA, hubB]) {
      const g = await api(h.url, token, 'GET', `/v1/gateways/${gatewayId}`);
      expect(g.json.status).toBe('online');
      expect(g.json.members).toHaveLength(1);
      expect(g.json.members[0]).toMatchObject({ id: agent.memberId, status: 'online', hubs: 2 });
    }
    // `gatehouse-agent status` shows both tunnels, the listed one marked
    const st = startProc([AGENT_MAIN, 'status', '--config', agent.configPath], {});
    expect(await st.exited).toBe(0);
    const out = st.lines.join('\n');
    expect(out).toContain(`${hubA.url}, hub ${hubIdOf(agent, hubA)}: connected`);
    expect(out).toContain(`${hubB.url} (listed by the cluster), hub ${hubIdOf(agent, hubB)}: connected`);
  }, 60_000);

  it('an agent that speaks only version 3 is sent no HUBS, stays connected while the list changes, and is reached through the relay', async () => {
    const old = await startHostileAgent(hubA.url, token, [3, 2, 1]);
    const types: number[] = [];
    old.ws.on('message', (d) => types.push((d as Buffer)[0]!));
    old.answer = (call, a) => {
      void a.send({ type: FrameType.Response, stream: call.stream, msg: { status: 200, headers: [] }, data: Buffer.from('old agent') });
    };
    try {
      expect(old.version).toBe(3);
      // the list changes twice (a hub joins, then leaves): the hubs tell their agents, not this one
      const extra = await clusterHub();
      await expect.poll(() => connected(agent).some((t) => t.url === extra.url), { timeout: 15_000 }).toBe(true);
      await extra.stop();
      await expect.poll(() => tunnelsOf(agent).some((t) => t.url === extra.url), { timeout: 20_000 }).toBe(false);
      expect(types).not.toContain(FrameType.Hubs);
      expect(old.closeCode).toBeUndefined();
      const id = (await api(hubA.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: old.gatewayId }))
        .json.id;
      for (const [h, rid] of [
        [hubA, 'old-own'],
        [hubB, 'old-relayed'],
      ] as const) {
        const r = await request(`${h.url}/v1/connections/${id}/proxy/x`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': rid } });
        expect(r.statusCode).toBe(200);
        expect(await r.body.text()).toBe('old agent');
      }
      expect((await accessLine(hubB, 'old-relayed')).viaHub).toBeDefined();
    } finally {
      await old.close();
    }
  }, 90_000);

  it('a hub stopping: the agent drops its tunnel there and calls through the other hub still work', async () => {
    const doomed = await clusterHub();
    try {
      await expect.poll(() => connected(agent).some((t) => t.url === doomed.url && t.listed), { timeout: 15_000 }).toBe(true);
      await doomed.stop();
      // the hub takes itself off the list; the agent closes the tunnel after its grace (5 s) and dials it no more
      await expect.poll(() => tunnelsOf(agent).some((t) => t.url === doomed.url), { timeout: 20_000 }).toBe(false);
      const before = connects(agent);
      await new Promise((r) => setTimeout(r, 3000));
      expect(connects(agent)).toBe(before);
      for (let i = 0; i < 5; i++) {
        const r = await request(`${hubA.url}/v1/connections/${conn}/proxy/echo/after-${i}`, {
          method: 'POST',
          body: `after ${i}`,
          headers: { authorization: `Bearer ${token}` },
        });
        expect(r.statusCode).toBe(200);
        expect(await r.body.text()).toBe(`after ${i}`);
      }
      expect(
        connected(agent)
          .map((t) => t.url)
          .sort(),
      ).toEqual([hubA.url, hubB.url].sort());
    } finally {
      await doomed.stop().catch(() => {});
    }
  }, 60_000);

  it('a listed hub that refuses the credential (401) is given up once, not dialled again and again', async () => {
    // A hub of another deployment (its own database) listed by mistake: it refuses this agent's credential.
    // (signed with this cluster's secret: an unsigned entry is not listed at all, see the next test)
    const stranger = await startHub(entra);
    const exp = Date.now() + 60_000;
    const entry = signedEntry('stranger-hub', stranger.url, exp);
    try {
      await redisCommand(redis.port, 'ZADD', 'gh:hubs', String(exp), entry);
      await expect.poll(() => tunnelsOf(agent).find((t) => t.url === stranger.url)?.state, { timeout: 15_000 }).toBe('stopped');
      // (the status file is written before the log line reaches this process)
      const givenUp = () => agent.lines.filter((l) => l.includes('"giving up on this hub"') && l.includes(stranger.url)).length;
      await expect.poll(givenUp, { timeout: 5000 }).toBe(1);
      await new Promise((r) => setTimeout(r, 5000));
      expect(givenUp()).toBe(1);
      expect(
        tunnelsOf(agent)
          .filter((t) => t.url === stranger.url)
          .map((t) => t.dials),
      ).toEqual([1]);
      expect(
        connected(agent)
          .map((t) => t.url)
          .sort(),
      ).toEqual([hubA.url, hubB.url].sort());
    } finally {
      await redisCommand(redis.port, 'ZREM', 'gh:hubs', entry);
      await stranger.stop();
    }
    // off the list: the stopped tunnel goes after the grace
    await expect.poll(() => tunnelsOf(agent).some((t) => t.url === stranger.url), { timeout: 20_000 }).toBe(false);
  }, 60_000);

  it('a forged hub-list entry (written into Redis without the cluster secret) is never dialled: the agent keeps dialling the genuine hubs only', async () => {
    // A host of the attacker's on loopback: it counts every connection made to it.
    let dialled = 0;
    const trap: Server = createServer((s) => {
      dialled++;
      s.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}`;
    const genuine = (await listEntries(redis.port))
      .map((m) => JSON.parse(m) as { id: string; url: string; exp: number; sig: string })
      .find((e) => e.url === hubB.url)!;
    expect(genuine.sig).toBeTruthy();
    const far = String(Date.now() + 3_600_000);
    const forged = {
      unsigned: JSON.stringify({ id: 'forged-unsigned', url: trapUrl }),
      'another secret': signedEntry('forged-other-secret', trapUrl, Date.now() + 60_000, 'not-the-cluster-secret-0123456789abcdef'),
      'copied, URL changed': JSON.stringify({ ...genuine, url: trapUrl }),
      'copied, kept alive': JSON.stringify({ ...genuine, exp: genuine.exp + 3_600_000 }),
    };
    const refusals = (h: HubProc, id: string, reason: string) =>
      h.lines.filter((l) => l.includes('"hub list: entry in Redis refused') && l.includes(`"claimedId":"${id}"`) && l.includes(`"reason":"${reason}"`)).length;
    try {
      for (const m of Object.values(forged)) await redisCommand(redis.port, 'ZADD', 'gh:hubs', far, m);
      // the genuine entry itself, replayed once it expired (its signature still checks)
      await expect.poll(() => genuine.exp < Date.now() - 100, { timeout: 15_000 }).toBe(true);
      await redisCommand(redis.port, 'ZADD', 'gh:hubs', far, JSON.stringify(genuine));
      // every hub refuses each one, and says so once per entry, naming the claimed hub and why
      for (const h of [hubA, hubB]) {
        await expect.poll(() => refusals(h, 'forged-unsigned', 'not signed (fields id, url, exp, sig)'), { timeout: 10_000 }).toBe(1);
        await expect.poll(() => refusals(h, 'forged-other-secret', 'bad signature'), { timeout: 10_000 }).toBe(1);
        await expect.poll(() => refusals(h, genuine.id, 'bad signature'), { timeout: 10_000 }).toBe(2);
        await expect.poll(() => refusals(h, genuine.id, 'expired'), { timeout: 10_000 }).toBe(1);
      }
      // a new agent given hub a's URL is told of hub b, and dials it; never the trap
      const gw = await newGateway('forged-list');
      const fresh = await startAgent([hubA.url], gw.id, gw.registrationKey, [`${echo.url}/`]);
      agents.push(fresh);
      await expect
        .poll(
          () =>
            connected(fresh)
              .map((t) => `${t.url} ${t.listed}`)
              .sort(),
          { timeout: 15_000 },
        )
        .toEqual([`${hubA.url} false`, `${hubB.url} true`].sort());
      // several more reads of the list (every 2 s): still refused, logged no more, and nobody dials the trap
      await new Promise((r) => setTimeout(r, 6000));
      expect(dialled).toBe(0);
      for (const a of [agent, fresh]) expect(tunnelsOf(a).map((t) => t.url)).not.toContain(trapUrl);
      expect(
        connected(fresh)
          .map((t) => t.url)
          .sort(),
      ).toEqual([hubA.url, hubB.url].sort());
      expect(
        connected(agent)
          .map((t) => t.url)
          .sort(),
      ).toEqual([hubA.url, hubB.url].sort());
      for (const h of [hubA, hubB]) {
        expect(refusals(h, 'forged-unsigned', 'not signed (fields id, url, exp, sig)')).toBe(1);
        expect(refusals(h, genuine.id, 'bad signature')).toBe(2);
        // the secret and signatures are never logged
        expect(h.lines.some((l) => l.includes(SECRET) || l.includes(genuine.sig))).toBe(false);
      }
      // the genuine hub b is served by its own session for the new agent
      const id = (await api(hubB.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json.id;
      const r = await request(`${hubB.url}/v1/connections/${id}/proxy/echo/forged`, {
        method: 'POST',
        body: 'still hub b',
        headers: { authorization: `Bearer ${token}`, 'x-request-id': 'forged-list-b' },
      });
      expect(await r.body.text()).toBe('still hub b');
      expect((await accessLine(hubB, 'forged-list-b')).viaHub).toBeUndefined();
    } finally {
      for (const m of [...Object.values(forged), JSON.stringify(genuine)]) await redisCommand(redis.port, 'ZREM', 'gh:hubs', m);
      await new Promise((r) => trap.close(r));
    }
  }, 90_000);

  it('a load-balanced --hub address that lands on a hub the agent has a listed tunnel to: the agent settles with one tunnel per hub', async () => {
    // The "load balancer" sends the agent to hub a first; then to hub b, and cuts the connection.
    const lb = await startTcpSwitch(hubA.port);
    switches.push(lb);
    const gw = await newGateway('behind-a-balancer');
    const a = await startAgent([lb.url], gw.id, gw.registrationKey, [`${echo.url}/`]);
    agents.push(a);
    const idA = () => hubIdOf(agent, hubA);
    const idB = () => hubIdOf(agent, hubB);
    await expect
      .poll(
        () =>
          connected(a)
            .map((t) => `${t.url} ${t.hubId}`)
            .sort(),
        { timeout: 15_000 },
      )
      .toEqual([`${lb.url} ${idA()}`, `${hubB.url} ${idB()}`].sort());
    lb.target = hubB.port;
    lb.cut();
    // the --hub tunnel lands on hub b and replaces the listed tunnel's session there (4007): that tunnel is not
    // redialled, and a listed tunnel to hub a takes over
    await expect
      .poll(
        () =>
          tunnelsOf(a)
            .map((t) => `${t.url} ${t.state} ${t.hubId}`)
            .sort(),
        { timeout: 20_000 },
      )
      .toEqual([`${lb.url} connected ${idB()}`, `${hubA.url} connected ${idA()}`].sort());
    await new Promise((r) => setTimeout(r, 1000)); // the log lines of the connections just made reach this process
    const settled = connects(a);
    const forwarded = lb.connections;
    // settled: no dial for several seconds (a ping-pong would replace one session after the other every second)
    await new Promise((r) => setTimeout(r, 6000));
    expect(connects(a)).toBe(settled);
    expect(lb.connections).toBe(forwarded);
    expect(
      connected(a)
        .map((t) => `${t.url} ${t.hubId}`)
        .sort(),
    ).toEqual([`${lb.url} ${idB()}`, `${hubA.url} ${idA()}`].sort());
    // a settled state serves: through each hub, by that hub's own session
    const id = (await api(hubA.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.id })).json.id;
    for (const [h, rid] of [
      [hubA, 'lb-a'],
      [hubB, 'lb-b'],
    ] as const) {
      const r = await request(`${h.url}/v1/connections/${id}/proxy/echo/${rid}`, {
        method: 'POST',
        body: rid,
        headers: { authorization: `Bearer ${token}`, 'x-request-id': rid },
      });
      expect(await r.body.text()).toBe(rid);
      expect((await accessLine(h, rid)).viaHub).toBeUndefined();
    }
  }, 90_000);
});
