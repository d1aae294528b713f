// Issue 22, findings 3 and 6: a hostile agent holding a valid credential (a raw socket speaking the real protocol)
// cannot make the hub queue without bound or hold idle sockets, bad credentials cannot make it look up or log
// without bound, and another tenant's gateway (real agent, real echo service) keeps answering throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AgentBounds, CloseCode, FrameType, Limits, WriteGate, encodeFrame, gatewayMemoryBound } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { clientMessage, openHostileAgent, type HostileAgent } from '../helpers/hostile-agent-socket.js';
import { FailureWindow } from '../../packages/hub/dist/agents/failure-window.js';
import { MIN_GRACE_MS } from '../../packages/hub/dist/agents/pending-hellos.js';
import { FrameRate, WsFrameCounter } from '../../packages/hub/dist/agents/frame-meter.js';
import fc from 'fast-check';

let entra: FakeEntra;
let echo: EchoServer;
let token: string;

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)), 'utf8');
const MiB = 1024 * 1024;

/** A member registered through the agent API itself (no agent process): its credential and gateway. */
async function member(hubUrl: string): Promise<{ gatewayId: string; memberId: string; credential: string; connId: string }> {
  const gw = await api(hubUrl, token, 'POST', '/v1/gateways', { name: 'hostile' });
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const r = await api(hubUrl, undefined, 'POST', '/v1/agent/register', {
    gatewayId: gw.json.id,
    registrationKey: gw.json.registrationKey,
    name: 'hostile',
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sealedPrivateKey: 'sealed',
  });
  expect(r.status).toBe(201);
  const conn = await api(hubUrl, token, 'POST', '/v1/connections', {
    authType: 'AnonymousGateway',
    baseResourceUrl: echo.url,
    gatewayId: gw.json.id,
    timeoutSeconds: 90,
  });
  expect(conn.status).toBe(201);
  return { gatewayId: gw.json.id, memberId: r.json.memberId, credential: r.json.credential, connId: conn.json.id };
}

async function hostile(hub: HubProc, credential: string): Promise<HostileAgent> {
  const a = await openHostileAgent(hub.port, credential);
  expect(a.status).toBe(101);
  return a.agent!;
}

/** The hub's resident memory now (VmRSS). */
function rss(hub: HubProc): number {
  let status = '';
  try {
    status = readFileSync(`/proc/${hub.child.pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Calls tenant B's gateway every 100 ms until stopped: every status it got. */
function otherTenant(hub: HubProc, connId: string) {
  const statuses: number[] = [];
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop && i < 600; i++) {
      const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: `echo/other-${i}` }).catch(() => ({ status: -1 }));
      statuses.push(r.status);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  return {
    statuses,
    stop: async () => {
      stop = true;
      await done;
    },
  };
}

/** Samples the hub's RSS every 100 ms: the highest seen. */
function rssPeak(hub: HubProc) {
  let peak = rss(hub);
  const timer = setInterval(() => {
    peak = Math.max(peak, rss(hub));
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rss(hub));
    },
  };
}

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

/** A hub with these settings and another tenant on it: a gateway with a real agent and an Anonymous connection to
 *  the echo service, whose calls must keep answering while an attack runs. Started before the describe's tests,
 *  stopped after them. */
function hubWithOtherTenant(env: Record<string, string>) {
  const t = {} as { hub: HubProc; good: AgentProc; goodConn: string };
  beforeAll(async () => {
    t.hub = await startHub(entra, env);
    const g = await gatewayWithAgent(t.hub.url, token, [`${echo.url}/`], 'tenant-b');
    t.good = g.agent;
    t.goodConn = (
      await api(t.hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })
    ).json.id;
  });
  afterAll(async () => {
    await t.good?.stop();
    await t.hub?.stop();
  });
  return t;
}

describe('finding 3: an agent that never reads', () => {
  const t = hubWithOtherTenant({
    GATEHOUSE_AGENT_READ_TIMEOUT: '3s',
    GATEHOUSE_AGENT_QUEUE_MAX: '2MiB',
    GATEHOUSE_AGENT_MAX_STREAMS: '8',
    GATEHOUSE_THROTTLE: '100000/60s',
  });

  it('finding 3: an agent that sends PINGs and never reads is closed with 4011 at its read deadline; its calls fail at once with 502 naming the hub -> agent link', async () => {
    const m = await member(t.hub.url);
    const agent = await hostile(t.hub, m.credential);
    await agent.hello();
    agent.stopReading();
    // It keeps "alive" from its side: a PING every 100 ms (bounded: 30 s at most).
    const pinger = setInterval(() => agent.ping(), 100);
    const other = otherTenant(t.hub, t.goodConn);
    const before = rss(t.hub);
    const peak = rssPeak(t.hub);
    let grown = 0;
    try {
      // Each call's head is queued toward the agent, which never reads it; the connection's timeout is 90 s.
      const calls = await Promise.all(
        Array.from({ length: 6 }, (_, i) => api(t.hub.url, token, 'POST', `/v1/connections/${m.connId}/invoke`, { method: 'GET', url: `echo/${i}` })),
      );
      for (const r of calls) {
        expect(r.status).toBe(502);
        expect(r.json.error.code).toBe('BadGateway');
        expect(r.json.error.message).toMatch(/^hub -> agent: .*close code 4011, the agent stopped reading/);
      }
      const line = await t.hub.waitForLine((l) => l.includes('"closing agent session"') && l.includes(`"member":"${m.memberId}"`));
      expect(JSON.parse(line)).toMatchObject({ code: CloseCode.NotReading, reason: expect.stringMatching(/no answer to the hub's ping in 3 s/) });
      // What the hub queued reaches the agent once it reads again, the close frame last.
      expect(await agent.readUntilClose()).toBe(CloseCode.NotReading);
    } finally {
      clearInterval(pinger);
      agent.destroy();
      grown = peak.stop() - before;
      await other.stop();
    }
    expect(other.statuses.length).toBeGreaterThan(5);
    expect(other.statuses.every((s) => s === 200)).toBe(true);
    // Stated bound for this attack: the queue cap (2 MiB) plus the hub's own churn; far below 64 MiB.
    expect(grown).toBeLessThan(64 * MiB);
  });

  it('at most GATEHOUSE_AGENT_MAX_STREAMS calls ride one agent connection: one more gets 503 at once', async () => {
    const m = await member(t.hub.url);
    const agent = await hostile(t.hub, m.credential);
    await agent.hello();
    // It reads (and answers the hub's pings) but never answers a call: 8 calls fill it.
    const held = Array.from({ length: 8 }, (_, i) =>
      api(t.hub.url, token, 'POST', `/v1/connections/${m.connId}/invoke`, { method: 'GET', url: `echo/held-${i}` }),
    );
    await expect.poll(() => agent.frames.filter((f) => f.type === FrameType.RequestHead).length, { timeout: 15_000 }).toBe(8);
    const over = await api(t.hub.url, token, 'POST', `/v1/connections/${m.connId}/invoke`, { method: 'GET', url: 'echo/one-more' });
    expect(over.status).toBe(503);
    expect(over.json.error.code).toBe('ServiceUnavailable');
    expect(over.json.error.message).toMatch(/^hub -> agent: .*GATEHOUSE_AGENT_MAX_STREAMS/);
    expect(over.headers['retry-after']).toBe('1');
    agent.destroy();
    for (const r of await Promise.all(held)) expect(r.status).toBe(502);
    expect((await api(t.hub.url, token, 'POST', `/v1/connections/${t.goodConn}/invoke`, { method: 'GET', url: 'echo/after' })).status).toBe(200);
  });
});

describe('finding 3: the queue toward an agent is capped', () => {
  // A read deadline far away: only the queue cap can close the agent within this test.
  const t = hubWithOtherTenant({
    GATEHOUSE_AGENT_READ_TIMEOUT: '120s',
    GATEHOUSE_AGENT_QUEUE_MAX: '2MiB',
    GATEHOUSE_AGENT_MAX_STREAMS: '1000',
    GATEHOUSE_THROTTLE: '100000/60s',
    // Its PINGs come faster than the frame-rate bound allows: only the queue cap may close it here.
    GATEHOUSE_AGENT_FRAME_RATE: '100000000/1s',
    GATEHOUSE_AGENT_TENANT_FRAME_RATE: '100000000/1s',
    GATEHOUSE_AGENT_HUB_FRAME_RATE: '200000000/1s',
  });

  it('finding 3: frames queued toward a never-reading agent are capped (GATEHOUSE_AGENT_QUEUE_MAX): new calls are refused (503) while the link is backed up, and an agent that still does not read is closed with 4011 and its calls fail with 502 at once', async () => {
    const m = await member(t.hub.url);
    const agent = await hostile(t.hub, m.credential);
    await agent.hello();
    agent.stopReading();
    const other = otherTenant(t.hub, t.goodConn);
    const before = rss(t.hub);
    const peak = rssPeak(t.hub);
    let grown = 0;
    try {
      // 160 request heads of about 60 KB each (9.6 MB): more than the kernel's buffers (about 4 MiB here) plus the
      // 2 MiB cap. Heads stop being queued at the room left for them (headRoom): the rest are refused, coded, and
      // the connection stays open (a slow link is not closed for a burst of calls).
      const big = 'x'.repeat(60_000);
      const calls = Array.from({ length: 160 }, (_, i) =>
        api(t.hub.url, token, 'POST', `/v1/connections/${m.connId}/invoke`, { method: 'GET', url: `echo/${i}`, headers: { 'x-big': big } }),
      );
      const refused = await Promise.race([Promise.all(calls), new Promise<undefined>((r) => setTimeout(() => r(undefined), 8000))]);
      expect(refused, 'every call answered while the agent was still connected').toBeUndefined();
      expect(
        t.hub.lines.some((l) => l.includes('"closing agent session"') && l.includes(`"member":"${m.memberId}"`)),
        'heads alone closed the connection',
      ).toBe(false);
      // The agent keeps sending PINGs and never reads the PONGs: they are frames that do not wait, and they fill
      // the queue to its cap (15 bytes each on the wire: 400,000 of them are 6 MB, past the kernel's buffers too).
      const ping = clientMessage(encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }));
      for (let round = 0; round < 40 && !t.hub.lines.some((l) => l.includes('"closing agent session"') && l.includes(`"member":"${m.memberId}"`)); round++) {
        agent.socket.write(Buffer.concat(Array.from({ length: 10_000 }, () => ping)));
        await new Promise((r) => setTimeout(r, 50));
      }
      const line = await t.hub.waitForLine((l) => l.includes('"closing agent session"') && l.includes(`"member":"${m.memberId}"`));
      expect(JSON.parse(line)).toMatchObject({ code: CloseCode.NotReading });
      expect(JSON.parse(line).reason).toMatch(/bytes (queued|buffered) toward it, over the 2097152-byte limit/);
      const answers = await Promise.all(calls);
      const backedUp = answers.filter((r) => r.status === 503);
      expect(backedUp.length, 'calls refused while the link was backed up').toBeGreaterThan(0);
      for (const r of backedUp) {
        expect(r.json.error.code).toBe('ServiceUnavailable');
        expect(r.json.error.message).toMatch(/^hub -> agent: the link to member .* is backed up/);
      }
      // The calls that were queued fail with the connection, at once.
      const lost = answers.filter((r) => r.status === 502);
      expect(lost.length).toBeGreaterThan(0);
      for (const r of lost) expect(r.json.error.message).toMatch(/^hub -> agent: .*close code 4011, the agent stopped reading/);
      expect(answers.every((r) => r.status === 502 || r.status === 503)).toBe(true);
      expect(await agent.readUntilClose()).toBe(CloseCode.NotReading);
    } finally {
      agent.destroy();
      grown = peak.stop() - before;
      await other.stop();
    }
    expect(other.statuses.every((s) => s === 200)).toBe(true);
    // Stated bound: the 2 MiB queue, the 160 calls' own requests (60 KB each) while the hub reads them, and the
    // garbage of decoding 400,000 PINGs that V8 has not collected yet (RSS: Node 24 collects later than Node 20,
    // 170 MB here against about 60 on 20). Far below what an unbounded queue reaches.
    expect(grown).toBeLessThan(256 * MiB);
  });
});

/** One raw client frame masked with the all-zero key: `fin` false leaves the message open for continuations. */
const rawFrame = (opcode: number, payload: Buffer, fin: boolean): Buffer =>
  Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);

describe('frame flood from one agent', () => {
  // The default bound (50,000 frames a second): a busy real agent sends a few thousand (bench/agent-frames.ts).
  // The tenant's and the hub's frame budgets far away: only the per-connection bound may act here (a budget would
  // slow the flood by backpressure before it reached the bound).
  const t = hubWithOtherTenant({
    GATEHOUSE_THROTTLE: '100000/60s',
    GATEHOUSE_AGENT_TENANT_FRAME_RATE: '100000000/1s',
    GATEHOUSE_AGENT_HUB_FRAME_RATE: '200000000/1s',
  });
  // [kind, bytes to repeat, WebSocket frames in them]
  const floods: Array<[string, () => Buffer, number]> = [
    ['unsolicited PONGs', () => clientMessage(encodeFrame({ type: FrameType.Pong, stream: 0, data: Buffer.alloc(8) })), 1],
    // ws takes at most 16,384 fragments per message: each message here is a valid PONG in 1,000 fragments.
    ['empty continuation frames', () => pongInFragments(1_000), 1_000],
  ];
  // (WebSocket pings are counted too; a burst of them is cut by ws itself first, past its pending auto-pongs.)

  /** One PONG frame sent as `n` WebSocket fragments: its bytes in the first, then empty continuations, the last final. */
  function pongInFragments(n: number): Buffer {
    const pong = encodeFrame({ type: FrameType.Pong, stream: 0, data: Buffer.alloc(8) });
    return Buffer.concat([
      rawFrame(0x2, pong, false),
      ...Array.from({ length: n - 2 }, () => rawFrame(0x0, Buffer.alloc(0), false)),
      rawFrame(0x0, Buffer.alloc(0), true),
    ]);
  }

  it.each(floods)(
    "frame flood from one agent (%s): it is closed with 4013 and logged once, while another tenant's calls keep being answered",
    async (_kind, frame, framesIn) => {
      // Before: nothing bounded the frames an agent sends; 14.5 M unsolicited PONGs slowed every tenant about 40x.
      const m = await member(t.hub.url);
      const agent = await hostile(t.hub, m.credential);
      await agent.hello();
      const other = otherTenant(t.hub, t.goodConn);
      try {
        await new Promise((r) => setTimeout(r, 300));
        // Rounds of 20,000 frames, bounded: 200 rounds (4 M frames) or until the hub closes the connection.
        const one = frame();
        const batch = Buffer.concat(Array.from({ length: 20_000 / framesIn }, () => one));
        for (let round = 0; round < 200 && agent.closeCode === undefined && !agent.socket.destroyed; round++) {
          agent.socket.write(batch);
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(await agent.readUntilClose()).toBe(CloseCode.FrameFlood);
        await t.hub.waitForLine((l) => l.includes('"agent disconnected"') && l.includes(`"member":"${m.memberId}"`));
        const lines = t.hub.lines.filter((l) => l.includes('"agent frame flood"') && l.includes(`"member":"${m.memberId}"`));
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0]!)).toMatchObject({
          closeCode: CloseCode.FrameFlood,
          why: expect.stringMatching(/^agent frame flood: \d+ frames within 1000 ms, over the 50000 GATEHOUSE_AGENT_FRAME_RATE allows$/),
        });
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        agent.destroy();
        await other.stop();
      }
      expect(other.statuses.length).toBeGreaterThan(3);
      expect(other.statuses.every((s) => s === 200)).toBe(true);
      // The other tenant's real agent was never taken for a flood.
      expect(t.hub.lines.filter((l) => l.includes('"agent frame flood"') && l.includes(`"member":"${t.good.memberId}"`))).toHaveLength(0);
    },
    60_000,
  );
});

describe('the frame meter', () => {
  /** A masked client frame with a payload of `n` bytes (the 16- and 64-bit length forms past 125 and 65,535). */
  const frameOf = (n: number): Buffer => {
    const ext = n < 126 ? Buffer.alloc(0) : n < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
    if (n >= 126 && n < 65536) ext.writeUInt16BE(n);
    else if (n >= 65536) ext.writeBigUInt64BE(BigInt(n));
    return Buffer.concat([Buffer.from([0x82, 0x80 | (n < 126 ? n : n < 65536 ? 126 : 127)]), ext, Buffer.alloc(4), Buffer.alloc(n, 1)]);
  };

  it('counts every frame of a byte stream however it is cut into chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 65_530, max: 70_000 })), { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1 }),
        (sizes, cuts) => {
          const bytes = Buffer.concat(sizes.map(frameOf));
          const counter = new WsFrameCounter();
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            counter.feed(bytes.subarray(at, at + n));
            at += n;
          }
          expect(counter.frames).toBe(sizes.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('calls the flood back once when a period passes its limit, and forgets frames older than a period (and a tenth)', () => {
    let now = 0;
    const floods: number[] = [];
    const rate = new FrameRate(
      { limit: 10, periodMs: 1000 },
      (n) => floods.push(n),
      () => now,
    );
    const tiny = frameOf(0);
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    now = 1100;
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    expect(floods).toEqual([]);
    rate.feed(Buffer.concat([tiny, tiny]));
    rate.feed(tiny);
    expect(floods).toEqual([12]);
  });
});

describe('the memory one gateway can hold', () => {
  it('docs/protocol.md and docs/operations.md state the bound the code enforces', () => {
    const perMember = AgentBounds.maxStreams * Limits.maxStreamWindowBytes + AgentBounds.queueBytes;
    expect(gatewayMemoryBound()).toBe(AgentBounds.membersPerGateway * perMember);
    const protocol = doc('protocol.md');
    expect(protocol).toContain(
      `${AgentBounds.maxStreams} × ${Limits.maxStreamWindowBytes / MiB} MiB + ${AgentBounds.queueBytes / MiB} MiB = **${perMember / MiB} MiB**`,
    );
    expect(protocol).toContain(`at most **${gatewayMemoryBound() / MiB} MiB**`);
    expect(protocol).toContain(`A gateway has at most ${AgentBounds.membersPerGateway} members`);
    expect(doc('operations.md')).toContain(
      `${AgentBounds.membersPerGateway} members × (${AgentBounds.maxStreams} × 1 MiB + ${AgentBounds.queueBytes / MiB} MiB) = ${gatewayMemoryBound() / MiB} MiB`,
    );
  });
});

describe('finding 6: bad credentials and sockets that never send HELLO', () => {
  let started: number;
  beforeAll(() => {
    started = Date.now();
  });
  const t = hubWithOtherTenant({
    GATEHOUSE_AGENT_HELLO_TIMEOUT: '3s',
    GATEHOUSE_AGENT_PENDING_MAX: '3/5',
    GATEHOUSE_AGENT_AUTH_FAILURES: '10/60s',
    GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS: '1000/60s',
    GATEHOUSE_THROTTLE: '100000/60s',
  });

  it('finding 6: sockets that never send HELLO are closed after the HELLO deadline (4005); at 3 per member and 5 on the hub the longest-waiting is closed (4012), so a real agent still gets in', async () => {
    const a = await member(t.hub.url);
    const b = await member(t.hub.url);
    const waitingA: HostileAgent[] = [];
    for (let i = 0; i < 3; i++) waitingA.push(await hostile(t.hub, a.credential));
    // A 4th of member a: a's longest-waiting socket makes room.
    const newA = await hostile(t.hub, a.credential);
    expect(await waitingA[0]!.readUntilClose()).toBe(CloseCode.TooManyPending);
    // Member b fills the hub to 5; its 3rd, once a's second has had its chance (MIN_GRACE_MS after its upgrade:
    // the hub has measured no HELLO yet), takes the hub's longest-waiting place (a's second).
    const waitingB: HostileAgent[] = [];
    for (let i = 0; i < 2; i++) waitingB.push(await hostile(t.hub, b.credential));
    await new Promise((r) => setTimeout(r, MIN_GRACE_MS + 50));
    waitingB.push(await hostile(t.hub, b.credential));
    expect(await waitingA[1]!.readUntilClose()).toBe(CloseCode.TooManyPending);
    // While the places are full, a real agent of another member still connects and is welcomed.
    const c = await member(t.hub.url);
    const real = await hostile(t.hub, c.credential);
    expect(await real.hello()).toBeGreaterThan(0);
    const rest = [waitingA[2]!, newA, ...waitingB].filter((w) => w.closeCode === undefined);
    const codes = await Promise.all(rest.map((w) => w.readUntilClose(10_000)));
    expect(codes.every((code) => code === CloseCode.HandshakeTimeout || code === CloseCode.TooManyPending)).toBe(true);
    expect(codes.filter((code) => code === CloseCode.HandshakeTimeout).length).toBeGreaterThanOrEqual(4);
    // Their places are free again: a member connects and is welcomed.
    const later = await hostile(t.hub, a.credential);
    expect(await later.hello()).toBeGreaterThan(0);
    for (const w of [...waitingA, newA, ...waitingB, real, later]) w.destroy();
    expect((await api(t.hub.url, token, 'POST', `/v1/connections/${t.goodConn}/invoke`, { method: 'GET', url: 'echo/pending' })).status).toBe(200);
  });

  it('red team: a member that connects and drops in a loop is refused (429) after 60 connections a minute, before any session; another member still connects', async () => {
    const m = await member(t.hub.url);
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) {
      const r = await openHostileAgent(t.hub.port, m.credential);
      statuses.push(r.status);
      if (r.status === 429) expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      r.agent?.destroy();
    }
    expect(statuses.slice(0, 60).every((s) => s === 101)).toBe(true);
    expect(statuses.slice(60).every((s) => s === 429)).toBe(true);
    const other = await member(t.hub.url);
    const ok = await hostile(t.hub, other.credential);
    expect(await ok.hello()).toBeGreaterThan(0);
    ok.destroy();
  });

  it('red team: one frame cannot end the hub: a FAILURE whose code is 64 two-byte characters (a close reason over 123 bytes), a HELLO with a NUL, a bad WebSocket frame on a closed place; each closes its own connection', async () => {
    const m = await member(t.hub.url);
    const pid = t.hub.child.pid;
    // FAILURE (type 8) on stream 1 with an unknown code the hub quotes in its close reason: 128 bytes of UTF-8.
    const failure = (code: string) => {
      const payload = Buffer.from(JSON.stringify({ code, message: 'x' }));
      const head = Buffer.alloc(5);
      head[0] = FrameType.Failure;
      head.writeUInt32BE(1, 1);
      return Buffer.concat([head, payload]);
    };
    for (const before of [false, true]) {
      const agent = await hostile(t.hub, m.credential);
      if (before) await agent.hello();
      agent.send(failure('€'.repeat(64)));
      const code = await agent.readUntilClose();
      expect([CloseCode.MalformedFrame, CloseCode.UnexpectedFrame]).toContain(code);
      agent.destroy();
    }
    const nul = await hostile(t.hub, m.credential);
    nul.send(encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions: [3], agentVersion: 'v\u0000', hostname: 'h\u0000', capabilities: [] } }));
    expect(await nul.readUntilClose()).toBe(CloseCode.MalformedFrame);
    nul.destroy();
    // A socket whose place was taken (4012), then a frame with RSV2 set: ws's error on a closed session.
    const first = await hostile(t.hub, m.credential);
    const others = [];
    for (let i = 0; i < 3; i++) others.push(await hostile(t.hub, m.credential));
    expect(await first.readUntilClose()).toBe(CloseCode.TooManyPending);
    first.socket.write(Buffer.from([0xa2, 0x80, 0, 0, 0, 0]));
    for (const o of others) o.socket.write(Buffer.from([0xa2, 0x80, 0, 0, 0, 0]));
    await new Promise((r) => setTimeout(r, 500));
    for (const o of [first, ...others]) o.destroy();
    expect(t.hub.child.exitCode).toBeNull();
    expect(t.hub.child.pid).toBe(pid);
    expect((await api(t.hub.url, token, 'POST', `/v1/connections/${t.goodConn}/invoke`, { method: 'GET', url: 'echo/after-frames' })).status).toBe(200);
  });

  it('finding 6: 2,000 upgrades with bad credentials are refused with 429 before any lookup once limited, per member id and address and per address, logged as a few summary lines; good agents from another address still connect', async () => {
    const victim = await member(t.hub.url);
    const friend = await member(t.hub.url);
    const other = otherTenant(t.hub, t.goodConn);
    const [victimId] = victim.credential.split('.');
    /** `n` upgrades, 20 at a time: the statuses, and whether each 429 said when to retry. */
    async function storm(n: number, credential: (i: number) => string) {
      const statuses: number[] = [];
      let withRetryAfter = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < n) {
            const i = next++;
            const r = await openHostileAgent(t.hub.port, credential(i));
            statuses.push(r.status);
            if (r.status === 429 && Number(r.headers['retry-after']) > 0 && JSON.parse(r.body).error.code === 'TooManyRequests') withRetryAfter++;
            r.agent?.destroy();
          }
        }),
      );
      return { count: (s: number) => statuses.filter((x) => x === s).length, withRetryAfter, total: statuses.length };
    }
    // One member id from one address: 10 failures per 60 s, then 429 (20 in flight may pass the check before the first failures count).
    const one = await storm(1000, (i) => `${victimId}.wrong-${i}`);
    expect(one.total).toBe(1000);
    expect(one.count(401)).toBeGreaterThanOrEqual(10);
    expect(one.count(401)).toBeLessThanOrEqual(10 + 20);
    expect(one.count(429)).toBe(1000 - one.count(401));
    expect(one.withRetryAfter).toBe(one.count(429));
    // While limited, the member's right credential still gets in from this address (red team B3: its hash is known
    // in memory, so letting it through costs no lookup a guess could buy).
    const right = await openHostileAgent(t.hub.port, victim.credential);
    expect(right.status).toBe(101);
    right.agent!.destroy();
    // From another address the member's own agent still connects: a storm elsewhere cannot lock it out.
    const own = await openHostileAgent(t.hub.port, victim.credential, { localAddress: '127.0.0.2' });
    expect(own.status).toBe(101);
    expect(await own.agent!.hello()).toBeGreaterThan(0);
    own.agent!.destroy();

    // The unauthenticated registration route: a wrong key for one gateway, limited the same way (per gateway id).
    const reg = [];
    for (let i = 0; i < 13; i++)
      reg.push(
        await api(t.hub.url, undefined, 'POST', '/v1/agent/register', {
          gatewayId: friend.gatewayId,
          registrationKey: `ghr_wrong-${i}`,
          publicKeyPem: 'x',
          sealedPrivateKey: 'x',
        }),
      );
    expect(reg.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill(401));
    expect(reg.slice(10).map((r) => r.status)).toEqual([429, 429, 429]);
    expect(reg[12]!.json.error.code).toBe('TooManyRequests');
    expect(Number(reg[12]!.headers['retry-after'])).toBeGreaterThan(0);

    // Every attempt a new member id: the address limit (1,000 per 60 s, about 1,030 failures counted so far).
    const many = await storm(1000, () => `${randomUUID()}.wrong`);
    const failedBefore = one.count(401) + 10;
    expect(many.count(401) + many.count(429)).toBe(1000);
    expect(many.count(401)).toBeGreaterThanOrEqual(1000 - failedBefore);
    expect(many.count(401)).toBeLessThanOrEqual(1000 - failedBefore + 20);
    expect(many.withRetryAfter).toBe(many.count(429));
    // 127.0.0.1 is limited now; another member from another address is not.
    const elsewhere = await openHostileAgent(t.hub.port, friend.credential, { localAddress: '127.0.0.2' });
    expect(elsewhere.status).toBe(101);
    expect(await elsewhere.agent!.hello()).toBeGreaterThan(0);
    elsewhere.agent!.destroy();
    // ... yet a valid credential still gets in from it (red team B3), a guess does not.
    const friendAgain = await openHostileAgent(t.hub.port, friend.credential);
    expect(friendAgain.status).toBe(101);
    friendAgain.agent!.destroy();
    expect((await openHostileAgent(t.hub.port, `${friend.memberId}.wrong`)).status).toBe(429);

    // Logged as summaries (one per 10 s at most), never a line per failure.
    const summary = await t.hub.waitForLine((l) => l.includes('"agent authentications refused"'), 15_000);
    expect(JSON.parse(summary)).toMatchObject({ failed: expect.any(Number), limited: expect.any(Number), addresses: 1 });
    expect(t.hub.lines.filter((l) => l.includes('refused at upgrade'))).toEqual([]);
    expect(t.hub.lines.filter((l) => l.includes('"agent authentications refused"')).length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 10_000) + 1);
    await other.stop();
    expect(other.statuses.length).toBeGreaterThan(5);
    expect(other.statuses.every((s) => s === 200)).toBe(true);
  }, 180_000);
});

describe('the failure windows are bounded', () => {
  it('keep at most maxKeys keys, forget expired ones, and limit a key past its count until its window ends', () => {
    let now = 0;
    const w = new FailureWindow({ limit: 3, periodMs: 1000 }, 100, () => now);
    for (let i = 0; i < 20_000; i++) w.add(`10.0.${i >> 8}.${i & 255}`);
    expect(w.size).toBe(100);
    for (let i = 0; i < 3; i++) w.add('attacker');
    expect(w.waitMs('attacker')).toBe(1000);
    now = 999;
    expect(w.waitMs('attacker')).toBe(1);
    now = 1000;
    expect(w.waitMs('attacker')).toBe(0);
    w.add('late');
    expect(w.size).toBe(1);
  });
});

describe("the hub's write gate toward an agent", () => {
  it('queues frames of every type up to its bound, then drops the rest and reports the overflow once', async () => {
    // A socket that never writes anything: every frame stays queued.
    let handed = 0;
    const overflows: number[] = [];
    const gate = new WriteGate(
      (frame) => {
        handed += frame.length;
      },
      1024,
      undefined,
      undefined,
      { maxQueued: 4096, onOverflow: (q) => overflows.push(q) },
    );
    const pong = encodeFrame({ type: FrameType.Pong, stream: 0, data: Buffer.alloc(8) });
    for (let i = 0; i < 1000; i++) gate.send(pong);
    expect(handed).toBeLessThanOrEqual(4096);
    expect(gate.queued).toBe(handed);
    await new Promise((r) => setImmediate(r));
    expect(overflows).toHaveLength(1);
    expect(overflows[0]).toBeGreaterThan(4096);
    // Shut: nothing more goes out, and nobody waits on it.
    gate.send(pong);
    gate.sendData(1, Buffer.alloc(100));
    expect(handed).toBe(gate.queued);
    expect(gate.ready()).toBeUndefined();
  });
});
