// Pins the wire numbers and error codes: docs/protocol.md and docs/errors.md must list exactly what the code
// uses, and nobody renumbers a frame type or a close code by accident.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { pino } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { AgentSession } from '../../packages/hub/dist/agents/session.js';
import {
  CloseCode,
  ErrorCodes,
  FrameType,
  IdMap,
  Limits,
  MAX_STREAM_ID,
  ProtocolError,
  StreamIds,
  decodeFrame,
  encodeFrame,
  requestHeadProblem,
  HUB_RECEIVES,
  AGENT_RECEIVES,
  type Frame,
} from '@gatehouse/shared';

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../../docs/${name}`, import.meta.url)), 'utf8');
const tableRows = (md: string, firstCell: RegExp) =>
  md
    .split('\n')
    .filter((l) => firstCell.test(l))
    .map((l) => l.split('|').map((c) => c.trim()));

describe('frame types', () => {
  it('keep their ids forever', () => {
    expect(FrameType).toEqual({
      Hello: 1,
      Welcome: 2,
      RequestHead: 3,
      ResponseHead: 4,
      Data: 5,
      End: 6,
      Cancel: 7,
      Failure: 8,
      Credit: 9,
      Ping: 10,
      Pong: 11,
      GoAway: 12,
      Response: 13,
      Hubs: 14,
    });
  });
  it('docs/protocol.md lists each with its id', () => {
    const rows = tableRows(doc('protocol.md'), /^\| +\d+ \| [A-Z_]+ \|/);
    const documented = Object.fromEntries(rows.map((r) => [r[2]!.replace(/_/g, '').toLowerCase(), Number(r[1])]));
    const actual = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [k.toLowerCase(), v]));
    expect(documented).toEqual(actual);
  });
});

describe('close codes', () => {
  it('keep their numbers', () => {
    expect(CloseCode).toEqual({
      Normal: 1000,
      GoingAway: 1001,
      MessageTooBig: 1009,
      MalformedFrame: 4000,
      UnknownFrameType: 4001,
      UnexpectedFrame: 4002,
      FlowControlViolation: 4003,
      UnsupportedVersion: 4004,
      HandshakeTimeout: 4005,
      HeartbeatTimeout: 4006,
      Replaced: 4007,
      CredentialRevoked: 4008,
      HubShuttingDown: 4009,
      KeyRotated: 4010,
      NotReading: 4011,
      TooManyPending: 4012,
      FrameFlood: 4013,
    });
  });
  it('docs/protocol.md lists each with its number', () => {
    const rows = tableRows(doc('protocol.md'), /^\| +\d{4} \| [A-Za-z]+ \|/);
    expect(Object.fromEntries(rows.map((r) => [r[2], Number(r[1])]))).toEqual(CloseCode);
  });
  it('the documented limits are the code limits', () => {
    const md = doc('protocol.md');
    expect(md).toContain(`${Limits.maxFrameBytes.toLocaleString('en-US').replace(/,/g, ' ')} bytes`);
    expect(md).toContain(`(${Limits.streamWindowBytes / 1024} KiB)`);
    expect(Limits.maxDataBytes).toBe(65536);
  });
});

describe('error codes', () => {
  it('docs/errors.md lists every code with its status and retryability, and nothing else', () => {
    const rows = tableRows(doc('errors.md'), /^\| `[A-Za-z]+` \|/);
    const documented = Object.fromEntries(rows.map((r) => [r[1]!.replace(/`/g, ''), { status: Number(r[2]), retryable: r[3] === 'yes', meaning: r[4] }]));
    expect(documented).toEqual(ErrorCodes);
  });
  it('every SPEC section 8 code is present with its status', () => {
    const spec: Record<string, number> = {
      InvalidRequest: 400,
      UrlNotAllowed: 400,
      Unauthorized: 401,
      Forbidden: 403,
      ConsentRequired: 403,
      NotFound: 404,
      PayloadTooLarge: 413,
      UriTooLong: 414,
      TooManyRequests: 429,
      GatewayOffline: 502,
      BackendUnreachable: 502,
      BadGateway: 502,
      GatewayTimeout: 504,
    };
    for (const [code, status] of Object.entries(spec)) expect(ErrorCodes[code as keyof typeof ErrorCodes].status).toBe(status);
  });
});

describe('codec', () => {
  it('round-trips every frame kind', () => {
    const frames = [
      {
        type: FrameType.RequestHead,
        stream: 3,
        msg: { requestId: 'r', method: 'GET', url: 'http://x/', headers: [['a', 'b']], bodyLength: null, timeoutMs: 1000, credentials: null },
      },
      { type: FrameType.Data, stream: 3, data: Buffer.from([0, 255, 1]) },
      { type: FrameType.End, stream: 3 },
      { type: FrameType.Credit, stream: 3, bytes: 65536 },
      { type: FrameType.Cancel, stream: 3, msg: { reason: 'x' } },
      { type: FrameType.Ping, stream: 0, data: Buffer.alloc(8, 7) },
      { type: FrameType.Response, stream: 3, msg: { status: 201, headers: [['a', 'b']], backendMs: 4 }, data: Buffer.from([0, 255, 1]) },
      { type: FrameType.Response, stream: 5, msg: { status: 204, headers: [] }, data: Buffer.alloc(0) },
      {
        type: FrameType.Hubs,
        stream: 0,
        msg: {
          hubId: 'h-1',
          hubs: [
            { id: 'h-1', url: 'http://10.0.0.5:8080' },
            { id: 'h-2', url: 'https://hub-2.example.com' },
          ],
        },
      },
    ] as const;
    for (const f of frames) {
      const back = decodeFrame(encodeFrame(f as never), f.type === FrameType.RequestHead ? AGENT_RECEIVES : new Set([...HUB_RECEIVES, ...AGENT_RECEIVES]));
      expect(JSON.parse(JSON.stringify(back))).toEqual(JSON.parse(JSON.stringify(f)));
    }
  });
  it.each([
    ['connection frame on a stream', Buffer.from([FrameType.Ping, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]), CloseCode.MalformedFrame],
    ['stream frame on stream 0', Buffer.from([FrameType.End, 0, 0, 0, 0]), CloseCode.MalformedFrame],
    ['credit of 0', Buffer.from([FrameType.Credit, 0, 0, 0, 1, 0, 0, 0, 0]), CloseCode.MalformedFrame],
    ['empty data', Buffer.from([FrameType.Data, 0, 0, 0, 1]), CloseCode.MalformedFrame],
    [
      'unknown failure code',
      Buffer.concat([Buffer.from([FrameType.Failure, 0, 0, 0, 1]), Buffer.from('{"code":"Nope","message":"x"}')]),
      CloseCode.MalformedFrame,
    ],
    [
      'status out of range',
      Buffer.concat([Buffer.from([FrameType.ResponseHead, 0, 0, 0, 1]), Buffer.from('{"status":700,"headers":[]}')]),
      CloseCode.MalformedFrame,
    ],
    [
      'headers not pairs',
      Buffer.concat([Buffer.from([FrameType.ResponseHead, 0, 0, 0, 1]), Buffer.from('{"status":200,"headers":[["a"]]}')]),
      CloseCode.MalformedFrame,
    ],
    ['RESPONSE without its head length', Buffer.from([FrameType.Response, 0, 0, 0, 1, 0, 0]), CloseCode.MalformedFrame],
    [
      'RESPONSE head running past the frame',
      Buffer.concat([Buffer.from([FrameType.Response, 0, 0, 0, 1, 0, 0, 0, 40]), Buffer.from('{"status":200,"headers":[]}')]),
      CloseCode.MalformedFrame,
    ],
    [
      'RESPONSE with a bad head',
      Buffer.concat([Buffer.from([FrameType.Response, 0, 0, 0, 1, 0, 0, 0, 27]), Buffer.from('{"status":700,"headers":[]}body')]),
      CloseCode.MalformedFrame,
    ],
    [
      'RESPONSE payload over 64 KiB',
      Buffer.concat([Buffer.from([FrameType.Response, 0, 0, 0, 1, 0, 0, 0, 27]), Buffer.from('{"status":200,"headers":[]}'), Buffer.alloc(65_536 - 31 + 1)]),
      CloseCode.MalformedFrame,
    ],
  ])('%s is refused with its close code', (_n, raw, code) => {
    try {
      decodeFrame(raw, HUB_RECEIVES);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).closeCode).toBe(code);
    }
  });
  // HUBS (version 4): the agent dials every listed URL with its credential, so each must be a bare http(s) origin.
  const hubs = (o: unknown) => Buffer.concat([Buffer.from([FrameType.Hubs, 0, 0, 0, 0]), Buffer.from(JSON.stringify(o))]);
  it.each([
    ['HUBS on a stream', Buffer.concat([Buffer.from([FrameType.Hubs, 0, 0, 0, 1]), Buffer.from('{"hubId":"a","hubs":[]}')])],
    ['HUBS whose url has a path', hubs({ hubId: 'a', hubs: [{ id: 'b', url: 'http://h:1/x' }] })],
    ['HUBS whose url carries credentials', hubs({ hubId: 'a', hubs: [{ id: 'b', url: 'http://u:p@h:1' }] })],
    ['HUBS whose url is not http(s)', hubs({ hubId: 'a', hubs: [{ id: 'b', url: 'file:///etc' }] })],
    ['HUBS listing more than 64 hubs', hubs({ hubId: 'a', hubs: Array.from({ length: 65 }, (_, i) => ({ id: String(i), url: 'http://h:1' })) })],
    ['HUBS without hubId', hubs({ hubs: [] })],
  ])('%s is refused with 4000', (_n, raw) => {
    try {
      decodeFrame(raw, AGENT_RECEIVES);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).closeCode).toBe(CloseCode.MalformedFrame);
    }
  });
  it('a hub never receives HUBS', () => {
    expect(() => decodeFrame(hubs({ hubId: 'a', hubs: [] }), HUB_RECEIVES)).toThrow(/not sent in this direction/);
  });
});

describe('version 3: binary heads', () => {
  const both = new Set([...HUB_RECEIVES, ...AGENT_RECEIVES]);
  const heads = [
    {
      type: FrameType.RequestHead,
      stream: 3,
      msg: {
        requestId: 'r-1',
        method: 'PROPFIND',
        url: 'http://x:8080/a%20b?q=1',
        headers: [
          ['a', 'b'],
          ['x-latin', 'café'],
          ['x-wide', '☃ \u{1F600}'],
          ['a', 'again'],
        ],
        bodyLength: null,
        timeoutMs: 86_400_000,
        credentials: { scheme: 'windows', sealed: 'c2VhbGVk' },
      },
    },
    {
      type: FrameType.RequestHead,
      stream: 5,
      msg: {
        requestId: '',
        method: 'POST',
        url: 'http://x/',
        headers: [],
        bodyLength: 2 ** 53 - 1,
        timeoutMs: 1,
        credentials: { scheme: 'basic', sealed: 'x' },
      },
    },
    {
      type: FrameType.RequestHead,
      stream: 7,
      msg: { requestId: 'r', method: 'GET', url: 'http://x/', headers: [['k', '']], bodyLength: 0, timeoutMs: 1000, credentials: null },
    },
    {
      type: FrameType.ResponseHead,
      stream: 3,
      msg: {
        status: 599,
        headers: [
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2; ü'],
        ],
        backendMs: 0,
      },
    },
    { type: FrameType.ResponseHead, stream: 3, msg: { status: 100, headers: [] } },
    { type: FrameType.Response, stream: 3, msg: { status: 201, headers: [['a', 'b']], backendMs: 86_400_000 }, data: Buffer.from([0, 255, 1]) },
    { type: FrameType.Response, stream: 5, msg: { status: 204, headers: [['x-é', 'é']] }, data: Buffer.alloc(0) },
  ] as const;
  const plain = (f: unknown) => JSON.parse(JSON.stringify(f, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));

  it('round-trips every head, every field and any character, in fewer bytes than JSON', () => {
    for (const f of heads) {
      const bin = encodeFrame(f as never, 3);
      expect(plain(decodeFrame(bin, both, 3)), `frame type ${f.type}`).toEqual(plain(f));
      expect(bin.length).toBeLessThan(encodeFrame(f as never).length);
      // the heads are not JSON on a version-3 connection, and JSON is not taken there
      expect(bin.subarray(5).toString('latin1')).not.toContain('"headers"');
      expect(() => decodeFrame(encodeFrame(f as never), both, 3)).toThrow(ProtocolError);
    }
  });

  it('is used from version 3 on only; other frames are the same bytes in every version', () => {
    const [head] = heads;
    expect(encodeFrame(head as never, 2).equals(encodeFrame(head as never))).toBe(true);
    expect(encodeFrame(head as never, 3).equals(encodeFrame(head as never, 2))).toBe(false);
    const cancel = { type: FrameType.Cancel, stream: 3, msg: { reason: 'x' } } as const;
    expect(encodeFrame(cancel, 3).equals(encodeFrame(cancel))).toBe(true);
    expect(decodeFrame(encodeFrame(cancel), both, 3)).toEqual(cancel);
  });

  it('holds heads to the limits JSON heads have: 64 KiB as encoded (UTF-8), RESPONSE 64 KiB with its body', () => {
    const sized = (value: string): Frame => ({
      type: FrameType.RequestHead,
      stream: 3,
      msg: { requestId: 'r', method: 'GET', url: 'http://x/', headers: [['v', value]], bodyLength: 0, timeoutMs: 1, credentials: null },
    });
    const fixed = 4 + 8 + 2 + 1 + 2 + 3 + 2 + 9 + 1 + 2 + 2 + 1 + 2; // everything but the value's bytes
    expect(encodeFrame(sized('a'.repeat(65_536 - fixed)), 3).length).toBe(5 + 65_536);
    expect(() => encodeFrame(sized('a'.repeat(65_536 - fixed + 1)), 3)).toThrow(ProtocolError);
    // é is one character and two bytes: the ASCII pass finds it and the head is sized again
    expect(() => encodeFrame(sized('é'.repeat((65_536 - fixed) / 2 + 1)), 3)).toThrow(ProtocolError);
    expect(encodeFrame(sized(`${'a'.repeat(65_536 - fixed - 2)}é`), 3).length).toBe(5 + 65_536);
    const head = 2 + 4 + 2;
    expect(encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [] }, data: Buffer.alloc(65_536 - 4 - head) }, 3).length).toBe(
      5 + 65_536,
    );
    expect(() => encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [] }, data: Buffer.alloc(65_536 - 4 - head + 1) }, 3)).toThrow(
      ProtocolError,
    );
  });

  const u16 = (n: number) => [n >> 8, n & 255];
  const str = (s: string) => [...u16(Buffer.byteLength(s)), ...Buffer.from(s)];
  const f64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(n);
    return [...b];
  };
  const reqHead = (o: { timeoutMs?: number; bodyLength?: number; method?: string; scheme?: number; headers?: number[]; tail?: number[] } = {}) =>
    Buffer.from([
      FrameType.RequestHead,
      0,
      0,
      0,
      1,
      0,
      0,
      ...u16(o.timeoutMs ?? 1000),
      ...f64(o.bodyLength ?? 0),
      ...str('r'),
      ...str(o.method ?? 'GET'),
      ...str('http://x/'),
      o.scheme ?? 0,
      ...(o.scheme ? str('sealed') : []),
      ...(o.headers ?? [0, 0]),
      ...(o.tail ?? []),
    ]);
  const respHead = (status: number, backend: number, rest: number[] = [0, 0]) =>
    Buffer.from([FrameType.ResponseHead, 0, 0, 0, 1, ...u16(status), ...[backend >>> 24, (backend >> 16) & 255, (backend >> 8) & 255, backend & 255], ...rest]);
  it('reads back what it writes (the hand-built frames below are right)', () => {
    expect(decodeFrame(reqHead({ scheme: 2, headers: [0, 1, ...str('a'), ...str('b')] }), AGENT_RECEIVES, 3)).toMatchObject({
      msg: { method: 'GET', bodyLength: 0, timeoutMs: 1000, credentials: { scheme: 'windows', sealed: 'sealed' }, headers: [['a', 'b']] },
    });
    expect(decodeFrame(reqHead({ bodyLength: -1 }), AGENT_RECEIVES, 3)).toMatchObject({ msg: { bodyLength: null } });
    expect(decodeFrame(respHead(200, 5), HUB_RECEIVES, 3)).toMatchObject({ msg: { status: 200, backendMs: 4, headers: [] } });
  });
  it.each([
    ['timeoutMs 0', reqHead({ timeoutMs: 0 })],
    ['bodyLength -2', reqHead({ bodyLength: -2 })],
    ['bodyLength 1.5', reqHead({ bodyLength: 1.5 })],
    ['bodyLength past 2^53', reqHead({ bodyLength: 2 ** 53 })],
    ['an unknown credentials scheme', reqHead({ scheme: 3 })],
    ['a header count past the end', reqHead({ headers: [0, 2, ...str('a'), ...str('b')] })],
    ['a string running past the end', reqHead({ headers: [0, 1, ...str('a'), 0, 9, 98] })],
    ['bytes after the head', reqHead({ tail: [0] })],
    ['a head cut short', reqHead().subarray(0, 20)],
  ])('a REQUEST_HEAD with %s is refused (4000)', (_n, raw) => {
    expect(() => decodeFrame(raw, AGENT_RECEIVES, 3)).toThrow(expect.objectContaining({ closeCode: CloseCode.MalformedFrame }));
  });
  // Issue 21, finding 3: these closed the agent's connection (4000), and every call on it; the frame is well-formed,
  // so the agent decodes it and fails that call alone (requestHeadProblem, the same check the hub makes before sending).
  it.each([
    ['a method over 16 characters', reqHead({ method: 'M'.repeat(17) }), /method/],
    [
      'more header lines than 1,000',
      reqHead({ headers: [...u16(1001), ...Array.from({ length: 1001 }, () => [...str('a'), ...str('b')]).flat()] }),
      /1001 header lines/,
    ],
    ['a header name that is not a token', reqHead({ headers: [0, 1, ...str('a b'), ...str('v')] }), /RFC 9110 token/],
  ])('a well-formed REQUEST_HEAD with %s is decoded, and is over a per-call limit', (_n, raw, why) => {
    const f = decodeFrame(raw, AGENT_RECEIVES, 3);
    expect(f.type === FrameType.RequestHead && requestHeadProblem(f.msg)).toMatchObject({ code: 'InvalidRequest', message: expect.stringMatching(why) });
  });
  it.each([
    ['status 99', respHead(99, 0)],
    ['status 600', respHead(600, 0)],
    ['backendMs over a day', respHead(200, 86_400_002)],
    ['bytes after the head', respHead(200, 0, [0, 0, 1])],
    ['no header count', respHead(200, 0, [])],
  ])('a RESPONSE_HEAD with %s is refused (4000)', (_n, raw) => {
    expect(() => decodeFrame(raw, HUB_RECEIVES, 3)).toThrow(expect.objectContaining({ closeCode: CloseCode.MalformedFrame }));
  });
  it('a RESPONSE whose head runs into its body is refused (4000)', () => {
    const ok = encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [['a', 'b']] }, data: Buffer.from('body') }, 3);
    expect(decodeFrame(ok, HUB_RECEIVES, 3)).toMatchObject({ data: Buffer.from('body') });
    const bad = Buffer.from(ok);
    bad.writeUInt32BE(bad.readUInt32BE(5) + 2, 5); // the head length now takes in two bytes of the body
    expect(() => decodeFrame(bad, HUB_RECEIVES, 3)).toThrow(expect.objectContaining({ closeCode: CloseCode.MalformedFrame }));
  });
});

describe('RESPONSE frames', () => {
  it('an agent never receives one, and one over 64 KiB is never encoded', () => {
    const frame = encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [] }, data: Buffer.alloc(10) });
    expect(decodeFrame(frame, HUB_RECEIVES).type).toBe(FrameType.Response);
    expect(() => decodeFrame(frame, AGENT_RECEIVES)).toThrow(expect.objectContaining({ closeCode: CloseCode.UnexpectedFrame }));
    const head = '{"status":200,"headers":[]}'.length;
    expect(encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [] }, data: Buffer.alloc(65_536 - 4 - head) }).length).toBe(
      5 + 65_536,
    );
    expect(() => encodeFrame({ type: FrameType.Response, stream: 1, msg: { status: 200, headers: [] }, data: Buffer.alloc(65_536 - 4 - head + 1) })).toThrow(
      ProtocolError,
    );
  });
});

describe('stream ids', () => {
  it('the hub starts again at 1 after 0xFFFFFFFF, skipping ids still in use', () => {
    const ids = new StreamIds(MAX_STREAM_ID - 4);
    const inUse = new Set<number>();
    const take = () => {
      const id = ids.take((i) => inUse.has(i));
      inUse.add(id);
      return id;
    };
    expect([take(), take(), take()]).toEqual([MAX_STREAM_ID - 4, MAX_STREAM_ID - 2, MAX_STREAM_ID]);
    inUse.delete(MAX_STREAM_ID - 2);
    inUse.add(3); // a call of the first lap still running on stream 3
    expect([take(), take(), take()]).toEqual([1, 5, 7]);
    // A lap's ids each fit the frame's 4 bytes.
    expect(decodeFrame(encodeFrame({ type: FrameType.End, stream: MAX_STREAM_ID }), AGENT_RECEIVES).stream).toBe(MAX_STREAM_ID);
  });
  it('after a lap every odd id not in use is a finished call; before it, only those below the last', () => {
    const ids = new StreamIds(MAX_STREAM_ID - 2);
    ids.take(() => false);
    expect(ids.opened(MAX_STREAM_ID - 2)).toBe(true);
    expect(ids.opened(MAX_STREAM_ID)).toBe(false);
    ids.take(() => false);
    ids.take(() => false); // 1: a new lap
    expect(ids.opened(MAX_STREAM_ID)).toBe(true);
    expect(ids.opened(9)).toBe(true);
    expect(ids.opened(8)).toBe(false);
  });
  it('the agent takes a smaller id only as a new lap after a lap has gone past half its ids', () => {
    const agent = new StreamIds();
    const free = () => false;
    expect(agent.accept(1, free)).toBe(true);
    expect(agent.accept(2, free)).toBe(false); // even
    expect(agent.accept(7, free)).toBe(true);
    expect(agent.accept(5, free)).toBe(false); // smaller, early in the lap: reuse, not a new lap
    expect(agent.opened(99)).toBe(false);
    expect(agent.accept(0x8000_0001, free)).toBe(true);
    expect(agent.accept(9, (id) => id === 9)).toBe(false); // in use
    expect(agent.accept(11, free)).toBe(true); // a new lap
    expect(agent.opened(0x8000_0001)).toBe(true);
    expect(agent.opened(99)).toBe(true);
    expect(agent.accept(13, free)).toBe(true);
    expect(agent.accept(13, free)).toBe(false);
  });
});

describe('the table of calls in flight by stream id (IdMap)', () => {
  it('answers as a Map would through a long run of adds, removals and growth, ids from the whole u32 range', () => {
    const table = new IdMap<{ id: number }>(8);
    const model = new Map<number, { id: number }>();
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    // Consecutive odd ids as the hub takes them, plus ids near the top of the range and random ones (collisions).
    let next = 1;
    const pickId = () => {
      const r = rand() % 10;
      if (r < 6) {
        const id = next;
        next += 2;
        return id;
      }
      if (r < 8) return (MAX_STREAM_ID - (rand() % 64)) >>> 0;
      return rand() >>> 0;
    };
    for (let step = 0; step < 50_000; step++) {
      const live = [...model.keys()];
      if (live.length > 0 && (rand() % 100 < 45 || live.length > 300)) {
        const id = live[rand() % live.length]!;
        expect(table.delete(id)).toBe(true);
        model.delete(id);
      } else {
        const id = pickId();
        const v = { id };
        table.set(id, v);
        model.set(id, v);
      }
      if (step % 997 === 0) {
        for (const [id, v] of model) expect(table.get(id)).toBe(v);
        expect(new Set(table.list())).toEqual(new Set(model.values()));
      }
      expect(table.size).toBe(model.size);
    }
    for (const [id, v] of model) {
      expect(table.has(id)).toBe(true);
      expect(table.get(id)).toBe(v);
    }
    expect(table.get(0)).toBeUndefined();
    expect(table.delete(0)).toBe(false);
  });

  it('replaces the value of an id it holds, and holds nothing after clear', () => {
    const table = new IdMap<{ n: number }>();
    table.set(5, { n: 1 });
    table.set(5, { n: 2 });
    expect(table.size).toBe(1);
    expect(table.get(5)).toEqual({ n: 2 });
    table.clear();
    expect(table.size).toBe(0);
    expect(table.has(5)).toBe(false);
    expect(table.list()).toEqual([]);
  });
});

describe("the hub's agent session at the end of a lap of stream ids", () => {
  it('sends the next call on stream 1 and drops a late frame of the last lap, keeping the connection', async () => {
    // The hub's own session class over a real WebSocket, its ids started near the end (a lap is 2^31 calls).
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    let closed: number | undefined;
    const opened = new Promise<AgentSession>((resolve) =>
      wss.on('connection', (ws) => {
        const s: AgentSession = new AgentSession(
          ws,
          { memberId: 'm', gatewayId: 'g', name: 'n', createdAt: '' },
          pino({ level: 'silent' }),
          { onOpen: () => resolve(s), onClose: () => {} },
          new StreamIds(MAX_STREAM_ID - 2),
        );
      }),
    );
    const agent = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
    agent.on('close', (code) => {
      closed = code;
    });
    const heads: number[] = [];
    agent.on('message', (d) => {
      const f = decodeFrame(d as Buffer, AGENT_RECEIVES);
      if (f.type !== FrameType.RequestHead) return;
      heads.push(f.stream);
      agent.send(encodeFrame({ type: FrameType.ResponseHead, stream: f.stream, msg: { status: 200, headers: [] } }));
      agent.send(encodeFrame({ type: FrameType.End, stream: f.stream }));
    });
    await once(agent, 'open');
    agent.send(encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions: [1], agentVersion: 't', hostname: 't', capabilities: [] } }));
    const session = await opened;
    try {
      const head = { requestId: 'r', method: 'GET', url: 'http://service/', headers: [], bodyLength: 0, timeoutMs: 5000, credentials: null };
      for (let i = 0; i < 3; i++) {
        const call = session.open(head);
        expect((await call.sendBodyThenHead(null, (e) => e as Error)).status).toBe(200);
      }
      expect(heads).toEqual([MAX_STREAM_ID - 2, MAX_STREAM_ID, 1]);
      agent.send(encodeFrame({ type: FrameType.Credit, stream: MAX_STREAM_ID, bytes: 1024 }));
      expect((await session.open(head).sendBodyThenHead(null, (e) => e as Error)).status).toBe(200);
      expect(heads.at(-1)).toBe(3);
      // an id the hub never gives (even) is still a violation; any odd one was opened in the first lap
      agent.send(encodeFrame({ type: FrameType.End, stream: 10 }));
      await expect.poll(() => closed).toBe(CloseCode.UnexpectedFrame);
    } finally {
      agent.terminate();
      wss.close();
    }
  });
});
