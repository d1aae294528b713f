// Bytes <-> typed frames. Every inbound frame passes through decodeFrame, which either returns a fully
// validated Frame or throws a ProtocolError that carries the close code to send.
import { Buffer } from 'node:buffer';
import {
  AgentFailureCodes,
  BINARY_HEADS_VERSION,
  CloseCode,
  FrameType,
  Limits,
  MAX_LISTED_HUBS,
  type CloseCodeValue,
  type Frame,
  type HeaderList,
  type RequestHeadMessage,
  type ResponseHeadMessage,
} from './protocol.js';
import { hasUnquotable } from './agent-answer.js';

export class ProtocolError extends Error {
  readonly code = 'GATEHOUSE_PROTOCOL_ERROR';
  constructor(
    readonly closeCode: CloseCodeValue,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

function header(type: number, stream: number, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(Limits.frameHeaderBytes + payloadLength);
  buf[0] = type;
  buf.writeUInt32BE(stream >>> 0, 1);
  return buf;
}

function withPayload(type: number, stream: number, payload: Uint8Array): Buffer {
  const buf = header(type, stream, payload.length);
  buf.set(payload, Limits.frameHeaderBytes);
  return buf;
}

/** `version`: the connection's protocol version (0 before the handshake); from BINARY_HEADS_VERSION on, request
 *  and response heads are written in binary. */
const responseTooLarge = (length: number): ProtocolError =>
  new ProtocolError(CloseCode.MalformedFrame, `RESPONSE payload of ${length} bytes is over the ${Limits.maxDataBytes}-byte limit`);

export function encodeFrame(frame: Frame, version = 0): Buffer {
  if (version >= BINARY_HEADS_VERSION) {
    if (frame.type === FrameType.RequestHead) return binaryHeadFrame(frame.type, frame.stream, REQUEST_HEAD, frame.msg, undefined);
    if (frame.type === FrameType.ResponseHead) return binaryHeadFrame(frame.type, frame.stream, RESPONSE_HEAD, frame.msg, undefined);
    if (frame.type === FrameType.Response) return binaryHeadFrame(frame.type, frame.stream, RESPONSE_HEAD, frame.msg, frame.data);
  }
  switch (frame.type) {
    case FrameType.Data:
    case FrameType.Ping:
    case FrameType.Pong:
      return withPayload(frame.type, frame.stream, frame.data);
    case FrameType.End:
      return header(frame.type, frame.stream, 0);
    case FrameType.Credit: {
      const buf = header(frame.type, frame.stream, 4);
      buf.writeUInt32BE(frame.bytes, Limits.frameHeaderBytes);
      return buf;
    }
    case FrameType.Response: {
      // [uint32 head length][head JSON][body]: the payload is capped as DATA's is.
      const json = Buffer.from(JSON.stringify(frame.msg), 'utf8');
      const length = 4 + json.length + frame.data.length;
      if (length > Limits.maxDataBytes) throw responseTooLarge(length);
      const buf = header(frame.type, frame.stream, length);
      buf.writeUInt32BE(json.length, Limits.frameHeaderBytes);
      json.copy(buf, Limits.frameHeaderBytes + 4);
      buf.set(frame.data, Limits.frameHeaderBytes + 4 + json.length);
      return buf;
    }
    default: {
      const json = Buffer.from(JSON.stringify(frame.msg), 'utf8');
      if (json.length > Limits.maxJsonBytes) {
        throw new ProtocolError(CloseCode.MalformedFrame, `frame type ${frame.type} JSON is ${json.length} bytes, over the ${Limits.maxJsonBytes}-byte limit`);
      }
      return withPayload(frame.type, frame.stream, json);
    }
  }
}

// ---- version 3: binary heads ----
// A head is its fixed fields, then its strings, each as a uint16 big-endian byte count and that many bytes of
// UTF-8, then the header count (uint16) and each header's name and value as two such strings (docs/protocol.md).
// The limits are JSON's (a head fits maxJsonBytes; RESPONSE's head and body fit maxDataBytes), and so is what
// the reader checks. Nearly every string a head carries is ASCII: it is sized and written as one byte per
// character first, and sized again as UTF-8 only when a string turns out to hold anything else.

const asciiLength = (s: string): number => s.length;
const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

class HeadWriter {
  constructor(
    readonly buf: Buffer,
    public at: number,
    private readonly ascii: boolean,
  ) {}
  u8(v: number): void {
    this.buf[this.at++] = v;
  }
  u16(v: number): void {
    this.buf.writeUInt16BE(v, this.at);
    this.at += 2;
  }
  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.at);
    this.at += 4;
  }
  f64(v: number): void {
    this.buf.writeDoubleBE(v, this.at);
    this.at += 8;
  }
  /** False on the ASCII pass when `s` holds another character (the head is then sized again as UTF-8). */
  str(s: string): boolean {
    const buf = this.buf;
    let at = this.at + 2;
    if (this.ascii) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) return false;
        buf[at++] = c;
      }
    } else at += buf.write(s, at, 'utf8');
    buf.writeUInt16BE(at - this.at - 2, this.at);
    this.at = at;
    return true;
  }
  headers(list: HeaderList): boolean {
    this.u16(list.length);
    for (const [k, v] of list) if (!this.str(k) || !this.str(v)) return false;
    return true;
  }
}

const headersSize = (list: HeaderList, len: (s: string) => number): number => {
  let n = 2 + 4 * list.length;
  for (const [k, v] of list) n += len(k) + len(v);
  return n;
};

interface BinaryHead<M> {
  size(m: M, len: (s: string) => number): number;
  write(w: HeadWriter, m: M): boolean;
}

/** REQUEST_HEAD: timeoutMs (uint32), bodyLength (float64, -1 for null), requestId, method, url, credentials
 *  (uint8: 0 none, 1 basic, 2 windows; then `sealed` unless 0), headers. */
const REQUEST_HEAD: BinaryHead<RequestHeadMessage> = {
  size: (m, len) =>
    4 + 8 + 6 + len(m.requestId) + len(m.method) + len(m.url) + 1 + (m.credentials ? 2 + len(m.credentials.sealed) : 0) + headersSize(m.headers, len),
  write(w, m) {
    w.u32(m.timeoutMs);
    w.f64(m.bodyLength ?? -1);
    if (!w.str(m.requestId) || !w.str(m.method) || !w.str(m.url)) return false;
    if (m.credentials) {
      w.u8(m.credentials.scheme === 'basic' ? 1 : 2);
      if (!w.str(m.credentials.sealed)) return false;
    } else w.u8(0);
    return w.headers(m.headers);
  },
};

/** RESPONSE_HEAD, and RESPONSE's head: status (uint16), backendMs + 1 (uint32; 0: none), headers. */
const RESPONSE_HEAD: BinaryHead<ResponseHeadMessage> = {
  size: (m, len) => 2 + 4 + headersSize(m.headers, len),
  write(w, m) {
    w.u16(m.status);
    w.u32(m.backendMs === undefined ? 0 : m.backendMs + 1);
    return w.headers(m.headers);
  },
};

/** A head frame (RESPONSE: [uint32 head length][head][body]), held to the limits JSON heads are held to. */
function binaryHeadFrame<M>(type: number, stream: number, codec: BinaryHead<M>, msg: M, body: Uint8Array | undefined): Buffer {
  return writeHeadFrame(type, stream, codec, msg, body, true) ?? writeHeadFrame(type, stream, codec, msg, body, false)!;
}

/** undefined when `ascii` and a string holds a character outside ASCII. */
function writeHeadFrame<M>(type: number, stream: number, codec: BinaryHead<M>, msg: M, body: Uint8Array | undefined, ascii: boolean): Buffer | undefined {
  const start = Limits.frameHeaderBytes + (body ? 4 : 0);
  const headBytes = codec.size(msg, ascii ? asciiLength : utf8Length);
  const length = start - Limits.frameHeaderBytes + headBytes + (body?.length ?? 0);
  if (body && length > Limits.maxDataBytes) throw responseTooLarge(length);
  if (!body && headBytes > Limits.maxJsonBytes)
    throw new ProtocolError(CloseCode.MalformedFrame, `frame type ${type} head is ${headBytes} bytes, over the ${Limits.maxJsonBytes}-byte limit`);
  const buf = header(type, stream, length);
  if (!codec.write(new HeadWriter(buf, start, ascii), msg)) return undefined;
  if (body) {
    buf.writeUInt32BE(headBytes, Limits.frameHeaderBytes);
    buf.set(body, start + headBytes);
  }
  return buf;
}

/** Encodes a Data frame without building a Frame object (hot path). */
export function encodeData(stream: number, chunk: Uint8Array): Buffer {
  return withPayload(FrameType.Data, stream, chunk);
}

// ---- decoding ----

type Obj = Record<string, unknown>;
const malformed = (why: string): never => {
  throw new ProtocolError(CloseCode.MalformedFrame, why);
};
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const checkStr = (k: string, v: unknown, max: number): string => {
  if (typeof v !== 'string' || v.length > max) malformed(`field ${k} must be a string of at most ${max} characters`);
  return v as string;
};
// `+ 0` turns a JSON `-0` (an integer, and not below 0) into 0: a decoded number is the one its encoding writes back.
const checkInt = (k: string, v: unknown, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) malformed(`field ${k} must be an integer in [${min}, ${max}]`);
  return (v as number) + 0;
};
const checkBodyLength = (v: unknown): number | null => {
  if (v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) malformed('field bodyLength must be null or a non-negative integer');
  return v === null ? null : (v as number) + 0;
};
const str = (o: Obj, k: string, max = 8192): string => checkStr(k, o[k], max);
const int = (o: Obj, k: string, min: number, max: number): number => checkInt(k, o[k], min, max);

/** The longest a head's times may be (ms), however the head is written (JSON in versions 1 and 2, binary from
 *  version 3). A request head's string fields and header lines are per-call limits (requestHeadProblem). */
const MAX_MS = 86_400_000;

const strList = (o: Obj, k: string): string[] => {
  const v = o[k];
  if (!Array.isArray(v) || v.length > 64 || !v.every((x) => typeof x === 'string' && x.length <= 256)) malformed(`field ${k} must be a list of strings`);
  return v as string[];
};
const tooManyHeaders = (k: string): never => malformed(`field ${k} must be a list of at most ${Limits.maxHeaderLines} [name, value] pairs`);
/** `max`: the most pairs taken (a request head's count is a per-call limit, judged after decoding). */
const headerList = (o: Obj, k: string, max: number = Limits.maxHeaderLines): HeaderList => {
  const v = o[k];
  if (!Array.isArray(v) || v.length > max) tooManyHeaders(k);
  for (const pair of v as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string')
      malformed(`field ${k} must be a list of [name, value] pairs`);
  }
  return v as HeaderList;
};

function responseHead(o: Obj): ResponseHeadMessage {
  const msg: ResponseHeadMessage = { status: int(o, 'status', 100, 599), headers: headerList(o, 'headers') };
  if (o.backendMs !== undefined) msg.backendMs = int(o, 'backendMs', 0, MAX_MS);
  return msg;
}

/** Reads a binary head from `buf` between `at` and `end`; every read past `end` is a malformed frame. */
class HeadReader {
  constructor(
    private readonly buf: Buffer,
    private at: number,
    private readonly end: number,
  ) {}
  private need(n: number): void {
    if (this.at + n > this.end) malformed('binary head runs past its end');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.at);
    this.at += 8;
    return v;
  }
  str(): string {
    const n = this.u16();
    this.need(n);
    const v = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return v;
  }
  /** `max`: the most pairs taken (a request head's count is a per-call limit, judged after decoding). */
  headers(k: string, max: number = Limits.maxHeaderLines): HeaderList {
    const n = this.u16();
    if (n > max) tooManyHeaders(k);
    const out: HeaderList = [];
    for (let i = 0; i < n; i++) out.push([this.str(), this.str()]);
    return out;
  }
  done(): void {
    if (this.at !== this.end) malformed(`${this.end - this.at} bytes after the binary head`);
  }
}

function binaryRequestHead(raw: Buffer): RequestHeadMessage {
  const r = new HeadReader(raw, Limits.frameHeaderBytes, raw.length);
  const timeoutMs = checkInt('timeoutMs', r.u32(), 1, MAX_MS);
  const bl = r.f64();
  const bodyLength = checkBodyLength(bl === -1 ? null : bl);
  const requestId = r.str();
  const method = r.str();
  const url = r.str();
  const scheme = r.u8();
  if (scheme > 2) malformed('unknown credentials scheme');
  const credentials = scheme === 0 ? null : { scheme: scheme === 1 ? ('basic' as const) : ('windows' as const), sealed: r.str() };
  const headers = r.headers('headers', Number.POSITIVE_INFINITY);
  r.done();
  return { requestId, method, url, headers, bodyLength, timeoutMs, credentials };
}

function binaryResponseHead(raw: Buffer, at: number, end: number): ResponseHeadMessage {
  const r = new HeadReader(raw, at, end);
  const status = checkInt('status', r.u16(), 100, 599);
  const backend = r.u32(); // backendMs + 1, 0 for none
  const backendMs = backend === 0 ? undefined : checkInt('backendMs', backend - 1, 0, MAX_MS);
  const msg: ResponseHeadMessage = { status, headers: r.headers('headers') };
  if (backendMs !== undefined) msg.backendMs = backendMs;
  r.done();
  return msg;
}

/** A JSON request head (versions 1 and 2), its fields' types checked (their lengths: requestHeadProblem; the
 *  payload's own cap bounds them). */
function jsonRequestHead(o: Obj): RequestHeadMessage {
  const bodyLength = checkBodyLength(o.bodyLength);
  let credentials = null;
  if (o.credentials !== null) {
    if (!isObj(o.credentials)) return malformed('field credentials must be an object or null');
    const scheme = str(o.credentials, 'scheme', 16);
    if (scheme !== 'basic' && scheme !== 'windows') malformed('unknown credentials scheme');
    credentials = { scheme: scheme as 'basic' | 'windows', sealed: str(o.credentials, 'sealed', Limits.maxJsonBytes) };
  }
  return {
    requestId: str(o, 'requestId', Limits.maxJsonBytes),
    method: str(o, 'method', Limits.maxJsonBytes),
    url: str(o, 'url', Limits.maxJsonBytes),
    headers: headerList(o, 'headers', Number.POSITIVE_INFINITY),
    bodyLength,
    timeoutMs: int(o, 'timeoutMs', 1, MAX_MS),
    credentials,
  };
}

/**
 * The members and the byte bound of each JSON message (red-team finding B2, heavy frames): a GOAWAY of 64,007 bytes
 * of `"k0":{},"k1":{},…` cost the hub about 11 ms to parse, and one frame was charged as any other. A message is held
 * to the bytes its members can take (a string of n characters is at most 6n bytes of JSON, every one `\u00XX`) and
 * a member it does not have closes the connection, so bytes of JSON buy no more parsing than its fields need.
 */
export const JSON_MESSAGES = {
  /** reason: at most 1,024 characters. */
  reason: { members: ['reason'], maxBytes: 8 * 1024 },
  /** code (at most 64), message (at most 2,048 characters), notSent. */
  failure: { members: ['code', 'message', 'notSent'], maxBytes: 16 * 1024 },
  /** A head's header lines are many by nature: the frame's own cap, with the members checked. */
  responseHead: { members: ['status', 'headers', 'backendMs'], maxBytes: Limits.maxJsonBytes },
  hello: { members: ['versions', 'agentVersion', 'hostname', 'capabilities'], maxBytes: Limits.maxJsonBytes },
} as const;

type JsonMessage = (typeof JSON_MESSAGES)[keyof typeof JSON_MESSAGES];

/** Bytes of a frame's JSON or head that its one unit of the frame budget pays for. */
export const FREE_HEAD_BYTES = 1024;
/** Past FREE_HEAD_BYTES, one more unit per this many bytes: parsing a KiB of the costliest JSON or head a message
 *  may hold (1,000 short header lines) takes about as long as reading eight small frames (bench/frame-decode-cost.mjs). */
export const HEAD_BYTES_PER_UNIT = 128;

/**
 * The frame budget's units a frame costs beyond its one (red-team finding B2, heavy frames): its JSON or head
 * bytes past the first KiB, one unit per 128. DATA and a RESPONSE's body cost none (they are copied, not parsed),
 * nor do the fixed-size frames. Read from the frame's header and length only, before it is decoded.
 */
export function frameExtraUnits(raw: Buffer): number {
  if (raw.length < Limits.frameHeaderBytes) return 0;
  const type = raw[0];
  let bytes = raw.length - Limits.frameHeaderBytes;
  if (type === FrameType.Data || type === FrameType.Ping || type === FrameType.Pong || type === FrameType.End || type === FrameType.Credit) return 0;
  if (type === FrameType.Response) bytes = bytes < 4 ? 0 : Math.min(bytes - 4, raw.readUInt32BE(Limits.frameHeaderBytes));
  return bytes <= FREE_HEAD_BYTES ? 0 : Math.ceil((bytes - FREE_HEAD_BYTES) / HEAD_BYTES_PER_UNIT);
}

/** `shape`: the message's members and byte bound (JSON_MESSAGES); none for the messages only the agent reads. */
function parseJson(payload: Buffer, shape?: JsonMessage): Obj {
  if (shape && payload.length > shape.maxBytes) malformed(`JSON message of ${payload.length} bytes is over its ${shape.maxBytes}-byte limit`);
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return malformed('payload is not valid JSON');
  }
  if (!isObj(v)) malformed('payload must be a JSON object');
  if (shape) {
    const members: readonly string[] = shape.members;
    for (const k in v as Obj) if (!members.includes(k)) malformed(`JSON message holds a member it does not have (it has ${members.join(', ')})`);
  }
  return v as Obj;
}

/** Decodes and validates one WebSocket message. Throws ProtocolError with the close code to use. `version`: the
 *  connection's protocol version (0 before the handshake), which says how heads are written. */
export function decodeFrame(raw: Buffer, accepted: ReadonlySet<number>, version = 0): Frame {
  if (raw.length < Limits.frameHeaderBytes) malformed(`frame of ${raw.length} bytes is shorter than its ${Limits.frameHeaderBytes}-byte header`);
  const type = raw[0]!;
  const stream = raw.readUInt32BE(1);
  if (!KNOWN_TYPES.has(type)) throw new ProtocolError(CloseCode.UnknownFrameType, `unknown frame type ${type}`);
  if (!accepted.has(type)) throw new ProtocolError(CloseCode.UnexpectedFrame, `frame type ${type} is not sent in this direction`);
  const payload = raw.subarray(Limits.frameHeaderBytes);
  const connectionLevel =
    type === FrameType.Hello ||
    type === FrameType.Welcome ||
    type === FrameType.Ping ||
    type === FrameType.Pong ||
    type === FrameType.GoAway ||
    type === FrameType.Hubs;
  if (connectionLevel !== (stream === 0)) malformed(`frame type ${type} on stream ${stream}`);
  if (payload.length > (type === FrameType.Data || type === FrameType.Response ? Limits.maxDataBytes : Limits.maxJsonBytes))
    malformed(`frame type ${type} payload of ${payload.length} bytes is over its limit`);

  switch (type) {
    case FrameType.Data:
      if (payload.length === 0) malformed('empty Data frame');
      return { type, stream, data: payload };
    case FrameType.End:
      if (payload.length !== 0) malformed('End frame carries a payload');
      return { type, stream };
    case FrameType.Credit:
      if (payload.length !== 4) malformed('Credit frame must carry 4 bytes');
      {
        const bytes = payload.readUInt32BE(0);
        if (bytes === 0) malformed('Credit of 0 bytes');
        return { type, stream, bytes };
      }
    case FrameType.Ping:
    case FrameType.Pong:
      if (payload.length !== 8) malformed('Ping/Pong must carry 8 bytes');
      return { type, stream: 0, data: payload };
    case FrameType.Hello: {
      const o = parseJson(payload, JSON_MESSAGES.hello);
      const versions = o.versions;
      if (!Array.isArray(versions) || versions.length === 0 || versions.length > 16 || !versions.every((x) => Number.isInteger(x) && x > 0))
        malformed('field versions must be a list of positive integers');
      const msg = {
        versions: versions as number[],
        agentVersion: str(o, 'agentVersion', 64),
        hostname: str(o, 'hostname', 255),
        capabilities: strList(o, 'capabilities'),
      };
      // The hub shows and stores what HELLO says (PostgreSQL refuses a NUL in text), and GET /v1/gateways/{id}
      // hands it to callers: visible text only, by the property rule the hub quotes an agent by (agentWords): no
      // control, format, default-ignorable or line-separator character, no lone surrogate (red-team finding B8: a
      // hostname "host\u202egnp.exe\u2028\u00ad\u009b31m" was accepted and shown).
      if ([msg.agentVersion, msg.hostname, ...msg.capabilities].some(hasUnquotable))
        malformed('HELLO fields must be visible text (no control, format, invisible or line-separator characters)');
      return { type, stream: 0, msg };
    }
    case FrameType.Welcome: {
      const o = parseJson(payload);
      return {
        type,
        stream: 0,
        msg: {
          version: int(o, 'version', 1, 65535),
          memberId: str(o, 'memberId', 64),
          gatewayId: str(o, 'gatewayId', 64),
          heartbeatIntervalMs: int(o, 'heartbeatIntervalMs', 100, 600_000),
          heartbeatTimeoutMs: int(o, 'heartbeatTimeoutMs', 200, 3_600_000),
          streamWindowBytes: int(o, 'streamWindowBytes', 1024, 1 << 30),
          maxDataBytes: int(o, 'maxDataBytes', 1024, Limits.maxDataBytes),
        },
      };
    }
    case FrameType.RequestHead: {
      // A head that is well-formed but over a per-call limit (request-limits.ts) is decoded: the agent fails
      // that call, not the connection.
      return { type, stream, msg: version >= BINARY_HEADS_VERSION ? binaryRequestHead(raw) : jsonRequestHead(parseJson(payload)) };
    }
    case FrameType.ResponseHead:
      if (version >= BINARY_HEADS_VERSION) return { type, stream, msg: binaryResponseHead(raw, Limits.frameHeaderBytes, raw.length) };
      return { type, stream, msg: responseHead(parseJson(payload, JSON_MESSAGES.responseHead)) };
    case FrameType.Response: {
      if (payload.length < 4) malformed('RESPONSE frame without its head length');
      const headBytes = payload.readUInt32BE(0);
      if (headBytes > payload.length - 4) malformed(`RESPONSE head of ${headBytes} bytes runs past the frame`);
      const head = Limits.frameHeaderBytes + 4;
      const msg =
        version >= BINARY_HEADS_VERSION
          ? binaryResponseHead(raw, head, head + headBytes)
          : responseHead(parseJson(payload.subarray(4, 4 + headBytes), JSON_MESSAGES.responseHead));
      return { type, stream, msg, data: payload.subarray(4 + headBytes) };
    }
    case FrameType.Hubs: {
      const o = parseJson(payload);
      const list = o.hubs;
      if (!Array.isArray(list) || list.length > MAX_LISTED_HUBS || !list.every(isObj))
        malformed(`field hubs must be a list of at most ${MAX_LISTED_HUBS} objects`);
      const hubs = (list as Obj[]).map((h) => ({ id: str(h, 'id', 64), url: str(h, 'url', 2048) }));
      if (hubs.some((h) => !/^https?:\/\/[^/?#@\s]+$/.test(h.url))) malformed('a hub url must be http(s)://host[:port]');
      return { type, stream: 0, msg: { hubId: str(o, 'hubId', 64), hubs } };
    }
    case FrameType.Cancel:
    case FrameType.GoAway: {
      const o = parseJson(payload, JSON_MESSAGES.reason);
      return { type, stream, msg: { reason: str(o, 'reason', 1024) } } as Frame;
    }
    case FrameType.Failure: {
      const o = parseJson(payload, JSON_MESSAGES.failure);
      const code = str(o, 'code', 64);
      if (!(AgentFailureCodes as readonly string[]).includes(code)) malformed(`unknown failure code ${code}`);
      if (o.notSent !== undefined && typeof o.notSent !== 'boolean') malformed('field notSent must be a boolean');
      return {
        type,
        stream,
        msg: { code: code as (typeof AgentFailureCodes)[number], message: str(o, 'message', 2048), ...(o.notSent === true ? { notSent: true } : {}) },
      };
    }
    default:
      throw new ProtocolError(CloseCode.UnknownFrameType, `unknown frame type ${type}`);
  }
}
