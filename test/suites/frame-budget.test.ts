// Issue 22, red-team finding B2: the frame bound was per WebSocket only, so six connections of one tenant at 40,000
// PINGs a second each (under 50,000 per connection) took another tenant from about 100 calls a second (p95 10 ms)
// to 26 calls in 3 s (p95 809 ms). Now each tenant has one frame budget for all its connections and the hub one for
// all tenants, enforced by backpressure; and the per-connection bound slides instead of restarting each second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { AgentBounds, CloseCode, FrameType, encodeFrame } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { registerMember } from '../helpers/hostile-agent.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { FrameBudgets, fairShare } from '../../packages/hub/dist/agents/frame-budget.js';
import { FrameRate } from '../../packages/hub/dist/agents/frame-meter.js';

const FLOODER = fileURLToPath(new URL('../helpers/frame-flooder.mjs', import.meta.url));
const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const THROTTLED = '"agent frames throttled';
const TENANT_BUDGET = AgentBounds.tenantFrameRate.limit;

/** Calls `conn` one after another for `ms` (at most 2,000): each call's status and time. */
async function callsFor(hub: HubProc, token: string, conn: string, ms: number): Promise<{ statuses: number[]; times: number[] }> {
  const statuses: number[] = [];
  const times: number[] = [];
  const end = Date.now() + ms;
  for (let i = 0; i < 2_000 && Date.now() < end; i++) {
    const t0 = performance.now();
    const r = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: `echo/b2-${i}` }).catch(() => ({ status: -1 }));
    times.push(performance.now() - t0);
    statuses.push(r.status);
  }
  return { statuses, times };
}
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))] ?? Number.NaN;

describe('B2, agents under the frame bound still slow other tenants', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let good: AgentProc;
  let goodGateway: string;
  let goodConn: string;
  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    token = await entra.token();
    // The default tenant budget (10,000 a second; at 50,000 the other tenant's median stayed under a second in only
    // three runs of four at load 16 on 2 cores: docs/performance.md); the hub's budget out of the way.
    hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s', GATEHOUSE_AGENT_HUB_FRAME_RATE: '200000000/1s' });
    const g = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'tenant-a');
    good = g.agent;
    goodGateway = g.gatewayId;
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

  it("B2: six connections of one tenant at 40,000 frames/s each (under the per-connection bound) are throttled to their tenant's budget, logged once each, never cut; another tenant's calls are all answered, median under 1 s", async () => {
    const tB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000001' });
    const members = [];
    for (let i = 0; i < 6; i++) members.push(await registerMember(hub.url, tB, `flood-${i}`));
    const before = await callsFor(hub, token, goodConn, 2_000);
    const started = performance.now();
    const flooder = startProc([FLOODER, String(hub.port), members.map((m) => m.credential).join(',')], { RATE: '40000', SECS: '5' });
    try {
      await flooder.waitForLine((l) => l.startsWith('flooder: start'), 30_000);
      const during = await callsFor(hub, token, goodConn, 4_000);
      const lag = (await (await fetch(`${hub.url}/metrics`)).text()).match(/^gatehouse_hub_nodejs_eventloop_lag_p99_seconds (\S+)/m)?.[1];
      await flooder.exited;
      const written = flooder.lines.find((l) => l.startsWith('flooder: frames'));
      // What the hub read from the six, as each one's "agent disconnected" line counts it.
      let read = 0;
      for (const m of members) {
        const line = await hub.waitForLine((l) => l.includes('"agent disconnected"') && l.includes(`"member":"${m.memberId}"`), 30_000);
        read += JSON.parse(line).frames as number;
      }
      const seconds = (performance.now() - started) / 1000;
      // The figures, for docs/performance.md (not asserted: this machine is shared).
      console.log(
        `B2: other tenant before: ${before.times.length} calls in 2 s, p50 ${quantile(before.times, 0.5).toFixed(1)} ms, p95 ${quantile(before.times, 0.95).toFixed(1)} ms; ` +
          `during the flood: ${during.times.length} calls in 4 s, p50 ${quantile(during.times, 0.5).toFixed(1)} ms, p95 ${quantile(during.times, 0.95).toFixed(1)} ms; ${written}; the hub read ${read} frames of them in ${seconds.toFixed(1)} s; hub event-loop lag p99 ${lag} s`,
      );
      // At most the tenant's budget over the time the sockets were open, plus its burst (a tenth of a period) and one
      // read of the socket per connection. Before: each connection was read at whatever the hub could take.
      expect(read).toBeGreaterThan(0);
      // The flooder's PING as a masked client frame: the most of them one 64 KiB read of the socket holds.
      const pingBytes = encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }).length + 6;
      const oneRead = Math.ceil((64 * 1024) / pingBytes);
      expect(read).toBeLessThanOrEqual(TENANT_BUDGET * seconds + TENANT_BUDGET / 10 + members.length * oneRead);
      expect(during.statuses.length).toBeGreaterThan(3);
      expect(during.statuses.every((s) => s === 200)).toBe(true);
      expect(quantile(during.times, 0.5)).toBeLessThan(1_000);
      // Each flooding connection was throttled (logged once), none closed for a flood of its own.
      for (const m of members) {
        const lines = hub.lines.filter((l) => l.includes(THROTTLED) && l.includes(`"member":"${m.memberId}"`));
        expect(lines, m.memberId).toHaveLength(1);
      }
      expect(hub.lines.filter((l) => l.includes('"agent frame flood"'))).toHaveLength(0);
      // The other tenant's real agent was never held back.
      expect(hub.lines.filter((l) => l.includes(THROTTLED) && l.includes(`"gateway":"${goodGateway}"`))).toHaveLength(0);
      expect(hub.lines.filter((l) => l.includes(THROTTLED))).toHaveLength(members.length);
    } finally {
      await flooder.stop('SIGKILL');
    }
    // The hub keeps serving after the flood.
    const after = await callsFor(hub, token, goodConn, 1_000);
    expect(after.statuses.every((s) => s === 200)).toBe(true);
  }, 120_000);
});

describe("B2, the hub's budget: flooding tenants share it, and another tenant keeps its calls", () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let good: AgentProc;
  let goodGateway: string;
  let goodConn: string;
  const HUB_BUDGET = 10_000;
  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    token = await entra.token();
    // The tenant budget above what three floods send: only the hub's can hold these floods.
    hub = await startHub(entra, {
      GATEHOUSE_THROTTLE: '100000/60s',
      GATEHOUSE_AGENT_TENANT_FRAME_RATE: '200000/1s',
      GATEHOUSE_AGENT_HUB_FRAME_RATE: `${HUB_BUDGET}/1s`,
    });
    const g = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'tenant-a');
    good = g.agent;
    goodGateway = g.gatewayId;
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

  it("B2: two tenants of three connections each at 40,000 frames/s each are held to the hub's budget together, each connection logged once; another tenant's calls are all answered, median under 1 s", async () => {
    const members = [];
    for (const t of ['c', 'd']) {
      const tok = await entra.token({ tid: `${t.repeat(8)}-0000-4000-8000-00000000000${t}`, oid: `${t.repeat(8)}-0000-4000-8000-000000000001` });
      for (let i = 0; i < 3; i++) members.push(await registerMember(hub.url, tok, `flood-${t}${i}`));
    }
    const started = performance.now();
    const flooder = startProc([FLOODER, String(hub.port), members.map((m) => m.credential).join(',')], { RATE: '40000', SECS: '5' });
    try {
      await flooder.waitForLine((l) => l.startsWith('flooder: start'), 30_000);
      const during = await callsFor(hub, token, goodConn, 4_000);
      await flooder.exited;
      let read = 0;
      for (const m of members) {
        const line = await hub.waitForLine((l) => l.includes('"agent disconnected"') && l.includes(`"member":"${m.memberId}"`), 30_000);
        read += JSON.parse(line).frames as number;
      }
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `B2 hub budget: other tenant during the flood: ${during.times.length} calls in 4 s, p50 ${quantile(during.times, 0.5).toFixed(1)} ms, p95 ${quantile(during.times, 0.95).toFixed(1)} ms; the hub read ${read} frames of the two tenants in ${seconds.toFixed(1)} s`,
      );
      expect(during.statuses.length).toBeGreaterThan(3);
      expect(during.statuses.every((s) => s === 200)).toBe(true);
      expect(quantile(during.times, 0.5)).toBeLessThan(1_000);
      for (const m of members)
        expect(
          hub.lines.filter((l) => l.includes(THROTTLED) && l.includes(`"member":"${m.memberId}"`)),
          m.memberId,
        ).toHaveLength(1);
      expect(hub.lines.filter((l) => l.includes(THROTTLED) && l.includes(`"gateway":"${goodGateway}"`))).toHaveLength(0);
      expect(hub.lines.filter((l) => l.includes('"agent frame flood"'))).toHaveLength(0);
      // The hub's budget over the time, plus what each tenant may take before the first share is reckoned (its
      // burst and a tenth of a period at its own budget) and one read per connection.
      const pingBytes = encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }).length + 6;
      const tenantTenth = 200_000 / 10;
      expect(read).toBeLessThanOrEqual(HUB_BUDGET * seconds + 2 * 2 * tenantTenth + members.length * Math.ceil((64 * 1024) / pingBytes));
    } finally {
      await flooder.stop('SIGKILL');
    }
  }, 120_000);
});

describe('B2: the frame budgets (a clock of the test)', () => {
  const PERIOD = 1000;
  it('B2: one tenant gets no more than its budget over time, however many connections it charges from', () => {
    let now = 0;
    const b = new FrameBudgets({ tenant: { limit: 1_000, periodMs: PERIOD }, hub: { limit: 1_000_000, periodMs: PERIOD } }, () => now);
    const conns = Array.from({ length: 8 }, () => b.join('tid:b'));
    // Each connection reads a chunk of 50 frames whenever it is not held; 10 s in 1 ms steps.
    const heldUntil = conns.map(() => 0);
    let read = 0;
    for (now = 0; now < 10_000; now++) {
      conns.forEach((c, i) => {
        if (now < heldUntil[i]!) return;
        read += 50;
        heldUntil[i] = now + c.charge(50);
      });
    }
    // 10 s at 1,000 a second, plus one burst (a tenth of a period) and one chunk per connection.
    expect(read).toBeLessThanOrEqual(10 * 1_000 + 100 + 8 * 50);
    expect(read).toBeGreaterThan(9 * 1_000);
    for (const c of conns) c.leave();
    expect(b.size).toBe(0);
  });

  it("B2: while the hub's budget is short, a flooding tenant gets an equal share and a light tenant is never held", () => {
    let now = 0;
    const b = new FrameBudgets({ tenant: { limit: 1_000_000, periodMs: PERIOD }, hub: { limit: 2_000, periodMs: PERIOD } }, () => now);
    const floods = ['tid:x', 'tid:y'].map((k) => b.join(k));
    const light = b.join('tid:light');
    const held = [0, 0];
    let lightHeld = 0;
    const read = [0, 0];
    for (now = 0; now < 10_000; now++) {
      floods.forEach((c, i) => {
        if (now < held[i]!) return;
        read[i]! += 20;
        held[i] = now + c.charge(20);
      });
      // 100 frames a second, well inside any share.
      if (now % 10 === 0) lightHeld += light.charge(1);
    }
    expect(lightHeld).toBe(0);
    // The two floods share what the light tenant leaves, about 950 a second each (and, until the first share is
    // reckoned a tenth of a period in, each its own budget: 20 frames a ms for 100 ms).
    for (const r of read) {
      expect(r).toBeLessThan(10 * 950 + 2_000 + 500);
      expect(r).toBeGreaterThan(10 * 700);
    }
  });

  it('fairShare: max-min fair, never below an equal part', () => {
    expect(fairShare([], 10)).toBe(Number.POSITIVE_INFINITY);
    expect(fairShare([1, 2], 10)).toBe(Number.POSITIVE_INFINITY);
    expect(fairShare([1, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY], 10)).toBe(4.5);
    expect(fairShare([8, 8, 8], 12)).toBe(4);
  });

  it('B2: the per-connection bound slides: a burst across a second boundary counts whole (the fixed window let twice the limit through)', () => {
    let now = 0;
    const floods: number[] = [];
    const rate = new FrameRate(
      { limit: 10, periodMs: PERIOD },
      (n) => floods.push(n),
      () => now,
    );
    const tiny = Buffer.from([0x82, 0x80, 0, 0, 0, 0]);
    now = 990;
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    now = 1_010;
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    // Before: a new window opened at 1,000 and both bursts passed.
    expect(floods).toEqual([11]);
  });

  it('B2: the per-connection bound forgets what is older than its period', () => {
    let now = 0;
    const floods: number[] = [];
    const rate = new FrameRate(
      { limit: 10, periodMs: PERIOD },
      (n) => floods.push(n),
      () => now,
    );
    const tiny = Buffer.from([0x82, 0x80, 0, 0, 0, 0]);
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    now = 1_100;
    for (let i = 0; i < 10; i++) rate.feed(tiny);
    expect(floods).toEqual([]);
  });

  it('the defaults: the hub budget above the tenant budget, and both at least four busy real agents (2,500 frames a second each)', () => {
    expect(AgentBounds.hubFrameRate.limit).toBeGreaterThan(AgentBounds.tenantFrameRate.limit);
    expect(AgentBounds.tenantFrameRate.limit).toBeGreaterThanOrEqual(4 * 2_500);
    expect(CloseCode.FrameFlood).toBe(4013);
  });
});
