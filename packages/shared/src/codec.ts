// Bytes <-> typed frames. Every inbound frame passes through decodeFrame, which either returns a fully
// validated Frame or throws a ProtocolError that carries the close code to send.
import { Buffer } from 'node:buffer';
import {
  AgentFailureCodes, CloseCode, FrameType, Limits,
  type CloseCodeValue, type Frame, type HeaderList, type ResponseHeadMessage,
} from './protocol.js';

export class ProtocolError extends Error {
  readonly code = 'GATEHOUSE_PROTOCOL_ERROR';
  constructor(readonly closeCode: CloseCodeValue, message: string) {
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

export function encodeFrame(frame: Frame): Buffer {
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
      if (length > Limits.maxDataBytes) {
        throw new ProtocolError(CloseCode.MalformedFrame, `RESPONSE payload of ${length} bytes is over the ${Limits.maxDataBytes}-byte limit`);
      }
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

/** Encodes a Data frame without building a Frame object (hot path). */
export function encodeData(stream: number, chunk: Uint8Array): Buffer {
  return withPayload(FrameType.Data, stream, chunk);
}

// ---- decoding ----

type Obj = Record<string, unknown>;
const malformed = (why: string): never => { throw new ProtocolError(CloseCode.MalformedFrame, why); };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Obj, k: string, max = 8192): string => {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) malformed(`field ${k} must be a string of at most ${max} characters`);
  return v as string;
};
const int = (o: Obj, k: string, min: number, max: number): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) malformed(`field ${k} must be an integer in [${min}, ${max}]`);
  return v as number;
};
const strList = (o: Obj, k: string): string[] => {
  const v = o[k];
  if (!Array.isArray(v) || v.length > 64 || !v.every((x) => typeof x === 'string' && x.length <= 256)) malformed(`field ${k} must be a list of strings`);
  return v as string[];
};
const headerList = (o: Obj, k: string): HeaderList => {
  const v = o[k];
  if (!Array.isArray(v) || v.length > Limits.maxHeaderLines) malformed(`field ${k} must be a list of at most ${Limits.maxHeaderLines} [name, value] pairs`);
  for (const pair of v as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') malformed(`field ${k} must be a list of [name, value] pairs`);
  }
  return v as HeaderList;
};

function responseHead(o: Obj): ResponseHeadMessage {
  const msg: ResponseHeadMessage = { status: int(o, 'status', 100, 599), headers: headerList(o, 'headers') };
  if (o.backendMs !== undefined) msg.backendMs = int(o, 'backendMs', 0, 86_400_000);
  return msg;
}

function parseJson(payload: Buffer): Obj {
  let v: unknown;
  try { v = JSON.parse(payload.toString('utf8')); } catch { return malformed('payload is not valid JSON'); }
  if (!isObj(v)) malformed('payload must be a JSON object');
  return v as Obj;
}

/** Decodes and validates one WebSocket message. Throws ProtocolError with the close code to use. */
export function decodeFrame(raw: Buffer, accepted: ReadonlySet<number>): Frame {
  if (raw.length < Limits.frameHeaderBytes) malformed(`frame of ${raw.length} bytes is shorter than its ${Limits.frameHeaderBytes}-byte header`);
  const type = raw[0]!;
  const stream = raw.readUInt32BE(1);
  if (!KNOWN_TYPES.has(type)) throw new ProtocolError(CloseCode.UnknownFrameType, `unknown frame type ${type}`);
  if (!accepted.has(type)) throw new ProtocolError(CloseCode.UnexpectedFrame, `frame type ${type} is not sent in this direction`);
  const payload = raw.subarray(Limits.frameHeaderBytes);
  const connectionLevel = type === FrameType.Hello || type === FrameType.Welcome || type === FrameType.Ping || type === FrameType.Pong || type === FrameType.GoAway;
  if (connectionLevel !== (stream === 0)) malformed(`frame type ${type} on stream ${stream}`);
  if (payload.length > (type === FrameType.Data || type === FrameType.Response ? Limits.maxDataBytes : Limits.maxJsonBytes)) malformed(`frame type ${type} payload of ${payload.length} bytes is over its limit`);

  switch (type) {
    case FrameType.Data:
      if (payload.length === 0) malformed('empty Data frame');
      return { type, stream, data: payload };
    case FrameType.End:
      if (payload.length !== 0) malformed('End frame carries a payload');
      return { type, stream };
    case FrameType.Credit:
      if (payload.length !== 4) malformed('Credit frame must carry 4 bytes');
      { const bytes = payload.readUInt32BE(0); if (bytes === 0) malformed('Credit of 0 bytes'); return { type, stream, bytes }; }
    case FrameType.Ping:
    case FrameType.Pong:
      if (payload.length !== 8) malformed('Ping/Pong must carry 8 bytes');
      return { type, stream: 0, data: payload };
    case FrameType.Hello: {
      const o = parseJson(payload);
      const versions = o.versions;
      if (!Array.isArray(versions) || versions.length === 0 || versions.length > 16 || !versions.every((x) => Number.isInteger(x) && x > 0)) malformed('field versions must be a list of positive integers');
      return { type, stream: 0, msg: { versions: versions as number[], agentVersion: str(o, 'agentVersion', 64), hostname: str(o, 'hostname', 255), capabilities: strList(o, 'capabilities') } };
    }
    case FrameType.Welcome: {
      const o = parseJson(payload);
      return { type, stream: 0, msg: {
        version: int(o, 'version', 1, 65535), memberId: str(o, 'memberId', 64), gatewayId: str(o, 'gatewayId', 64),
        heartbeatIntervalMs: int(o, 'heartbeatIntervalMs', 100, 600_000), heartbeatTimeoutMs: int(o, 'heartbeatTimeoutMs', 200, 3_600_000),
        streamWindowBytes: int(o, 'streamWindowBytes', 1024, 1 << 30), maxDataBytes: int(o, 'maxDataBytes', 1024, Limits.maxDataBytes),
      } };
    }
    case FrameType.RequestHead: {
      const o = parseJson(payload);
      const bl = o.bodyLength;
      if (bl !== null && (typeof bl !== 'number' || !Number.isSafeInteger(bl) || bl < 0)) malformed('field bodyLength must be null or a non-negative integer');
      let credentials = null;
      if (o.credentials !== null) {
        if (!isObj(o.credentials)) return malformed('field credentials must be an object or null');
        const scheme = str(o.credentials, 'scheme', 16);
        if (scheme !== 'basic' && scheme !== 'windows') malformed('unknown credentials scheme');
        credentials = { scheme: scheme as 'basic' | 'windows', sealed: str(o.credentials, 'sealed', 16384) };
      }
      return { type, stream, msg: {
        requestId: str(o, 'requestId', 128), method: str(o, 'method', 16), url: str(o, 'url', 65536), headers: headerList(o, 'headers'),
        bodyLength: bl as number | null, timeoutMs: int(o, 'timeoutMs', 1, 86_400_000), credentials,
      } };
    }
    case FrameType.ResponseHead:
      return { type, stream, msg: responseHead(parseJson(payload)) };
    case FrameType.Response: {
      if (payload.length < 4) malformed('RESPONSE frame without its head length');
      const headBytes = payload.readUInt32BE(0);
      if (headBytes > payload.length - 4) malformed(`RESPONSE head of ${headBytes} bytes runs past the frame`);
      return { type, stream, msg: responseHead(parseJson(payload.subarray(4, 4 + headBytes))), data: payload.subarray(4 + headBytes) };
    }
    case FrameType.Cancel:
    case FrameType.GoAway: {
      const o = parseJson(payload);
      return { type, stream, msg: { reason: str(o, 'reason', 1024) } } as Frame;
    }
    case FrameType.Failure: {
      const o = parseJson(payload);
      const code = str(o, 'code', 64);
      if (!(AgentFailureCodes as readonly string[]).includes(code)) malformed(`unknown failure code ${code}`);
      if (o.notSent !== undefined && typeof o.notSent !== 'boolean') malformed('field notSent must be a boolean');
      return { type, stream, msg: { code: code as (typeof AgentFailureCodes)[number], message: str(o, 'message', 2048), ...(o.notSent === true ? { notSent: true } : {}) } };
    }
    default:
      throw new ProtocolError(CloseCode.UnknownFrameType, `unknown frame type ${type}`);
  }
}
