// Turns an invoke request into its fields and a body source, streaming the body when the object is in the
// usual order (method, url, headers before body) and buffering it (bounded) otherwise.
import type { IncomingMessage } from 'node:http';
import { Buffer } from 'node:buffer';
import { GatehouseError, joinChunks } from '@gatehouse/shared';
import { InvokeParseError, InvokeParser, type ParseEvent } from './invoke-parser.js';
import { chunksWithin, type BodyDeadline } from '../http/respond.js';

/** Bodies up to this size are read whole so the service gets an exact Content-Length. */
export const SMALL_BODY_BYTES = 1024 * 1024;
/** The invoke object without its body (method, url, headers) may hold at most this many characters: four times
 *  the relay's 64 KiB head (room for JSON escapes), and a bound on what JSON.parse is given (red team B4). */
export const MAX_SKELETON_CHARS = 256 * 1024;

export interface HeldShare {
  /** Takes `bytes` or throws 503 ServiceUnavailable (a request body that must be read whole). */
  take(bytes: number): void;
  /** Takes `bytes` if the bound allows, else nothing (an answer that can be streamed instead). */
  tryTake(bytes: number): boolean;
  release(): void;
}

/** Who a held body counts against besides the whole hub: its tenant (tid), caller (tenant/object id), gateway
 *  and connection. */
export interface HeldKeys {
  tenant: string | undefined;
  caller: string | undefined;
  gateway: string | undefined;
  connection: string;
}

const HELD_KINDS = [
  ['caller', 'this caller holds', 'one caller'],
  ['tenant', "this caller's tenant holds", 'one tenant'],
  ['gateway', 'gateway {id} holds', 'one gateway'],
  ['connection', 'connection {id} holds', 'one connection'],
] as const;

/** One key's bytes held, and the calls holding its entry (an entry in use is never swept). */
interface HeldEntry {
  n: number;
  users: number;
}

/** Bytes held per key of one kind. An entry stays while in use and is swept once many are idle: a Map that
 *  gained and lost an entry per call kept calls through V8's young collections (see http/call-caps.ts). */
class HeldPerKey {
  private readonly bytes = new Map<string, HeldEntry>();
  /** The key's entry, counted as used by one more call until `done`. */
  use(key: string): HeldEntry {
    let e = this.bytes.get(key);
    if (e === undefined) {
      if (this.bytes.size >= SWEEP_AT) for (const [k, v] of this.bytes) if (v.users === 0) this.bytes.delete(k);
      e = { n: 0, users: 0 };
      this.bytes.set(key, e);
    }
    e.users++;
    return e;
  }
}
/** Idle keys are forgotten when a new one would make more than this many. */
const SWEEP_AT = 4096;

/**
 * The hub's bound on invoke bodies held in memory across calls (GATEHOUSE_MAX_HELD_BODIES): each call reading
 * a body whole takes its bytes from it as they arrive and gives them back when its answer is over. Without it
 * concurrent calls could hold up to GATEHOUSE_MAX_BODY each, with no bound on their sum. Each tenant, caller,
 * gateway and connection may hold at most `maxShare` of it (GATEHOUSE_MAX_HELD_BODIES_SHARE): a few 100 MiB bodies
 * of one tenant held to their timeout once took the whole pool and every other tenant's body-first invoke got 503
 * (issue 22, finding 1 left over); then 4 object ids of one tenant, each with its own gateway and connection, took
 * it again (red team B1): gateways and connections cost nothing, a tenant's share bounds them all.
 */
export class HeldBodies {
  private held = 0;
  private readonly perKey = { tenant: new HeldPerKey(), caller: new HeldPerKey(), gateway: new HeldPerKey(), connection: new HeldPerKey() };
  constructor(
    private readonly max: number,
    private readonly maxShare = max,
  ) {}

  /** Bytes held now, all calls together (tests). */
  get heldBytes(): number {
    return this.held;
  }

  /** One call's share; `release` gives it all back (call it once the call's answer is over). */
  share(keys: HeldKeys): HeldShare {
    let mine = 0;
    let refusal = '';
    let released = false;
    const entries = HELD_KINDS.flatMap(([kind]) => (keys[kind] === undefined ? [] : [{ kind, key: keys[kind]!, e: this.perKey[kind].use(keys[kind]!) }]));
    const tryTake = (bytes: number) => {
      // A call whose answer is over (its caller gone mid-body) takes nothing more: bytes taken after the release
      // would never come back to the pool.
      if (released) {
        refusal = 'hub: the call is over';
        return false;
      }
      if (this.held + bytes > this.max) {
        refusal = `hub: it holds as many invoke bodies in memory as it may (GATEHOUSE_MAX_HELD_BODIES, ${this.max} bytes); try again shortly`;
        return false;
      }
      const full = entries.find((x) => x.e.n + bytes > this.maxShare);
      if (full) {
        const [, holds, who] = HELD_KINDS.find(([k]) => k === full.kind)!;
        refusal = `hub: ${holds.replace('{id}', full.key)} as many invoke bodies in memory as ${who} may (GATEHOUSE_MAX_HELD_BODIES_SHARE, ${this.maxShare} bytes); try again when one of its calls is over`;
        return false;
      }
      this.held += bytes;
      for (const x of entries) x.e.n += bytes;
      mine += bytes;
      return true;
    };
    return {
      tryTake,
      take: (bytes) => {
        if (!tryTake(bytes)) throw new GatehouseError('ServiceUnavailable', refusal, { 'retry-after': '1' });
      },
      release: () => {
        this.held -= mine;
        for (const x of entries) {
          x.e.n -= mine;
          if (!released) x.e.users--;
        }
        mine = 0;
        released = true;
      },
    };
  }
}

export function toGatehouseError(err: unknown): unknown {
  if (err instanceof InvokeParseError) {
    return err.kind === 'too-large'
      ? new GatehouseError('PayloadTooLarge', `caller -> hub: ${err.message}`)
      : new GatehouseError('InvalidRequest', `caller -> hub: ${err.message}`);
  }
  return err;
}

class EventReader {
  private queue: ParseEvent[] = [];
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;
  constructor(
    req: IncomingMessage,
    private readonly parser: InvokeParser,
    stallMs: number,
    /** Holds while the body is read whole; lifted (Infinity) once it streams. */
    readonly deadline: BodyDeadline,
  ) {
    this.it = chunksWithin(req, stallMs, deadline);
  }
  async next(): Promise<ParseEvent | undefined> {
    while (this.queue.length === 0) {
      if (this.ended) return undefined;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        this.queue.push(...this.parser.end());
      } else this.queue.push(...this.parser.feed(r.value));
    }
    return this.queue.shift();
  }
  /** Done with the body (its last event read, or the call failed): the chunk source is closed, which clears its
   *  stall timer. Left suspended after its last chunk, it kept that timer (GATEHOUSE_IDLE_TIMEOUT, 60 s) and
   *  through it the chunk and the call's promises: about 1 KB of heap and the body's bytes per finished call,
   *  for a minute (issue 22, finding 7). */
  close(): void {
    this.ended = true;
    void this.it.return?.(undefined).catch(() => {});
  }
}

export interface InvokeInput {
  fields: Record<string, unknown>;
  /** Exact decoded length when known (the body was read whole), null while it streams. */
  bodyLength: number | null;
  body: AsyncIterable<Buffer> | null;
  /** For a body read whole: the same bytes again (a call the service never saw may move to another member). */
  replay?: () => AsyncIterable<Buffer> | null;
}

const HEAD_KEYS = ['method', 'url', 'headers'] as const;
const sameHead = (a: Record<string, unknown>, b: Record<string, unknown>) => HEAD_KEYS.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));

/** `stallMs`: the caller may pause its body this long (the call's deadline then covers the rest of a streamed body).
 *  `heldMs`: while the hub reads the body whole (holding it), all of it must arrive within this, from now
 *  (GATEHOUSE_HELD_BODY_TIMEOUT): a body trickled just above GATEHOUSE_MIN_BODY_RATE held its share of the pool
 *  for hours (red team B1b). Past it 408; the route's `close` then gives the held bytes back at once. */
export async function readInvoke(req: IncomingMessage, maxBody: number, stallMs: number, held: HeldShare, heldMs: number): Promise<InvokeInput> {
  const parser = new InvokeParser(MAX_SKELETON_CHARS, maxBody);
  const deadline: BodyDeadline = {
    at: Date.now() + heldMs,
    message: `caller -> hub: the invoke body, read whole, did not arrive within ${heldMs / 1000} s (GATEHOUSE_HELD_BODY_TIMEOUT)`,
  };
  const reader = new EventReader(req, parser, stallMs, deadline);
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  let partial: Record<string, unknown> | undefined;
  let streaming = false;
  try {
    for (;;) {
      const ev = await reader.next();
      if (!ev) throw new InvokeParseError('invalid', 'the body is not valid JSON');
      if (ev.kind === 'body-start') {
        partial = ev.partial;
        streaming = HEAD_KEYS.every((k) => k in ev.partial);
      } else if (ev.kind === 'body-data') {
        // A body in the usual order that the hub has no room to hold streams instead; one before method, url
        // and headers must be read whole (503 when there is no room).
        if (!streaming) held.take(ev.data.length);
        const room = !streaming || held.tryTake(ev.data.length);
        pending.push(ev.data);
        pendingBytes += ev.data.length;
        if (streaming && (pendingBytes > SMALL_BODY_BYTES || !room)) break;
      } else {
        reader.close();
        return finishWhole(ev.skeleton, pending, pendingBytes, partial);
      }
    }
  } catch (err) {
    reader.close();
    throw toGatehouseError(err);
  }

  // Large body in the usual order: hand back what was read, then the rest as it arrives (held no more: the
  // stall timer and the call's deadline bound it from here).
  reader.deadline.at = Number.POSITIVE_INFINITY;
  const head = partial!;
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      yield* pending.splice(0);
      for (;;) {
        const ev = await reader.next();
        if (!ev) return;
        if (ev.kind === 'body-data') yield ev.data;
        else if (ev.kind === 'done' && !sameHead(head, ev.skeleton)) {
          throw new InvokeParseError('invalid', 'method, url and headers must not appear again after body');
        }
      }
    } catch (err) {
      throw toGatehouseError(err);
    } finally {
      reader.close();
    }
  }
  return { fields: head, bodyLength: null, body: rest() };
}

function finishWhole(skeleton: Record<string, unknown>, pending: Buffer[], bytes: number, partial: Record<string, unknown> | undefined): InvokeInput {
  const fields = skeleton;
  if (partial === undefined && typeof fields.body === 'string') {
    // `body` spelled with escapes in its name reaches the skeleton as text: decode it the same strict way.
    const p = new InvokeParser(MAX_SKELETON_CHARS, Number.MAX_SAFE_INTEGER);
    const evs = [...p.feed(Buffer.from(JSON.stringify({ body: fields.body }))), ...p.end()];
    for (const e of evs)
      if (e.kind === 'body-data') {
        pending.push(e.data);
        bytes += e.data.length;
      }
  } else if (fields.body !== undefined && fields.body !== null && partial === undefined) {
    throw new GatehouseError('InvalidRequest', 'caller -> hub: body must be a base64 string');
  }
  if (partial === undefined && fields.body === undefined) return { fields, bodyLength: 0, body: null, replay: () => null };
  const data = joinChunks(pending, bytes);
  const replay = () =>
    data.length
      ? (async function* () {
          yield data;
        })()
      : null;
  return { fields, bodyLength: data.length, body: replay(), replay };
}
