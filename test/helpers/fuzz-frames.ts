// Valid frames of every type, both directions, every protocol version, built at random as seeds for the codec
// fuzz; JSON-aware mutations of their messages; and the shape every decoded frame must have, checked here
// independently of the decoder.
import {
  AGENT_RECEIVES,
  AgentFailureCodes,
  FrameType,
  HUB_RECEIVES,
  Limits,
  MAX_LISTED_HUBS,
  PROTOCOL_VERSIONS,
  encodeFrame,
  type Frame,
  type HeaderList,
} from '@gatehouse/shared';
import type { Rng } from './fuzz-rng.js';

/** The versions a connection decodes with: 0 before the handshake, then every version this build speaks. */
export const FUZZ_VERSIONS = [0, ...[...PROTOCOL_VERSIONS].sort()] as const;
export const DIRECTIONS = { hub: HUB_RECEIVES, agent: AGENT_RECEIVES } as const;

const WORDS = [
  '',
  'a',
  'x-request-id',
  'content-type',
  'GET',
  'POST',
  'http://127.0.0.1:8080/api/v1/x?y=1',
  'Set-Cookie',
  'é',
  'ü€',
  '😀',
  'text/plain; charset=utf-8',
  ' ',
  '\t',
  '0',
  '{"a":1}',
  '\\',
  '"',
];

function text(rng: Rng, max = 64): string {
  if (rng.chance(0.5)) return rng.pick(WORDS);
  let s = '';
  for (let n = rng.int(max); n > 0; n--) s += rng.chance(0.9) ? String.fromCharCode(rng.range(0x20, 0x7e)) : rng.pick(['é', '€', '😀', '\u00ff', '\u2028']);
  return s;
}

function headers(rng: Rng): HeaderList {
  const list: HeaderList = [];
  for (let n = rng.chance(0.1) ? rng.range(20, 200) : rng.int(6); n > 0; n--) list.push([text(rng, 24), text(rng, 80)]);
  return list;
}

const stream = (rng: Rng): number => rng.pick([1, 2, 3, 7, 0x7fff_ffff, 0xffff_ffff, rng.range(1, 0xffff_ffff)]);

/** A valid frame of `type` (the shapes real hubs and agents send). */
export function validFrame(rng: Rng, type: number): Frame {
  switch (type) {
    case FrameType.Hello:
      return {
        type,
        stream: 0,
        msg: {
          versions: rng.chance(0.8) ? [...PROTOCOL_VERSIONS] : [rng.range(1, 9)],
          agentVersion: text(rng, 20),
          hostname: text(rng, 40),
          capabilities: rng.chance(0.5) ? [] : [text(rng, 16), text(rng, 16)],
        },
      };
    case FrameType.Welcome:
      return {
        type,
        stream: 0,
        msg: {
          version: rng.pick([1, 2, 3]),
          memberId: text(rng, 32),
          gatewayId: text(rng, 32),
          heartbeatIntervalMs: Limits.heartbeatIntervalMs,
          heartbeatTimeoutMs: Limits.heartbeatTimeoutMs,
          streamWindowBytes: Limits.streamWindowBytes,
          maxDataBytes: Limits.maxDataBytes,
        },
      };
    case FrameType.RequestHead:
      return {
        type,
        stream: stream(rng),
        msg: {
          requestId: text(rng, 36),
          method: rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']),
          url: `http://127.0.0.1:${rng.range(1, 65535)}/${text(rng, 200)}`,
          headers: headers(rng),
          bodyLength: rng.pick([null, 0, 1, rng.int(1 << 30), Number.MAX_SAFE_INTEGER]),
          timeoutMs: rng.range(1, 86_400_000),
          credentials: rng.chance(0.5) ? null : { scheme: rng.pick(['basic', 'windows'] as const), sealed: text(rng, 300) },
        },
      };
    case FrameType.ResponseHead:
      return { type, stream: stream(rng), msg: responseHeadMsg(rng) };
    case FrameType.Response:
      return { type, stream: stream(rng), msg: responseHeadMsg(rng), data: rng.bytes(rng.chance(0.2) ? 0 : rng.range(1, 2048)) };
    case FrameType.Data:
      return { type, stream: stream(rng), data: rng.bytes(rng.chance(0.05) ? Limits.maxDataBytes : rng.range(1, 512)) };
    case FrameType.End:
      return { type, stream: stream(rng) };
    case FrameType.Cancel:
    case FrameType.GoAway:
      return { type, stream: type === FrameType.GoAway ? 0 : stream(rng), msg: { reason: text(rng, 100) } } as Frame;
    case FrameType.Failure:
      return { type, stream: stream(rng), msg: { code: rng.pick(AgentFailureCodes), message: text(rng, 200), ...(rng.chance(0.3) ? { notSent: true } : {}) } };
    case FrameType.Credit:
      return { type, stream: stream(rng), bytes: rng.range(1, 0xffff_ffff) };
    case FrameType.Ping:
    case FrameType.Pong:
      return { type, stream: 0, data: rng.bytes(8) } as Frame;
    case FrameType.Hubs: {
      const hubId = () => rng.pick(['', 'a', '3f9bb839-bf62-4ce5-b7f5-66d02f28cc7f', 'x'.repeat(64)]);
      const url = () => rng.pick(['http://127.0.0.1:8080', 'https://hub-2.example.com', 'http://[::1]:1', 'https://h']);
      const hubs = Array.from({ length: rng.chance(0.1) ? MAX_LISTED_HUBS : rng.int(4) }, () => ({ id: hubId(), url: url() }));
      return { type, stream: 0, msg: { hubId: hubId(), hubs } };
    }
    default:
      throw new Error(`no seed for frame type ${type}`);
  }
}

function responseHeadMsg(rng: Rng): { status: number; headers: HeaderList; backendMs?: number } {
  const m: { status: number; headers: HeaderList; backendMs?: number } = { status: rng.range(100, 599), headers: headers(rng) };
  if (rng.chance(0.7)) m.backendMs = rng.int(100_000);
  return m;
}

/** Whether `type`'s message travels as JSON in `version` (the rest is binary or raw bytes). */
export function isJsonFrame(type: number, version: number): boolean {
  if (type === FrameType.Data || type === FrameType.End || type === FrameType.Credit || type === FrameType.Ping || type === FrameType.Pong) return false;
  if (type === FrameType.Response) return false; // a length-prefixed head then the body: mutated as bytes
  if (version >= 3 && type === FrameType.ResponseHead) return false;
  if (version >= 3 && type === FrameType.RequestHead) return false;
  return true;
}

// ---- JSON-aware mutation: the message object changed, re-serialised, framed again ----

const WRONG_VALUES: unknown[] = [
  null,
  true,
  0,
  -0,
  -1,
  1.5,
  1e21,
  2 ** 53,
  -(2 ** 31),
  '',
  '0',
  'x'.repeat(70_000),
  [],
  {},
  [[]],
  [1, 2],
  { a: 1 },
  ['a'],
  [['a']],
  [['a', 1]],
  [['a', 'b', 'c']],
];

function deep(n: number, open: string, close: string): string {
  return open.repeat(n) + close.repeat(n);
}

/** `msg` with one structural change, as JSON text. */
export function mutateJson(rng: Rng, msg: Record<string, unknown>): string {
  const o: Record<string, unknown> = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
  const keys = Object.keys(o);
  const key = keys.length ? rng.pick(keys) : 'x';
  switch (rng.int(9)) {
    case 0:
      delete o[key];
      break;
    case 1:
      o[key] = rng.pick(WRONG_VALUES);
      break;
    case 2:
      o[rng.pick(['__proto__', 'constructor', 'prototype', 'toString', 'extra'])] = rng.pick(WRONG_VALUES);
      break;
    case 3: {
      // a duplicate key, the later one winning in JSON.parse
      const json = JSON.stringify(o);
      return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${JSON.stringify(key)}:${JSON.stringify(rng.pick(WRONG_VALUES))}}`;
    }
    case 4: {
      // deep nesting in place of a value
      const json = JSON.stringify({ ...o, [key]: 0 });
      const n = rng.pick([10, 1000, 20_000]);
      return json.replace(
        `${JSON.stringify(key)}:0`,
        `${JSON.stringify(key)}:${rng.chance(0.5) ? deep(n, '[', ']') : deep(n, '{"a":', '}').replace(/:}/, ':1}')}`,
      );
    }
    case 5: {
      const v = o[key];
      if (Array.isArray(v)) {
        // a header list: odd pairs, huge counts
        const pairs = v as unknown[];
        if (rng.chance(0.3)) {
          const p = pairs[0] ?? ['a', 'b'];
          o[key] = Array(rng.pick([1001, 5000])).fill(p);
        } else pairs.push(rng.pick(WRONG_VALUES));
      } else if (typeof v === 'string') o[key] = rng.pick([v.repeat(rng.range(2, 2000)), `${v}\u0000`, `${v}\ud800`, '\udc00', v.normalize('NFD')]);
      else if (typeof v === 'number') o[key] = rng.pick([v + 1, v - 1, -v, v * 2 ** 20, v + 0.5, -0]);
      else o[key] = rng.pick(WRONG_VALUES);
      break;
    }
    case 6:
      return JSON.stringify(rng.pick([[], o && [o], 'x', 1, null, true]));
    case 7: {
      // JSON text edits: escapes, whitespace, a byte order mark, trailing garbage
      const json = JSON.stringify(o);
      if (rng.chance(0.5)) {
        // a number spelled another way: -0, out of range, a fraction or exponent that is still an integer
        const numbers = [...json.matchAll(/(?<=[:,[])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=[,\]}])/g)];
        const m = numbers.length ? rng.pick(numbers) : undefined;
        if (m)
          return (
            json.slice(0, m.index) +
            rng.pick(['-0', '-0.0', '1e400', '-1e400', `${m[0]}.0`, `${m[0]}e0`, '1E2', '0.5e1', '100000000000000000000000', '9007199254740993']) +
            json.slice(m.index + m[0].length)
          );
      }
      return rng.pick([`\ufeff${json}`, ` \n${json}\t`, `${json}x`, `${json}${json}`, json.replace(/"([a-z])/, '"\\u00$1'), json.slice(0, -1)]);
    }
    default:
      o[key] = rng.chance(0.5) ? rng.pick(WRONG_VALUES) : String(rng.u32());
  }
  return JSON.stringify(o);
}

/** A frame of `type` whose payload is `json` (raw bytes, no validation). */
export function frameWithPayload(type: number, streamId: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b[0] = type;
  b.writeUInt32BE(streamId >>> 0, 1);
  payload.copy(b, 5);
  return b;
}

/** The seed frames one (version, direction) decodes: every type that direction accepts, encoded for the version. */
export function seedFrames(rng: Rng, version: number, accepted: ReadonlySet<number>, perType: number): Array<{ frame: Frame; bytes: Buffer }> {
  const out: Array<{ frame: Frame; bytes: Buffer }> = [];
  for (const type of accepted) {
    for (let i = 0; i < perType; i++) {
      const frame = validFrame(rng, type);
      out.push({ frame, bytes: encodeFrame(frame, version) });
    }
  }
  return out;
}

// ---- the shape of a decoded frame, checked without the decoder ----

const isStr = (v: unknown): v is string => typeof v === 'string';
const isU32 = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff_ffff;
const isPairList = (v: unknown): boolean => Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && isStr(p[0]) && isStr(p[1]));
const isHeaderList = (v: unknown): boolean => isPairList(v) && (v as unknown[]).length <= Limits.maxHeaderLines;
const isBytes = (v: unknown): boolean => v instanceof Uint8Array;

/** Why a decoded frame does not have the shape its type promises, or undefined when it does. */
export function shapeProblem(f: Frame, accepted: ReadonlySet<number>): string | undefined {
  if (!accepted.has(f.type)) return `type ${f.type} is not received in this direction`;
  if (!isU32(f.stream)) return `stream ${String(f.stream)}`;
  const connectionLevel =
    f.type === FrameType.Hello ||
    f.type === FrameType.Welcome ||
    f.type === FrameType.Ping ||
    f.type === FrameType.Pong ||
    f.type === FrameType.GoAway ||
    f.type === FrameType.Hubs;
  if (connectionLevel !== (f.stream === 0)) return `type ${f.type} on stream ${f.stream}`;
  switch (f.type) {
    case FrameType.Hello: {
      const m = f.msg;
      return Array.isArray(m.versions) &&
        m.versions.length > 0 &&
        m.versions.every((v) => Number.isInteger(v) && v > 0) &&
        isStr(m.agentVersion) &&
        isStr(m.hostname) &&
        Array.isArray(m.capabilities) &&
        m.capabilities.every(isStr)
        ? undefined
        : 'hello';
    }
    case FrameType.Welcome: {
      const m = f.msg;
      return [m.version, m.heartbeatIntervalMs, m.heartbeatTimeoutMs, m.streamWindowBytes, m.maxDataBytes].every((v) => Number.isInteger(v) && v > 0) &&
        isStr(m.memberId) &&
        isStr(m.gatewayId) &&
        m.maxDataBytes <= Limits.maxDataBytes
        ? undefined
        : 'welcome';
    }
    case FrameType.RequestHead: {
      const m = f.msg;
      // A request head's header count and string lengths are per-call limits (requestHeadProblem, judged after
      // decoding, so that a head over them fails its call and not the tunnel): only their types are the codec's.
      if (!isStr(m.requestId) || !isStr(m.method) || !isStr(m.url) || !isPairList(m.headers)) return 'request head strings or headers';
      if (!(m.bodyLength === null || (Number.isSafeInteger(m.bodyLength) && m.bodyLength >= 0))) return `bodyLength ${String(m.bodyLength)}`;
      if (!(Number.isInteger(m.timeoutMs) && m.timeoutMs >= 1 && m.timeoutMs <= 86_400_000)) return 'timeoutMs';
      if (m.credentials !== null && !((m.credentials.scheme === 'basic' || m.credentials.scheme === 'windows') && isStr(m.credentials.sealed)))
        return 'credentials';
      return undefined;
    }
    case FrameType.ResponseHead:
    case FrameType.Response: {
      const m = f.msg;
      if (!(Number.isInteger(m.status) && m.status >= 100 && m.status <= 599) || !isHeaderList(m.headers)) return 'response head';
      if (m.backendMs !== undefined && !(Number.isInteger(m.backendMs) && m.backendMs >= 0)) return 'backendMs';
      if (f.type === FrameType.Response && !(isBytes(f.data) && f.data.length <= Limits.maxDataBytes)) return 'response data';
      return undefined;
    }
    case FrameType.Data:
      return isBytes(f.data) && f.data.length > 0 && f.data.length <= Limits.maxDataBytes ? undefined : 'data';
    case FrameType.End:
      return undefined;
    case FrameType.Credit:
      return isU32(f.bytes) && f.bytes > 0 ? undefined : 'credit';
    case FrameType.Ping:
    case FrameType.Pong:
      return isBytes(f.data) && f.data.length === 8 ? undefined : 'ping';
    case FrameType.Cancel:
    case FrameType.GoAway:
      return isStr(f.msg.reason) ? undefined : 'reason';
    case FrameType.Hubs: {
      const m = f.msg;
      return isStr(m.hubId) &&
        Array.isArray(m.hubs) &&
        m.hubs.length <= MAX_LISTED_HUBS &&
        m.hubs.every((h) => isStr(h.id) && isStr(h.url) && /^https?:\/\//.test(h.url))
        ? undefined
        : 'hubs';
    }
    case FrameType.Failure:
      return (AgentFailureCodes as readonly string[]).includes(f.msg.code) && isStr(f.msg.message) && (f.msg.notSent === undefined || f.msg.notSent === true)
        ? undefined
        : 'failure';
    default:
      return 'unknown type';
  }
}
