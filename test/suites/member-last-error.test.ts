// Issue 25: each member's last error as the hub saw it (`lastError` in the member view, agents/member-errors.ts),
// with the real hub, a real agent whose service refuses, and hostile agents (a protocol violation, a CANCEL). Not
// an error: the caller going away, an agent's normal stop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameType, encodeFrame } from '@gatehouse/shared';
import { freePort } from '../helpers/apache.js';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startHostileAgent, type HostileAgent } from '../helpers/hostile-agent.js';
import { api, gatewayWithAgent, type AgentProc, type HubProc, startHub } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { MAX_ERROR_MESSAGE, MAX_MEMBER_ERRORS, MemberErrors } from '../../packages/hub/dist/agents/member-errors.js';

let entra: FakeEntra;
let hub: HubProc;
let token: string;
const agents: AgentProc[] = [];
const hostiles: HostileAgent[] = [];

beforeAll(async () => {
  entra = await startFakeEntra();
  hub = await startHub(entra);
  token = await entra.token();
}, 60_000);

afterAll(async () => {
  for (const h of hostiles) await h.close();
  for (const a of agents) await a.stop();
  await hub?.stop();
  await entra?.close();
  cleanupTempDirs();
});

interface MemberView {
  id: string;
  status: string;
  lastError?: { code: string; message: string; at: string };
}

async function member(gatewayId: string): Promise<MemberView> {
  const r = await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`);
  expect(r.status).toBe(200);
  return r.json.members[0] as MemberView;
}

async function connectionOn(gatewayId: string, baseResourceUrl: string): Promise<string> {
  const r = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl, gatewayId });
  expect(r.status).toBe(201);
  return r.json.id as string;
}

describe("a member's last error as the hub saw it", () => {
  it("a service that refuses: the member shows the agent's BackendUnreachable with its time, in GET /v1/gateways too, and keeps it after a normal stop", async () => {
    // A port nothing listens on (taken and let go).
    const closed = await freePort();
    const base = `http://127.0.0.1:${closed}/api`;
    const { gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${base}/`], 'refusing');
    agents.push(agent);
    const conn = await connectionOn(gatewayId, base);
    const fresh = await member(gatewayId);
    expect(fresh.status).toBe('online');
    expect(fresh.lastError).toBeUndefined();

    const before = Date.now();
    const r = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'orders' });
    const after = Date.now();
    expect([r.status, r.json.error.code]).toEqual([502, 'BackendUnreachable']);
    const m = await member(gatewayId);
    expect(m.lastError?.code).toBe('BackendUnreachable');
    expect(m.lastError?.message).toBe(r.json.error.message);
    expect(m.lastError?.message).toMatch(/^agent -> service: the agent reported: could not reach .*ECONNREFUSED/);
    const at = Date.parse(m.lastError!.at);
    expect(at).toBeGreaterThanOrEqual(before - 1000);
    expect(at).toBeLessThanOrEqual(after + 1000);
    // The list answers the same member view.
    const list = await api(hub.url, token, 'GET', '/v1/gateways');
    const listed = (list.json.value as Array<{ id: string; members: MemberView[] }>).find((g) => g.id === gatewayId)!;
    expect(listed.members[0]!.lastError).toEqual(m.lastError);

    // A normal stop (SIGTERM: the agent closes with 1001) is no error: the member goes offline with its last one.
    await agent.stop('SIGTERM');
    await expect.poll(async () => (await member(gatewayId)).status, { timeout: 15_000 }).toBe('offline');
    expect((await member(gatewayId)).lastError).toEqual(m.lastError);
  }, 90_000);

  it('a hostile agent that breaks the protocol: after the hub closes it, the member is offline and its last error names the violation', async () => {
    const hostile = await startHostileAgent(hub.url, token);
    hostiles.push(hostile);
    expect((await member(hostile.gatewayId)).lastError).toBeUndefined();
    // DATA on a stream the hub never opened: close 4002.
    await hostile.send({ type: FrameType.Data, stream: 77, data: Buffer.from('x') });
    await expect.poll(() => hostile.closeCode, { timeout: 10_000 }).toBe(4002);
    await expect.poll(async () => (await member(hostile.gatewayId)).status, { timeout: 10_000 }).toBe('offline');
    const m = await member(hostile.gatewayId);
    expect(m.lastError?.code).toBe('BadGateway');
    expect(m.lastError?.message).toBe(
      "hub -> agent: the hub closed the agent's connection (close code 4002, protocol violation: unexpected frame): stream 77 was never opened",
    );
    expect(Number.isNaN(Date.parse(m.lastError!.at))).toBe(false);
  }, 60_000);

  it('a hostile agent that sends a WebSocket message over the 64 KiB + 5 bytes limit (ws refuses it): its last error says so', async () => {
    const hostile = await startHostileAgent(hub.url, token);
    hostiles.push(hostile);
    hostile.ws.send(Buffer.alloc(70_000));
    await expect.poll(async () => (await member(hostile.gatewayId)).status, { timeout: 10_000 }).toBe('offline');
    const m = await member(hostile.gatewayId);
    expect(m.lastError?.code).toBe('BadGateway');
    expect(m.lastError?.message).toBe("hub -> agent: the hub closed the agent's connection (WebSocket protocol violation): Max payload size exceeded");
  }, 60_000);

  it('abnormal closes: an agent that stops reading (4011) and one that floods frames (4013) show why they went offline', async () => {
    // A hub that gives an agent 2 s to answer its ping (the hostile agent never answers it) and 100 frames a second.
    const strict = await startHub(entra, { GATEHOUSE_AGENT_READ_TIMEOUT: '2s', GATEHOUSE_AGENT_FRAME_RATE: '100/1s' });
    try {
      const view = async (gatewayId: string): Promise<MemberView> => (await api(strict.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json.members[0];
      const silent = await startHostileAgent(strict.url, token);
      hostiles.push(silent);
      const flooder = await startHostileAgent(strict.url, token);
      hostiles.push(flooder);
      for (let i = 0; i < 500; i++) flooder.ws.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }));
      await expect.poll(() => flooder.closeCode, { timeout: 10_000 }).toBe(4013);
      await expect.poll(() => silent.closeCode, { timeout: 15_000 }).toBe(4011);
      await expect.poll(async () => (await view(flooder.gatewayId)).status, { timeout: 10_000 }).toBe('offline');
      await expect.poll(async () => (await view(silent.gatewayId)).status, { timeout: 10_000 }).toBe('offline');
      const flood = (await view(flooder.gatewayId)).lastError;
      expect(flood?.code).toBe('BadGateway');
      expect(flood?.message).toMatch(
        /^hub -> agent: the hub closed the agent's connection \(close code 4013, frame flood\): agent frame flood: \d+ frames within 1000 ms, over the 100 GATEHOUSE_AGENT_FRAME_RATE allows$/,
      );
      expect((await view(silent.gatewayId)).lastError?.message).toBe(
        "hub -> agent: the hub closed the agent's connection (close code 4011, agent not reading): agent not reading: no answer to the hub's ping in 2 s",
      );
    } finally {
      await strict.stop();
    }
  }, 60_000);

  it("an agent's CANCEL, then an answer the hub refuses, are its last error; the caller going away and the agent's normal close are not", async () => {
    const hostile = await startHostileAgent(hub.url, token);
    hostiles.push(hostile);
    const conn = await connectionOn(hostile.gatewayId, 'http://intranet.example/api');

    // The caller goes away mid-call (the hub cancels toward the agent): no error of the member's.
    hostile.answer = () => {};
    const gone = new AbortController();
    const call = fetch(`${hub.url}/v1/connections/${conn}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'GET', url: 'slow' }),
      signal: gone.signal,
    }).catch(() => undefined);
    await expect.poll(() => hostile.heads.length, { timeout: 10_000 }).toBe(1);
    gone.abort();
    await call;
    await expect.poll(() => hostile.cancelled.has(hostile.heads[0]!.stream), { timeout: 10_000 }).toBe(true);
    // A FAILURE for the call the hub already ended comes late: dropped, not recorded.
    await hostile.send({ type: FrameType.Failure, stream: hostile.heads[0]!.stream, msg: { code: 'GatewayTimeout', message: 'late' } });
    expect((await member(hostile.gatewayId)).lastError).toBeUndefined();

    // The agent cancels a call: recorded with the agent's reason, filtered.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Cancel, stream, msg: { reason: 'backend pool\u0000 exhausted' } });
    };
    const r = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'x' });
    expect(r.status).toBe(502);
    const m = await member(hostile.gatewayId);
    expect(m.lastError).toEqual({
      code: 'BadGateway',
      message: 'agent -> hub: the agent cancelled the call; the agent reported: backend pool  exhausted',
      at: expect.any(String),
    });
    expect(m.lastError?.message).toBe(r.json.error.message);

    // An answer the hub refuses (its body longer than its head declared): the refusal is the last error now.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Response, stream, msg: { status: 200, headers: [['content-length', '5']] }, data: Buffer.from('hello, and more') });
    };
    const refused = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'y' });
    expect(refused.status).toBe(502);
    const after = (await member(hostile.gatewayId)).lastError;
    expect(after?.code).toBe('BadGateway');
    expect(after?.message).toMatch(new RegExp(`^hub <- agent: the answer of agent ${hostile.memberId} was (cut off|refused)`));
    expect(after?.message).toBe(refused.json.error.message);

    // Its own close (1005, no code): no error; the member goes offline with its last error kept.
    await hostile.close();
    await expect.poll(async () => (await member(hostile.gatewayId)).status, { timeout: 10_000 }).toBe('offline');
    expect((await member(hostile.gatewayId)).lastError).toEqual(after);
  }, 60_000);
});

describe('what one hub keeps of last errors is bounded', () => {
  it('one entry a member, at most MAX_MEMBER_ERRORS members (the oldest error forgotten first), a message cut at MAX_ERROR_MESSAGE code points', () => {
    expect([MAX_MEMBER_ERRORS, MAX_ERROR_MESSAGE]).toEqual([10_000, 600]);
    const kept = new MemberErrors(3);
    for (const m of ['a', 'b', 'c']) kept.record(m, 'BadGateway', `error of ${m}`);
    // A newer error of `a` replaces its old one and makes it the newest: `b` is the oldest now.
    kept.record('a', 'BackendUnreachable', 'again');
    kept.record('d', 'BadGateway', 'error of d');
    expect(kept.size).toBe(3);
    expect(kept.get('b')).toBeUndefined();
    expect(kept.get('a')?.code).toBe('BackendUnreachable');
    for (let i = 0; i < MAX_MEMBER_ERRORS + 50; i++) kept.record(`m${i}`, 'BadGateway', 'x');
    expect(kept.size).toBe(3);
    const full = new MemberErrors();
    for (let i = 0; i < MAX_MEMBER_ERRORS + 50; i++) full.record(`m${i}`, 'BadGateway', 'x');
    expect(full.size).toBe(MAX_MEMBER_ERRORS);
    expect(full.get('m49')).toBeUndefined();
    expect(full.get('m50')).toBeDefined();
    // 700 emoji: 600 whole ones and "...", never half a surrogate pair.
    full.record('long', 'BadGateway', '😀'.repeat(700));
    expect(full.get('long')?.message).toBe(`${'😀'.repeat(MAX_ERROR_MESSAGE)}...`);
  });
});
