// Bounded fuzz (issue 21): mutated frames against the codec, every protocol version and both directions; then
// mutated invoke bodies and raw-route requests against a running hub and agent. Each part prints its seed;
// GATEHOUSE_FUZZ_SEED=N replays a run, GATEHOUSE_FUZZ_RUNS=K multiplies every count (docs/security.md, "The fuzz suite").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { FrameType } from '@gatehouse/shared';
import { announce, caseRng, fuzzScale, fuzzSeed, hexOf, onlyCases } from '../helpers/fuzz-rng.js';
import { mutate } from '../helpers/fuzz-mutate.js';
import { DIRECTIONS, FUZZ_VERSIONS, frameWithPayload, isJsonFrame, mutateJson, seedFrames } from '../helpers/fuzz-frames.js';
import { judgeDecode } from '../helpers/fuzz-codec.js';
import { invokeRequest } from '../helpers/fuzz-invoke.js';
import { midBodyCloses, rawRequest } from '../helpers/fuzz-raw.js';
import { RawConn } from '../helpers/fuzz-http.js';
import { judgeInvoke, judgeRaw, leavesBase } from '../helpers/fuzz-oracle.js';
import { runFuzz, type FuzzResult, type FuzzRun } from '../helpers/fuzz-run.js';
import { api, b64 } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

const SEED = fuzzSeed();
const SCALE = fuzzScale();
/** At least 10^5 mutated frames in all, shared among every (version, direction). */
const CODEC_FRAMES = Math.ceil(100_000 * SCALE);

describe('codec fuzz', () => {
  it(`${CODEC_FRAMES} mutated frames, every version and direction: a valid typed frame or a coded ProtocolError, never anything else`, () => {
    announce('codec', SEED, CODEC_FRAMES);
    const combos = FUZZ_VERSIONS.flatMap((version) => Object.entries(DIRECTIONS).map(([dir, accepted]) => ({ version, dir, accepted })));
    const perCombo = Math.ceil(CODEC_FRAMES / combos.length);
    const failures: string[] = [];
    const tally = { accepted: 0, refused: 0, notReencoded: 0, cases: 0 };
    for (const { version, dir, accepted } of combos) {
      const part = `codec v${version} ${dir}`;
      const seeds = seedFrames(caseRng(SEED, part, -1), version, accepted, 8);
      for (let i = 0; i < perCombo; i++) {
        const rng = caseRng(SEED, part, i);
        const seed = rng.pick(seeds);
        let bytes: Buffer;
        let how: string;
        if (isJsonFrame(seed.frame.type, version) && rng.chance(0.3) && 'msg' in seed.frame) {
          bytes = frameWithPayload(
            seed.frame.type,
            seed.frame.stream,
            Buffer.from(mutateJson(rng, seed.frame.msg as unknown as Record<string, unknown>), 'utf8'),
          );
          how = 'json';
        } else {
          const m = mutate(rng, seed.bytes, rng.pick(seeds).bytes);
          bytes = m.bytes;
          how = m.steps.join('+');
        }
        const v = judgeDecode(bytes, accepted, version);
        tally.cases++;
        if (v.kind === 'failure') {
          if (failures.length < 20) failures.push(`${part} case ${i} (seed ${SEED}, ${how}, type ${seed.frame.type}): ${v.why}\n  input ${hexOf(bytes)}`);
        } else if (v.kind === 'accepted') {
          tally.accepted++;
          if (!v.reencoded) tally.notReencoded++;
        } else tally.refused++;
      }
    }
    process.stdout.write(`[fuzz] codec: ${JSON.stringify(tally)}\n`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(tally.cases).toBeGreaterThanOrEqual(100_000 * Math.min(1, SCALE));
    // The mutations reach past the header checks: some frames are still accepted, many refused.
    expect(tally.accepted).toBeGreaterThan(tally.cases / 100);
    expect(tally.refused).toBeGreaterThan(tally.cases / 10);
  });

  it('fuzz finding: a JSON -0 in bodyLength or backendMs decodes as 0, so the frame round-trips (seed 1, codec v0 agent case 954)', () => {
    // Before: decoded as -0, which encodes back as 0: the codec handed on a value its own encoding cannot write.
    const head = { requestId: 'r', method: 'GET', url: 'http://x/', headers: [], bodyLength: 0, timeoutMs: 1000, credentials: null };
    const req = frameWithPayload(FrameType.RequestHead, 1, Buffer.from(JSON.stringify(head).replace('"bodyLength":0', '"bodyLength":-0')));
    const res = frameWithPayload(FrameType.ResponseHead, 1, Buffer.from('{"status":200,"headers":[],"backendMs":-0.0}'));
    for (const version of [0, 1, 2]) {
      for (const [bytes, accepted] of [
        [req, DIRECTIONS.agent],
        [res, DIRECTIONS.hub],
      ] as const) {
        const v = judgeDecode(bytes, accepted, version);
        expect(v.kind, v.kind === 'failure' ? v.why : '').toBe('accepted');
        const msg = (v as { frame: { msg: { bodyLength?: number; backendMs?: number } } }).frame.msg;
        expect(Object.is(msg.bodyLength ?? msg.backendMs, 0)).toBe(true);
      }
    }
  });

  it('a declared length or count at its extreme allocates nothing and is refused at once', () => {
    // RESPONSE's head length, a binary head's string length and header count, each set to its largest value.
    const cases: Array<[string, Buffer, number]> = [];
    const resp = Buffer.alloc(5 + 4 + 6);
    resp[0] = FrameType.Response;
    resp.writeUInt32BE(1, 1);
    for (const n of [0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      const b = Buffer.from(resp);
      b.writeUInt32BE(n, 5);
      cases.push([`RESPONSE head length ${n}`, b, 3], [`RESPONSE head length ${n} (JSON)`, b, 2]);
    }
    const head = Buffer.alloc(5 + 6 + 2);
    head[0] = FrameType.ResponseHead;
    head.writeUInt32BE(1, 1);
    head.writeUInt16BE(200, 5);
    head.writeUInt16BE(0xffff, 11);
    cases.push(['binary header count 65535', head, 3]);
    const str = Buffer.alloc(5 + 4 + 8 + 2);
    str[0] = FrameType.RequestHead;
    str.writeUInt32BE(1, 1);
    str.writeUInt32BE(1000, 5);
    str.writeDoubleBE(-1, 9);
    str.writeUInt16BE(0xffff, 17);
    cases.push(['binary string length 65535', str, 3]);
    for (const [name, bytes, version] of cases) {
      const accepted = bytes[0] === FrameType.RequestHead ? DIRECTIONS.agent : DIRECTIONS.hub;
      const v = judgeDecode(bytes, accepted, version, 200);
      expect(v.kind, `${name}: ${v.kind === 'failure' ? v.why : ''}`).toBe('refused');
    }
  });
});

// ---- a running hub and agent ----

/** At least 10^4 of each kind of call. */
const STACK_CALLS = Math.ceil(10_000 * SCALE);
const CONCURRENCY = 8;
/** Far under the hub's own deadlines (the connection's 120 s; the 10 s idle timeout set below). */
const ANSWER_TIMEOUT_MS = 20_000;

describe('hub and agent fuzz', () => {
  let stack: StandardStack | undefined;
  let connId = '';
  let agentPid: number | undefined;
  const connects = () => stack!.agent.lines.filter((l) => l.includes('"connected to hub"')).length;

  beforeAll(async () => {
    // The fuzz must not be throttled (429 would hide every other answer).
    stack = await startStandardStack({ hubEnv: { GATEHOUSE_THROTTLE: '10000000/60s', GATEHOUSE_IDLE_TIMEOUT: '10s' } });
    const c = await api(stack.hub.url, stack.token, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      baseResourceUrl: `${stack.echo.url}/svc`,
      gatewayId: stack.gatewayId,
    });
    expect(c.status, c.text).toBe(201);
    connId = c.json.id as string;
    agentPid = stack.agent.child.pid;
    expect(connects()).toBe(1);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** CPU seconds the hub, the agent and this test process have used so far (wall time depends on the machine's load). */
  const cpu = () => {
    const ticks = (pid: number | undefined) => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    };
    const own = process.cpuUsage();
    return { hub: ticks(stack!.hub.child.pid), agent: ticks(stack!.agent.child.pid), test: (own.user + own.system) / 1e6 };
  };
  let cpuBefore = { hub: 0, agent: 0, test: 0 };
  const report = (part: string, r: FuzzResult, ms: number) => {
    const now = cpu();
    const used = `CPU s: hub ${(now.hub - cpuBefore.hub).toFixed(1)}, agent ${(now.agent - cpuBefore.agent).toFixed(1)}, test ${(now.test - cpuBefore.test).toFixed(1)}`;
    process.stdout.write(
      `[fuzz] ${part}: ${r.sent} calls in ${(ms / 1000).toFixed(1)} s (${used}; slowest ${Math.round(r.slowestMs)} ms, resent ${r.resent}) ${JSON.stringify(r.tally)}\n`,
    );
  };

  /** After each replayed case: what the processes logged about it, and whether the agent is still up. */
  const replayed = () => {
    const s = stack!;
    process.stdout.write(
      `[fuzz]   agent exit ${String(s.agent.child.exitCode)}, agent connects ${connects()}; agent's last lines:\n${s.agent.lines.slice(-3).join('\n')}\n`,
    );
  };

  /** What reached the service since call `from` of its log: never outside the base; with a segment some server
   *  reads as `.` or `..` either (findings 1 and 2 of issue 21; printed when they do). */
  const contained = (part: string, from: number) => {
    const seen = stack!.echo.received.slice(from).map((r) => ({ url: r.url, how: leavesBase(r.url, '/svc') }));
    const outside = seen.filter((x) => x.how === 'outside').map((x) => x.url);
    const dots = seen.filter((x) => x.how === 'dot-segment').map((x) => x.url);
    process.stdout.write(
      `[fuzz] ${part}: the service got ${seen.length} calls: ${outside.length} outside /svc, ${dots.length} with a segment some server reads as . or ..\n`,
    );
    if (dots.length)
      process.stdout.write(
        `  for example:\n  ${dots
          .slice(0, 8)
          .map((u) => u.slice(0, 160))
          .join('\n  ')}\n`,
      );
    expect(outside, 'paths outside the base reached the service').toEqual([]);
    expect(dots, 'paths with dot segments reached the service').toEqual([]);
  };

  const stillUp = () => {
    const s = stack!;
    expect(s.hub.child.exitCode, 'hub exited').toBeNull();
    expect(s.agent.child.exitCode, `agent exited; its last lines:\n${s.agent.lines.slice(-30).join('\n')}`).toBeNull();
    expect(s.agent.child.pid).toBe(agentPid);
    expect(connects(), 'the agent reconnected').toBe(1);
  };

  /** Runs one part (every case, or those GATEHOUSE_FUZZ_ONLY names) and checks its answers, what reached the
   *  service, and that both processes are still up with the agent's tunnel untouched. */
  const fuzzPart = async (part: 'invoke' | 'raw', make: FuzzRun['make'], judge: FuzzRun['judge']) => {
    const s = stack!;
    const only = onlyCases(part);
    const from = s.echo.received.length;
    cpuBefore = cpu();
    announce(part, SEED, only?.length ?? STACK_CALLS);
    const t0 = performance.now();
    const r = await runFuzz({
      part,
      seed: SEED,
      count: STACK_CALLS,
      only,
      afterEach: replayed,
      concurrency: CONCURRENCY,
      port: s.hub.port,
      answerTimeoutMs: ANSWER_TIMEOUT_MS,
      make,
      judge,
    });
    report(part, r, performance.now() - t0);
    contained(part, from);
    expect(r.failures, r.failures.join('\n')).toEqual([]);
    expect(r.sent).toBe(only?.length ?? STACK_CALLS);
    // The mutations do not all stop at the door: some calls reach the service.
    if (!only)
      expect(
        Object.entries(r.tally)
          .filter(([k]) => k.includes('backend'))
          .reduce((n, [, v]) => n + v, 0),
      ).toBeGreaterThan(STACK_CALLS / 50);
    stillUp();
  };

  it(`${STACK_CALLS} mutated invoke bodies: the service's envelope or a coded 4xx, never a hang or a 5xx`, async () => {
    const s = stack!;
    await fuzzPart(
      'invoke',
      (rng) => invokeRequest(rng, { connId, token: s.token, echoUrl: s.echo.url }),
      (a) => judgeInvoke(a, s.token),
    );
  }, 300_000);

  it(`${STACK_CALLS} mutated raw-route requests on keep-alive sockets: the service's answer or a coded 4xx, never a hang or a 5xx`, async () => {
    const s = stack!;
    await fuzzPart(
      'raw',
      (rng) => rawRequest(rng, { connId, token: s.token, hubPort: s.hub.port }),
      (a, req) => judgeRaw(a, req.head, s.token),
    );
  }, 300_000);

  it('after the fuzz: both processes up, the agent never reconnected, ordinary calls still work', async () => {
    const s = stack!;
    stillUp();
    const inv = await api(s.hub.url, s.token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'POST', url: 'echo/final', body: b64('after the fuzz') });
    expect(inv.status, inv.text).toBe(200);
    expect(Buffer.from(inv.json.body as string, 'base64').toString()).toBe('after the fuzz');
    const raw = await api(s.hub.url, s.token, 'PUT', `/v1/connections/${connId}/proxy/echo/final`, 'raw after the fuzz', { 'content-type': 'text/plain' });
    expect(raw.status).toBe(200);
    expect(raw.text).toBe('raw after the fuzz');
    stillUp();
  });

  // ---- regression tests for what the fuzz found (issue 21 findings 3, 4 and 8); they run last, since before the
  // fixes they took the agent down ----

  /** Waits until an ordinary call is served again (after a finding made the agent reconnect). */
  const untilServed = async () => {
    const s = stack!;
    for (let i = 0; i < 50; i++) {
      if ((await api(s.hub.url, s.token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'echo/ready' })).status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  // Found by the invoke fuzz (GATEHOUSE_FUZZ_SEED=11, invoke cases 752, 911, 1018 ...) and the raw-route fuzz (raw
  // cases 22, 117): a request header named __proto__ passes the hub and fails in the agent's HTTP client, 502
  // BadGateway "agent -> service: ... failed (UND_ERR_INVALID_ARG)" (issue 21 finding 8, fixed by another change).
  // Expected: the hub refuses it (400) or relays it as any other header.
  it('fuzz finding: a header named __proto__ gets a 4xx or reaches the service, never a 502 (invoke and raw route)', async () => {
    const s = stack!;
    const inv = await api(s.hub.url, s.token, 'POST', `/v1/connections/${connId}/invoke`, '{"method":"GET","url":"echo/proto","headers":{"__proto__":"x"}}');
    expect(inv.status, inv.text).toBeLessThan(500);
    const c = await RawConn.open(s.hub.port);
    c.write(Buffer.from(`GET /v1/connections/${connId}/proxy/echo/proto HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${s.token}\r\n__proto__: x\r\n\r\n`));
    const out = await c.read(false, ANSWER_TIMEOUT_MS);
    c.close();
    expect(out.kind).toBe('answer');
    if (out.kind === 'answer') expect(out.answer.status, out.answer.body.toString()).toBeLessThan(500);
  });

  // Found by the invoke fuzz (GATEHOUSE_FUZZ_SEED=11, invoke cases 2316 and 2669: 999 headers x-h0..x-h998): the hub
  // takes up to 1,000 caller headers, adds its own, and sends the agent a head it refuses; the agent closes its
  // tunnel (4000) and every call on it fails with 502 (issue 21 finding 3, fixed by another change). Expected: a
  // 400 (or the call served), and the agent's tunnel untouched.
  it('fuzz finding: an invoke with 999 headers never costs the agent its tunnel', async () => {
    const s = stack!;
    const before = connects();
    const headers: Record<string, string> = {};
    for (let i = 0; i < 999; i++) headers[`x-h${i}`] = 'v';
    const r = await api(s.hub.url, s.token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'echo/many', headers });
    expect(r.status, r.text).not.toBe(502);
    await new Promise((done) => setTimeout(done, 1000));
    expect(connects(), 'the agent reconnected').toBe(before);
  });

  // Found by the raw-route fuzz (GATEHOUSE_FUZZ_SEED=11, raw cases 0-110 replayed one at a time: case 21, a chunked
  // body of one chunk and then the caller's close). The hub cancels the call ("request body failed" or "caller
  // disconnected"); when the CANCEL reaches the agent before its HTTP client has taken the request body, the
  // agent destroys the body's PassThrough with nobody listening and the process exits on "Unhandled 'error'
  // event" (issue 21 finding 4, fixed in the agent by another change).
  it('fuzz finding: callers closing mid-body, 20 at a time, never end the agent process', async () => {
    await untilServed();
    const s = stack!;
    const pid = s.agent.child.pid;
    const before = connects();
    for (let round = 0; round < 30 && s.agent.child.exitCode === null; round++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const c = await RawConn.open(s.hub.port);
          const [, headers, body] = midBodyCloses(Buffer.from('abc'))[j % 2]!;
          c.write(
            Buffer.concat([
              Buffer.from(
                `POST /v1/connections/${connId}/proxy/echo/mid-body-${j} HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${s.token}\r\n${headers.join('\r\n')}\r\n\r\n`,
              ),
              body,
            ]),
          );
          c.end();
          await c.read(false, ANSWER_TIMEOUT_MS);
          c.close();
        }),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(
      s.agent.child.exitCode,
      `agent exited: ${s.agent.lines
        .filter((l) => l.includes('Error'))
        .slice(0, 3)
        .join(' | ')}`,
    ).toBeNull();
    expect(s.agent.child.pid).toBe(pid);
    expect(connects()).toBe(before);
    const after = await api(s.hub.url, s.token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'echo/after' });
    expect(after.status, after.text).toBe(200);
  }, 120_000);
});
