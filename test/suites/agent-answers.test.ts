// Issue 22, findings 1, 2 and 5: an agent is untrusted input. A hostile agent (a real member of its own gateway,
// speaking the real protocol) answers with what a real agent never sends; the caller gets a coded answer, the
// call's stream is freed at once (gatehouse_agent_streams_open back to 0), the hub's memory stays bounded over a
// loop of such calls, and another tenant's calls on the same hub (a real agent and an echo service) keep
// answering throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameType, HOP_BY_HOP, checkAgentAnswer, isValidHeaderName, isValidHeaderValue } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, b64, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import {
  externalBytes as externalBytes_,
  keepAliveExchange as keepAliveExchange_,
  keepAliveGet,
  otherTenantCalls,
  startHostileAgent,
  streamsOpen as streamsOpen_,
  type HostileAgent,
  type HostileCall,
} from '../helpers/hostile-agent.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

let entra: FakeEntra;
let echo: EchoServer;
let hub: HubProc;
let token: string;
let goodAgent: AgentProc;
let goodConn: string;
let hostile: HostileAgent;
let hostileConn: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  // Hundreds of calls per case: the per-connection throttle is not what these tests are about.
  hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s' });
  token = await entra.token();
  const good = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'tenant-b');
  goodAgent = good.agent;
  goodConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: good.gatewayId })).json
    .id;
  hostile = await startHostileAgent(hub.url, token);
  hostileConn = (
    await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: hostile.gatewayId })
  ).json.id;
}, 60_000);
afterAll(async () => {
  await hostile?.close();
  await goodAgent?.stop();
  await hub?.stop();
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

// ---- what the tests read ----
const streamsOpen = () => streamsOpen_(hub.url, hostile.gatewayId);
const externalBytes = () => externalBytes_(hub.url);

// biome-ignore lint/suspicious/noExplicitAny: a test reads the JSON answer's fields as the case expects them
async function proxied(path: string): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const r = await fetch(`${hub.url}/v1/connections/${hostileConn}/proxy/${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}
const invoked = (url: string) => api(hub.url, token, 'POST', `/v1/connections/${hostileConn}/invoke`, { method: 'GET', url });

const keepAliveExchange = (first: string, second: string) =>
  keepAliveExchange_(
    hub.port,
    keepAliveGet(`/v1/connections/${hostileConn}/proxy/${first}`, token),
    keepAliveGet(`/v1/connections/${hostileConn}/proxy/${second}`, token),
  );

const tenantB = () => otherTenantCalls(hub.url, token, goodConn);

/** Runs `n` calls, `parallel` at a time. */
async function repeat(n: number, parallel: number, call: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) await call(next++);
    }),
  );
}

/** The stream is freed (the hub cancelled it toward the agent) and the gateway holds no stream. */
async function freed(stream: number | undefined): Promise<void> {
  if (stream !== undefined) await expect.poll(() => hostile.cancelled.has(stream) || undefined, { timeout: 10_000 }).toBe(true);
  await expect.poll(streamsOpen, { timeout: 10_000 }).toBe(0);
}
const lastStream = () => hostile.heads.at(-1)?.stream;
const data = (stream: number, bytes: Buffer) => ({ type: FrameType.Data, stream, data: bytes }) as const;

/** An answer whose head is `headers`, then a window's worth (256 KiB) of body the hub never asked for. */
function headThenWindow(status: number, headers: [string, string][]) {
  return async ({ stream }: HostileCall, a: HostileAgent) => {
    await a.send({ type: FrameType.ResponseHead, stream, msg: { status, headers } });
    for (let i = 0; i < 4; i++) await a.send(data(stream, Buffer.alloc(64 * 1024, 0x61)));
  };
}

describe('finding 1: a bad response header leaks the stream', () => {
  it.each([
    ['CRLF in a value', ['x-bad', 'a\r\nset-cookie: forged=1']],
    ['a space in a name', ['x bad', 'v']],
    ['a non-Latin-1 value', ['x-bad', 'snow \u2603']],
    ['an empty name', ['', 'v']],
  ] as [string, [string, string]][])('%s: a coded 502 naming the agent, none of its headers, the call cancelled and its stream freed', async (_name, bad) => {
    hostile.answer = headThenWindow(200, [['x-before', 'agent-header'], bad]);
    const r = await proxied('bad-header');
    expect(r.status).toBe(502);
    expect(r.headers.get('x-gatehouse-error')).toBe('BadGateway');
    expect(r.json.error.code).toBe('BadGateway');
    expect(r.json.error.message).toMatch(new RegExp(`^hub <- agent: the answer of agent ${hostile.memberId} was refused: header line 2 `));
    // Before: the hub's own 500 carried the headers set before the bad one.
    expect(r.headers.get('x-before')).toBeNull();
    expect(r.headers.get('set-cookie')).toBeNull();
    await freed(lastStream());
    const inv = await invoked('bad-header');
    expect([inv.status, inv.json.error.code]).toEqual([502, 'BadGateway']);
    await freed(lastStream());
  });

  it("400 bad-header calls: the hub's external memory grows by under 20 MiB, and tenant B keeps answering throughout", async () => {
    hostile.answer = headThenWindow(200, [['x-bad', 'a\r\nb']]);
    const before = await externalBytes();
    const b = tenantB();
    const statuses = new Set<number>();
    await repeat(400, 8, async () => {
      statuses.add((await proxied('loop')).status);
    });
    // Before: 400 streams each held their 256 KiB window until the agent left (external memory 4 -> 104 MiB).
    await expect.poll(async () => (await externalBytes()) - before, { timeout: 20_000, interval: 500 }).toBeLessThan(20 * MiB);
    const { ok, wrong } = await b.stop();
    expect([...statuses]).toEqual([502]);
    expect(wrong).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    await freed(undefined);
  }, 120_000);
});

describe('finding 2: response framing from the agent is trusted', () => {
  const forged = 'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged';

  it("an answer longer than its Content-Length never puts a second response on the caller's keep-alive connection: it is cut and the connection closed", async () => {
    hostile.answer = async ({ stream, head }, a) => {
      if (head.url.includes('/second')) {
        await a.send({ type: FrameType.Response, stream, msg: { status: 200, headers: [] }, data: Buffer.from('real') });
        return;
      }
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [['content-length', '5']] } });
      await a.send(data(stream, Buffer.from(`hello${forged}`)));
      await a.send({ type: FrameType.End, stream });
    };
    const b = tenantB();
    const { text, closed } = await keepAliveExchange('longer', 'second');
    expect(closed).toBe(true);
    expect(text).not.toContain('forged');
    expect(text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0).toBeLessThanOrEqual(1);
    await freed(hostile.heads.find((h) => h.head.url.includes('/longer'))?.stream);
    // The same lie in one RESPONSE frame is found before anything is written: a coded 502.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Response, stream, msg: { status: 200, headers: [['content-length', '5']] }, data: Buffer.from(`hello${forged}`) });
    };
    const whole = await proxied('longer-whole');
    expect([whole.status, whole.json.error.code]).toEqual([502, 'BadGateway']);
    expect(whole.json.error.message).toBe(
      `hub <- agent: the answer of agent ${hostile.memberId} was refused: its Content-Length says 5 bytes and its body has ${5 + forged.length}`,
    );
    await freed(undefined);
    // A bounded loop of over-long answers (a window's worth each): memory stays bounded.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [['content-length', '5']] } });
      for (let i = 0; i < 4; i++) await a.send(data(stream, Buffer.alloc(64 * 1024, 0x62)));
    };
    const before = await externalBytes();
    await repeat(200, 8, async () => {
      await proxied('longer-loop').catch(() => undefined);
    });
    await expect.poll(async () => (await externalBytes()) - before, { timeout: 20_000, interval: 500 }).toBeLessThan(20 * MiB);
    await freed(undefined);
    const { ok, wrong } = await b.stop();
    expect(wrong).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  }, 120_000);

  it("a body shorter than its Content-Length closes the caller's connection (raw route) and is a coded 502 (invoke)", async () => {
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [['content-length', '10']] } });
      await a.send(data(stream, Buffer.from('hello')));
      await a.send({ type: FrameType.End, stream });
    };
    const { text, closed } = await keepAliveExchange('shorter', 'shorter-second');
    expect(closed).toBe(true);
    expect(text.match(/HTTP\/1\.1 \d{3}/g)?.length ?? 0).toBeLessThanOrEqual(1);
    expect(hostile.heads.filter((h) => h.head.url.includes('/shorter-second'))).toEqual([]);
    await freed(hostile.heads.find((h) => h.head.url.includes('/shorter'))?.stream);
    const inv = await invoked('shorter');
    expect([inv.status, inv.json.error.code]).toEqual([502, 'BadGateway']);
    expect(inv.json.error.message).toMatch(/^hub <- agent: the answer of agent \S+ was cut off: its body ended after 5 of the 10 bytes its head declared$/);
    await freed(undefined);
  });

  it.each([
    [
      101,
      [
        ['upgrade', 'websocket'],
        ['connection', 'upgrade'],
      ],
    ],
    [103, [['link', '</a.css>; rel=preload']]],
  ] as [number, [string, string][]][])('a %s status is never a final answer: a coded 502, the stream freed', async (status, headers) => {
    hostile.answer = headThenWindow(status, headers);
    const r = await proxied('interim');
    expect([r.status, r.headers.get('x-gatehouse-error')]).toEqual([502, 'BadGateway']);
    expect(r.json.error.message).toMatch(new RegExp(`^hub <- agent: the answer of agent \\S+ was refused: status ${status} is an interim answer`));
    await freed(lastStream());
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Response, stream, msg: { status, headers }, data: Buffer.alloc(0) });
    };
    const inv = await invoked('interim');
    expect([inv.status, inv.json.error.code]).toEqual([502, 'BadGateway']);
    await freed(undefined);
  });
});

describe('finding 5: forged hub errors', () => {
  it("an agent's x-gatehouse-* headers never reach the caller, on either route", async () => {
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.Response,
        stream,
        msg: {
          status: 503,
          headers: [
            ['x-gatehouse-error', 'GatewayOffline'],
            ['X-Gatehouse-Relay-Error', 'Unauthorized'],
            ['x-fine', 'yes'],
          ],
        },
        data: Buffer.from('the service said'),
      });
    };
    const r = await proxied('forged-error');
    expect([r.status, r.headers.get('x-gatehouse-error'), r.headers.get('x-gatehouse-relay-error'), r.headers.get('x-fine'), r.text]).toEqual([
      503,
      null,
      null,
      'yes',
      'the service said',
    ]);
    const inv = await invoked('forged-error');
    expect(inv.headers['x-gatehouse-error']).toBeUndefined();
    expect(inv.json).toMatchObject({ statusCode: 503, body: b64('the service said') });
    expect(Object.keys(inv.json.headers).filter((k) => k.startsWith('x-gatehouse'))).toEqual([]);
    expect(inv.json.headers['x-fine']).toBe('yes');
    await freed(undefined);
  });

  it("x-gatehouse-windows-auth (the agent's own diagnostic) reaches the caller while the agent's x-gatehouse-error is still dropped; an over-long one is dropped", async () => {
    const hint = 'failed (ntlm: the service refused the credentials)';
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.Response,
        stream,
        msg: {
          status: 401,
          headers: [
            ['x-gatehouse-error', 'Unauthorized'],
            ['X-Gatehouse-Windows-Auth', hint],
          ],
        },
        data: Buffer.alloc(0),
      });
    };
    const r = await proxied('windows-hint');
    expect([r.status, r.headers.get('x-gatehouse-error'), r.headers.get('x-gatehouse-windows-auth')]).toEqual([401, null, hint]);
    const inv = await invoked('windows-hint');
    expect([
      inv.headers['x-gatehouse-error'],
      inv.json.statusCode,
      inv.json.headers['x-gatehouse-error'],
      inv.json.headers['x-gatehouse-windows-auth'],
    ]).toEqual([undefined, 401, undefined, hint]);
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Response, stream, msg: { status: 401, headers: [['x-gatehouse-windows-auth', 'x'.repeat(513)]] }, data: Buffer.alloc(0) });
    };
    const long = await proxied('windows-hint-long');
    expect([long.status, long.headers.get('x-gatehouse-windows-auth')]).toEqual([401, null]);
    await freed(undefined);
  });

  it("FAILURE and CANCEL texts are quoted as the agent's, bounded, without control characters; 100 of them leave memory bounded", async () => {
    const lure = 'hub -> agent: your Entra token expired; sign in again at https://evil.example/login';
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Failure, stream, msg: { code: 'BadGateway', message: `${lure}\r\nx-gatehouse-error: forged\u202e${'A'.repeat(1500)}` } });
    };
    const f = await invoked('failure');
    expect([f.status, f.json.error.code]).toEqual([502, 'BadGateway']);
    const quoted = 'agent -> service: the agent reported: ';
    expect(f.json.error.message.startsWith(`${quoted}${lure} x-gatehouse-error: forged`)).toBe(true);
    expect(f.json.error.message).not.toMatch(/[\r\n\u202e]/);
    expect(f.json.error.message.length).toBeLessThanOrEqual(quoted.length + 203);
    const raw = await proxied('failure');
    expect([raw.status, raw.headers.get('x-gatehouse-error')]).toEqual([502, 'BadGateway']);
    expect(raw.json.error.message.startsWith(`${quoted}${lure}`)).toBe(true);

    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Cancel, stream, msg: { reason: `${lure}\n` } });
    };
    const c = await invoked('cancel');
    expect([c.status, c.json.error.code, c.json.error.message]).toEqual([
      502,
      'BadGateway',
      `agent -> hub: the agent cancelled the call; the agent reported: ${lure}`,
    ]);
    await freed(undefined);

    const b = tenantB();
    const before = await externalBytes();
    await repeat(100, 8, async () => {
      await proxied('failure-loop');
    });
    await expect.poll(async () => (await externalBytes()) - before, { timeout: 20_000, interval: 500 }).toBeLessThan(20 * MiB);
    await freed(undefined);
    const { ok, wrong } = await b.stop();
    expect(wrong).toEqual([]);
    expect(ok).toBeGreaterThan(0);
  }, 60_000);
});

describe("issue 22 leftovers: answers that have no body, and the agent's words", () => {
  it('a 204/304 answer that carries DATA is a coded 502 naming the agent on both routes, never a clean empty answer; one without DATA still passes', async () => {
    // Before: the head went to the caller at once (a clean 204), and the bytes after it were dropped unseen.
    for (const status of [204, 304]) {
      hostile.answer = async ({ stream }, a) => {
        await a.send({ type: FrameType.ResponseHead, stream, msg: { status, headers: [['etag', '"v1"']] } });
        await a.send(data(stream, Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged')));
        await a.send({ type: FrameType.End, stream });
      };
      const raw = await proxied(`no-body-${status}`);
      expect([raw.status, raw.headers.get('x-gatehouse-error'), raw.json?.error.code]).toEqual([502, 'BadGateway', 'BadGateway']);
      expect(raw.json.error.message).toBe(
        `hub <- agent: the answer of agent ${hostile.memberId} was refused: status ${status} to GET carries no body, and the answer has one`,
      );
      await freed(lastStream());
      const inv = await invoked(`no-body-${status}`);
      expect([inv.status, inv.json.error.code]).toEqual([502, 'BadGateway']);
      expect(inv.json.error.message).toMatch(
        new RegExp(`^hub <- agent: the answer of agent ${hostile.memberId} was refused: status ${status} to GET carries no body`),
      );
      await freed(lastStream());
    }
    // Head then END, as a real agent of protocol version 1 answers: a clean 204.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 204, headers: [] } });
      await a.send({ type: FrameType.End, stream });
    };
    const ok = await proxied('no-body-ok');
    expect([ok.status, ok.text]).toEqual([204, '']);
    expect((await invoked('no-body-ok')).json).toMatchObject({ statusCode: 204, body: '' });
    await freed(undefined);
  });

  it('205 with a body (streamed, in a RESPONSE frame, DATA after a pause) is the same coded 502 as a 204 with DATA on both routes (red team session 15)', async () => {
    // Before: a 205 Reset Content and the agent's body after it reached the caller (RFC 9110 15.3.6: a 205 has no content).
    const forged = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
    const forms: Record<string, (stream: number, a: Parameters<typeof hostile.answer>[1]) => Promise<void>> = {
      streamed: async (stream, a) => {
        await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 205, headers: [] } });
        await a.send(data(stream, forged));
        await a.send({ type: FrameType.End, stream });
      },
      whole: async (stream, a) => {
        await a.send({ type: FrameType.Response, stream, msg: { status: 205, headers: [] }, data: forged });
      },
      late: async (stream, a) => {
        await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 205, headers: [['content-length', '0']] } });
        await new Promise((r) => setTimeout(r, 300));
        await a.send(data(stream, forged));
        await a.send({ type: FrameType.End, stream });
      },
    };
    for (const [form, send] of Object.entries(forms)) {
      hostile.answer = ({ stream }, a) => send(stream, a);
      const raw = await proxied(`reset-${form}`);
      expect([form, raw.status, raw.headers.get('x-gatehouse-error'), raw.json?.error.code]).toEqual([form, 502, 'BadGateway', 'BadGateway']);
      expect(raw.json.error.message).toMatch(new RegExp(`^hub <- agent: the answer of agent ${hostile.memberId} was refused: .*205`));
      expect(raw.text).not.toContain('forged');
      await freed(lastStream());
      const inv = await invoked(`reset-${form}`);
      expect([form, inv.status, inv.json.error.code]).toEqual([form, 502, 'BadGateway']);
      expect(inv.text).not.toContain(forged.toString('base64'));
      await freed(lastStream());
    }
    // A 205 without a body still passes, with no body and a zero length.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.ResponseHead, stream, msg: { status: 205, headers: [['content-length', '7']] } });
      await a.send({ type: FrameType.End, stream });
    };
    const ok = await proxied('reset-ok');
    expect([ok.status, ok.text, ok.headers.get('content-length') ?? '0']).toEqual([205, '', '0']);
    expect((await invoked('reset-ok')).json).toMatchObject({ statusCode: 205, body: '' });
    await freed(undefined);
  });

  it("agentWords strips line and paragraph separators, zero-width characters and U+FEFF from an agent's FAILURE text", async () => {
    // Before: U+2028/2029 (a line break to many log readers), zero-width spaces and joiners and U+FEFF passed into
    // the hub's coded error, so an agent could break a line or hide text inside it.
    hostile.answer = async ({ stream }, a) => {
      await a.send({
        type: FrameType.Failure,
        stream,
        msg: { code: 'BadGateway', message: 'first\u2028hub: forged\u2029line \u200bhid\u200cden\u200d\u2060text\ufeff end\u00ad' },
      });
    };
    const f = await invoked('words');
    expect(f.json.error.message).toBe('agent -> service: the agent reported: first hub: forged line  hid den text  end');
    expect(f.json.error.message).not.toMatch(/[\u2028\u2029\u200b-\u200d\u2060\ufeff\u00ad]/);
    await freed(undefined);
  });
});

describe('checkAgentAnswer (every answer of every agent goes through it)', () => {
  // Names and values from a small alphabet that holds the dangerous characters, and the names that matter.
  const name = fc.oneof(
    fc.constantFrom(
      'content-length',
      'Content-Length',
      'transfer-encoding',
      'connection',
      'x-gatehouse-error',
      'X-Gatehouse-Relay-Error',
      'X-Gatehouse-Windows-Auth',
      'x-fine',
      'set-cookie',
      'keep-alive',
      '',
    ),
    fc.string({ unit: fc.constantFrom('a', 'B', '-', ' ', ':', '\r', '\n', '\u00e9', '\u2603'), maxLength: 8 }),
  );
  const value = fc.oneof(
    fc.constantFrom('5', '05', '5, 5', '5, 6', '-1', 'x-fine', 'close'),
    fc.string({ unit: fc.constantFrom('a', '1', ' ', '\t', '\r', '\n', '\u00ff', '\u0100'), maxLength: 8 }),
  );
  const head = fc.record({
    method: fc.constantFrom('GET', 'HEAD', 'POST'),
    status: fc.integer({ min: 100, max: 599 }),
    headers: fc.array(fc.tuple(name, value), { maxLength: 6 }),
    whole: fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined }),
  });

  it("passes on only a final status, headers HTTP allows, no framing, hop-by-hop or x-gatehouse-* header of the agent's, and one Content-Length the hub wrote", () => {
    fc.assert(
      fc.property(head, ({ method, status, headers, whole }) => {
        const r = checkAgentAnswer(method, status, headers as [string, string][], whole);
        if (!r.ok) return;
        expect(status >= 200 && status <= 599).toBe(true);
        expect(headers.every(([k, v]) => isValidHeaderName(k) && isValidHeaderValue(v))).toBe(true);
        for (const [k, v] of r.headers) {
          expect((k.startsWith('x-gatehouse-') && k !== 'x-gatehouse-windows-auth') || HOP_BY_HOP.has(k)).toBe(false);
          if (k === 'content-length') expect(v).toMatch(/^(0|[1-9]\d*)$/);
        }
        const lengths = r.headers.filter(([k]) => k === 'content-length');
        expect(lengths.length).toBeLessThanOrEqual(1);
        // The hub holds the body to the length it wrote (none for an answer that has no body).
        const noBody = method === 'HEAD' || status === 204 || status === 205 || status === 304;
        if (noBody) expect(r.bodyLimit).toBe(0);
        else expect(r.bodyLimit).toBe(lengths.length ? Number(lengths[0]![1]) : null);
        if (whole !== undefined && !noBody) expect(r.bodyLimit).toBe(whole);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("a hostile agent's session", () => {
  it('is still open after every case above: refusing an answer fails only its call', () => {
    expect(hostile.closeCode).toBeUndefined();
  });
});
