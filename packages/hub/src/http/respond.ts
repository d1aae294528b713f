// Writing answers and reading bodies, with every limit enforced before bytes pile up.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { Buffer } from 'node:buffer';
import { GatehouseError, joinChunks, type HeaderList } from '@gatehouse/shared';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const json = Buffer.from(JSON.stringify(body));
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': json.length });
  res.end(json);
}

/**
 * Writes a response head from a list of header pairs, repeated names (Set-Cookie, several WWW-Authenticate
 * challenges, Link) kept as separate lines. Node's writeHead keeps such repeats from a flat list only when no
 * header was set on the response before; after setHeader (the hub's x-request-id) only the last value survived.
 */
export function writeHeadFromList(res: ServerResponse, status: number, headers: HeaderList): void {
  const byName = new Map<string, string[]>();
  for (const [k, v] of headers) {
    const name = k.toLowerCase();
    const values = byName.get(name);
    if (values) values.push(v);
    else byName.set(name, [v]);
  }
  const set: string[] = [];
  try {
    for (const [name, values] of byName) {
      res.setHeader(name, values.length === 1 ? values[0]! : values);
      set.push(name);
    }
    res.writeHead(status);
  } catch (err) {
    // All or nothing: a hub error written instead must not carry the headers set before the one Node refused.
    for (const name of set) res.removeHeader(name);
    throw err;
  }
}

/** Every hub-side error: the JSON body, and the code in `x-gatehouse-error` (how the raw route tells its own
 *  failures from the service's answers). */
export function sendError(res: ServerResponse, err: GatehouseError, requestId: string): void {
  // Set on the response (not only written) so the access line can read it back.
  if (!res.headersSent) res.setHeader('x-gatehouse-error', err.code);
  sendJson(res, err.status, errorBody(err, requestId), err.headers);
}

/** A hub error written straight to a socket that has no ServerResponse (upgrade refusals, parser errors), then
 *  closed; `status` differs from the code's only where Node's status is more precise (431, 408). */
export function writeErrorToSocket(socket: Duplex, err: GatehouseError, requestId: string, status = err.status): void {
  const body = JSON.stringify(errorBody(err, requestId));
  // The error's own headers (Retry-After of a 429): names and values the hub chose, never a caller's.
  const extra = Object.entries(err.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // Ended, then destroyed after LINGER_MS: a peer that never closes its side does not keep the socket (red team,
  // session 17: refused upgrades stayed half-open and held the hub's file descriptors).
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `x-gatehouse-error: ${err.code}\r\nx-request-id: ${requestId}\r\n${extra}connection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** How long the hub goes on reading (and dropping) an unwanted request body after a refusal, before it closes. */
export const LINGER_MS = 2_000;

/**
 * A refusal sent before the request body has arrived (413 for a declared size, 401, 429, 400): the rest is not
 * wanted, so the answer says `Connection: close`. Node would then close the socket at once, and closing it with
 * unread bytes resets the connection: a caller still uploading saw EPIPE or ECONNRESET instead of the answer.
 * Here the hub ends its side after the answer and reads and drops what still comes for up to LINGER_MS (the
 * lingering close of Apache and nginx), then closes.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  const socket = req.socket as Socket;
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.on('error', () => socket.destroy());
    drainUnreadBody(req);
    if (req.destroyed) socket.resume();
  };
}

/**
 * The answer went out before the request body had all arrived (a service answered an upload early, with 401
 * or 413): the rest is read and dropped, so the connection can carry the caller's next request, as Node does
 * for a body nobody read. A rest that stalls or trickles is cut off by GATEHOUSE_MIN_BODY_RATE (http/body-rate.ts),
 * or with that floor off by the server's keep-alive timeout (GATEHOUSE_KEEP_ALIVE_TIMEOUT).
 */
export function drainUnreadBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  req.on('data', () => {});
  req.resume();
}

/** The JSON body of every hub-side error (SPEC section 8). */
export function errorBody(err: GatehouseError, requestId: string): { error: { code: string; message: string; requestId: string } } {
  return { error: { code: err.code, message: err.message, requestId } };
}

/** A time by which a body must have arrived, and what the caller is told past it (408 RequestTimeout). The
 *  reader may move `at` on (Infinity: no deadline any more). */
export interface BodyDeadline {
  at: number;
  message: string;
}

/**
 * The request body's chunks while the hub waits for them before a call starts: a caller that sends nothing for
 * `stallMs` gets a coded 400 (and the connection is closed) instead of holding the request open for ever, and
 * one still sending at `deadline.at` a coded 408.
 */
export async function* chunksWithin(req: IncomingMessage, stallMs: number, deadline?: BodyDeadline): AsyncGenerator<Buffer> {
  const it = req.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const left = deadline ? deadline.at - Date.now() : Number.POSITIVE_INFINITY;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            left <= stallMs
              ? new GatehouseError('RequestTimeout', deadline!.message)
              : new GatehouseError('InvalidRequest', `caller -> hub: the request body stalled (nothing arrived for ${stallMs / 1000} s)`),
          ),
        Math.max(0, Math.min(left, stallMs)),
      );
    });
    try {
      const r = await Promise.race([it.next(), stalled]);
      if (r.done) return;
      yield r.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** How long a body read whole may take: `stallMs` with nothing arriving, `wholeMs` in all from when reading starts
 *  (a body held in memory is bounded in time as well as in size, not only by the rate floor: red team session 15,
 *  B1b); `setBy` names what sets `wholeMs` in the 408's message. */
export interface BodyTimes {
  stallMs: number;
  wholeMs: number;
  setBy: string;
}

/** The times of the management API's bodies: GATEHOUSE_IDLE_TIMEOUT between chunks, GATEHOUSE_HELD_BODY_TIMEOUT in all. */
export const apiBodyTimes = (config: { idleTimeoutMs: number; heldBodyTimeoutMs: number }): BodyTimes => ({
  stallMs: config.idleTimeoutMs,
  wholeMs: config.heldBodyTimeoutMs,
  setBy: 'GATEHOUSE_HELD_BODY_TIMEOUT',
});

/** The most a management API body may be (a JSON object of a handful of fields; a rotation commit has its own). */
export const API_BODY_BYTES = 64 * 1024;

/** Reads a whole request body of at most `limit` bytes; over it, 413 without reading further; a stall as
 *  chunksWithin; not all in within `times.wholeMs`, 408. `take`: told each chunk's size before it is kept (it may
 *  throw to refuse it: a held-body share). */
export async function readBody(req: IncomingMessage, limit: number, times: BodyTimes, take?: (bytes: number) => void): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let total = 0;
  const deadline: BodyDeadline = {
    at: Date.now() + times.wholeMs,
    message: `caller -> hub: the request body did not arrive within ${times.wholeMs / 1000} s (${times.setBy})`,
  };
  for await (const chunk of chunksWithin(req, times.stallMs, deadline)) {
    total += chunk.length;
    if (total > limit) throw tooLarge(limit);
    take?.(chunk.length);
    chunks.push(chunk);
  }
  return joinChunks(chunks, total);
}

function tooLarge(limit: number): GatehouseError {
  return new GatehouseError('PayloadTooLarge', `caller -> hub: the request body is over the ${limit}-byte limit`);
}

export type JsonObject = Record<string, unknown>;

/** A body without a type is taken as JSON; any other type than JSON is refused. */
export function requireJson(req: IncomingMessage): void {
  const type = String(req.headers['content-type'] ?? '');
  if (type && !/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new GatehouseError('InvalidRequest', 'caller -> hub: the body must be application/json');
  }
}

/** A management API body: JSON, at most API_BODY_BYTES, within API_BODY_SHAPE and the API's body times. */
export async function readJson(req: IncomingMessage, config: { idleTimeoutMs: number; heldBodyTimeoutMs: number }): Promise<JsonObject> {
  requireJson(req);
  return parseJsonObject(await readBody(req, API_BODY_BYTES, apiBodyTimes(config)));
}

/** What a JSON body may hold, checked by a linear scan before JSON.parse builds anything: `tokens` counts the
 *  keys, the values after a comma and the objects and arrays opened (so `[[],[],…]` counts each `[` and `,`), and
 *  `depth` the nesting. The management API's bodies are a handful of fields; a body of a million empty arrays
 *  cost the hub 385 ms of JSON.parse for 3 MB and 64 KiB of them made one caller slow every tenant 13x (red team,
 *  second pass: R1, R3). */
export interface JsonShape {
  tokens: number;
  depth: number;
}

/** The bound of every JSON body the hub's routes read whole, unless the route says otherwise. */
export const API_BODY_SHAPE: JsonShape = { tokens: 512, depth: 6 };

/** Why `raw` is not within `shape`, or undefined. Strings are skipped (escapes included); nothing is allocated. */
export function jsonShapeProblem(raw: Buffer, shape: JsonShape): string | undefined {
  let tokens = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x3a || b === 0x2c) {
      if (++tokens > shape.tokens) return `holds more than ${shape.tokens} keys and values`;
    } else if (b === 0x7b || b === 0x5b) {
      if (++tokens > shape.tokens) return `holds more than ${shape.tokens} keys and values`;
      if (++depth > shape.depth) return `is nested deeper than ${shape.depth}`;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return undefined;
}

/** A body read whole, as the JSON object it must be (coded 400 otherwise), within `shape` (checked before parsing). */
export function parseJsonObject(raw: Buffer, shape: JsonShape = API_BODY_SHAPE): JsonObject {
  const problem = jsonShapeProblem(raw, shape);
  if (problem) throw new GatehouseError('InvalidRequest', `caller -> hub: the body ${problem}`);
  return parseShapedObject(raw);
}

/** A body whose shape was checked already (jsonShapeProblem), as the JSON object it must be (coded 400 otherwise). */
export function parseShapedObject(raw: Buffer): JsonObject {
  let v: unknown;
  const text = raw.toString('utf8');
  // A UTF-8 byte order mark (Windows tools write one; RFC 8259 lets a parser ignore it) is not part of the JSON.
  try {
    v = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw new GatehouseError('InvalidRequest', 'caller -> hub: the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GatehouseError('InvalidRequest', 'caller -> hub: the body must be a JSON object');
  return v as JsonObject;
}

export const invalid = (message: string): GatehouseError => new GatehouseError('InvalidRequest', `caller -> hub: ${message}`);

export function optString(o: JsonObject, key: string, max: number): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw invalid(`${key} must be a string of at most ${max} characters`);
  return v;
}

export function reqString(o: JsonObject, key: string, max: number): string {
  const v = optString(o, key, max);
  if (v === undefined || v === '') throw invalid(`${key} is required`);
  return v;
}
