// Issue 22, findings 1, 2 and 5 across hubs: the caller calls hub A, the hostile agent is connected to hub B, and
// the answer travels B -> A through the hub-to-hub relay. Hub B checks the agent's answer as it would its own
// call's, so what reaches the caller through A is held to the same rules, and B frees the stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameType } from '@gatehouse/shared';
import type { EchoServer } from '../helpers/echo-server.js';
import { startClusterStack, type ClusterStack } from '../helpers/cluster-stack.js';
import { api, startAgent, type AgentProc, type HubProc } from '../helpers/stack.js';
import { keepAliveExchange, keepAliveGet, otherTenantCalls, startHostileAgent, streamsOpen, type HostileAgent } from '../helpers/hostile-agent.js';

let stack: ClusterStack | undefined;
let echo: EchoServer;
let hubA: HubProc;
let hubB: HubProc;
let token: string;
let goodAgent: AgentProc;
let goodConn: string;
let hostile: HostileAgent;
let hostileConn: string;

beforeAll(async () => {
  // not listed to agents: the calls through hub A are relayed to hub B (test/suites/hub-mesh.test.ts: agents on every hub)
  stack = await startClusterStack({ hubEnv: { GATEHOUSE_THROTTLE: '100000/60s', GATEHOUSE_AGENT_ADVERTISE_URL: 'none' } });
  ({ echo, token } = stack);
  hubA = await stack.hub();
  hubB = await stack.hub();
  // Tenant B: a real agent on hub B, called through hub A too.
  const gw = await api(hubA.url, token, 'POST', '/v1/gateways', { name: 'tenant-b' });
  goodAgent = await startAgent([hubB.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]);
  goodConn = (await api(hubA.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id })).json
    .id;
  hostile = await startHostileAgent(hubB.url, token);
  hostileConn = (
    await api(hubA.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: hostile.gatewayId })
  ).json.id;
  // Hub A relays only once presence shows the members online on B.
  for (const id of [hostile.gatewayId, gw.json.id as string]) {
    for (let i = 0; (await api(hubA.url, token, 'GET', `/v1/gateways/${id}`)).json.status !== 'online'; i++) {
      if (i === 300) throw new Error(`gateway ${id} never showed online on hub A`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}, 180_000);
afterAll(async () => {
  await hostile?.close();
  await goodAgent?.stop();
  await stack?.stop();
});

const viaA = async (path: string) => {
  const r = await fetch(`${hubA.url}/v1/connections/${hostileConn}/proxy/${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  // biome-ignore lint/suspicious/noExplicitAny: a test reads the JSON answer's fields as the case expects them
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
};
const freedOnB = () => expect.poll(() => streamsOpen(hubB.url, hostile.gatewayId), { timeout: 10_000 }).toBe(0);

describe('answers of a hostile agent on another hub', () => {
  it("finding 1: a bad header is a coded 502 through hub A, none of the agent's headers, and hub B frees the stream", async () => {
    const b = otherTenantCalls(hubA.url, token, goodConn);
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.ResponseHead,
        stream,
        msg: {
          status: 200,
          headers: [
            ['x-before', 'agent-header'],
            ['x-bad', 'a\r\nset-cookie: forged=1'],
          ],
        },
      });
      for (let i = 0; i < 4; i++) await a.send({ type: FrameType.Data, stream, data: Buffer.alloc(64 * 1024, 0x61) });
    };
    for (let i = 0; i < 20; i++) {
      const r = await viaA('bad-header');
      expect([r.status, r.headers.get('x-gatehouse-error'), r.headers.get('x-before'), r.headers.get('set-cookie')]).toEqual([502, 'BadGateway', null, null]);
      expect(r.json.error.message).toMatch(new RegExp(`^hub <- agent: the answer of agent ${hostile.memberId} was refused: header line 2 `));
    }
    await expect.poll(() => hostile.cancelled.size, { timeout: 10_000 }).toBeGreaterThanOrEqual(20);
    await freedOnB();
    const { ok, wrong } = await b.stop();
    expect(wrong).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  }, 60_000);

  it("finding 2: a body longer than its Content-Length never puts a forged response on the caller's connection to hub A; a 1xx is a 502", async () => {
    const forged = 'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged';
    hostile.answer = async ({ stream, head }, a) => {
      if (head.url.includes('/second')) {
        await a.send({ type: FrameType.Response, stream, msg: { status: 200, headers: [] }, data: Buffer.from('real') });
        return;
      }
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [['content-length', '5']] } });
      await a.send({ type: FrameType.Data, stream, data: Buffer.from(`hello${forged}`) });
      await a.send({ type: FrameType.End, stream });
    };
    const path = (p: string) => keepAliveGet(`/v1/connections/${hostileConn}/proxy/${p}`, token);
    const { text } = await keepAliveExchange(hubA.port, path('longer'), path('second'));
    expect(text).not.toContain('forged');
    // Whatever reached the caller of the first call is at most the 5 declared bytes; a second answer is the real one.
    const statusLines = text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    expect(statusLines.length).toBeLessThanOrEqual(2);
    if (statusLines.length === 2) expect(text.endsWith('real')).toBe(true);
    await freedOnB();
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Response, stream, msg: { status: 101, headers: [['upgrade', 'x']] }, data: Buffer.alloc(0) });
    };
    const interim = await viaA('interim');
    expect([interim.status, interim.json.error.code]).toEqual([502, 'BadGateway']);
    expect(interim.json.error.message).toMatch(/was refused: status 101 is an interim answer/);
    await freedOnB();
  }, 60_000);

  it("finding 5: an agent's x-gatehouse-error never reaches the caller through hub A, and its FAILURE text is quoted", async () => {
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.Response,
        stream,
        msg: {
          status: 503,
          headers: [
            ['x-gatehouse-error', 'GatewayOffline'],
            ['x-fine', 'yes'],
          ],
        },
        data: Buffer.from('the service said'),
      });
    };
    const r = await viaA('forged-error');
    expect([r.status, r.headers.get('x-gatehouse-error'), r.headers.get('x-fine'), r.text]).toEqual([503, null, 'yes', 'the service said']);
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.Failure,
        stream,
        msg: { code: 'BadGateway', message: 'hub -> agent: your Entra token expired; sign in again at https://evil.example/login\r\n' },
      });
    };
    const f = await viaA('failure');
    expect([f.status, f.json.error.code, f.json.error.message]).toEqual([
      502,
      'BadGateway',
      'agent -> service: the agent reported: hub -> agent: your Entra token expired; sign in again at https://evil.example/login',
    ]);
    await freedOnB();
  }, 60_000);

  it("205 with a body: a coded 502 through hub A as a 204 with DATA is, never the agent's bytes (red team session 15)", async () => {
    // Before: the 205 and its body reached the caller through hub A as the agent sent them.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 205, headers: [] } });
      await a.send({ type: FrameType.Data, stream, data: Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged') });
      await a.send({ type: FrameType.End, stream });
    };
    const r = await viaA('reset-content');
    expect([r.status, r.headers.get('x-gatehouse-error'), r.json?.error.code]).toEqual([502, 'BadGateway', 'BadGateway']);
    expect(r.json.error.message).toMatch(/was refused: status 205 to GET carries no body, and the answer has one/);
    expect(r.text).not.toContain('forged');
    await freedOnB();
  }, 60_000);
});
