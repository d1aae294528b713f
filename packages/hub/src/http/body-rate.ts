// The request body's rate floor (issue 22, finding 4): a caller trickling its body (a byte a second) held a
// request, and whatever the route had started for it, for as long as it liked, since every stall timer restarts
// on each byte. One timer for the whole hub samples each request still receiving a body once a second.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GatehouseError } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { sendError } from './respond.js';

/** The floor is averaged over this many counted seconds. */
export const BODY_RATE_WINDOW_SEC = 10;
const TICK_MS = 1000;

export interface BodyRateOptions {
  /** Bytes per second (0: no floor). */
  minBytesPerSec: number;
  /** Time from the request's start before seconds are counted. */
  graceMs: number;
}

/** A request whose body is still arriving. */
export class SlowBody {
  /** The socket's bytesRead at the last tick. */
  lastBytes: number;
  /** Bytes received in each of the last counted seconds (at most BODY_RATE_WINDOW_SEC). */
  readonly window: number[] = [];
  /** Where the guard keeps it (-1: no longer watched). */
  slot = -1;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly started: number,
  ) {
    this.lastBytes = (req.socket as Socket).bytesRead;
  }
  get received(): number {
    return this.window.reduce((a, b) => a + b, 0);
  }
}

/**
 * Counts only the seconds in which the hub waits for the caller: a second in which the hub holds a full buffer
 * of the body it has not taken yet (the service or the agent is slower than the caller, so the hub stopped
 * reading) is skipped, so a fast upload to a slow service is never cut. Bytes are counted on the socket
 * (`bytesRead`), the same whether the route reads the body as a stream or whole.
 */
export class BodyRateGuard {
  /** Watched bodies by slot, and the free slots: an array rather than a Set, which (gaining and losing an entry
   *  per request) kept requests through V8's young collections (docs/performance.md, session 10). */
  private readonly slots: Array<SlowBody | undefined> = [];
  private readonly free: number[] = [];
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Requests cut off (few): their routes fail afterwards, as for a caller that went away, and say nothing more. */
  private readonly cut = new WeakSet<IncomingMessage>();

  constructor(
    private readonly opts: BodyRateOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `req` was cut off for a slow body (answered already). */
  wasCut(req: IncomingMessage): boolean {
    return this.cut.has(req);
  }

  /** 408 and the connection closed; only closed once the answer has begun (the raw route's service answering
   *  while the upload goes on). */
  private cutOff(body: SlowBody): void {
    this.cut.add(body.req);
    this.log.info({ requestId: body.requestId, received: body.received, windowSec: BODY_RATE_WINDOW_SEC }, 'slow request body cut off');
    if (body.res.headersSent) {
      body.req.socket.destroy();
      return;
    }
    body.res.setHeader('connection', 'close');
    sendError(
      body.res,
      new GatehouseError(
        'RequestTimeout',
        `caller -> hub: the request body arrived at under ${this.opts.minBytesPerSec} bytes/s over ${BODY_RATE_WINDOW_SEC} s (GATEHOUSE_MIN_BODY_RATE)`,
      ),
      body.requestId,
    );
  }

  /** Watches `req` while its body arrives (a request without a body is not watched). */
  watch(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    if (this.opts.minBytesPerSec <= 0 || req.complete) return;
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return;
    const body = new SlowBody(req, res, requestId, this.now());
    body.slot = this.free.pop() ?? this.slots.length;
    this.slots[body.slot] = body;
    this.count++;
    // Most bodies are in before the first tick: forgotten with their answer, not held until the tick.
    res.once('close', () => {
      if (req.complete || req.socket.destroyed) this.forget(body);
    });
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
  }

  /** Requests being watched (for tests and metrics). */
  get size(): number {
    return this.count;
  }

  private forget(body: SlowBody): void {
    if (body.slot < 0) return;
    this.slots[body.slot] = undefined;
    this.free.push(body.slot);
    body.slot = -1;
    this.count--;
  }

  private tick(): void {
    const now = this.now();
    for (const body of this.slots) {
      if (body === undefined) continue;
      const socket = body.req.socket as Socket;
      if (body.req.complete || socket.destroyed) {
        this.forget(body);
        continue;
      }
      const read = socket.bytesRead;
      const delta = read - body.lastBytes;
      body.lastBytes = read;
      if (now - body.started < this.opts.graceMs || this.hubIsBehind(body.req)) continue;
      body.window.push(delta);
      if (body.window.length > BODY_RATE_WINDOW_SEC) body.window.shift();
      if (body.window.length === BODY_RATE_WINDOW_SEC && body.received < this.opts.minBytesPerSec * BODY_RATE_WINDOW_SEC) {
        this.forget(body);
        this.cutOff(body);
      }
    }
    if (this.count === 0) {
      this.stopTimer();
      // The busiest moment's slots are not kept for ever.
      this.slots.length = 0;
      this.free.length = 0;
    }
  }

  /** The hub has a full buffer of this body it has not taken: it is not waiting for the caller. */
  private hubIsBehind(req: IncomingMessage): boolean {
    return req.readableLength >= req.readableHighWaterMark || (req.socket as Socket).isPaused();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stopTimer();
    for (const body of this.slots) if (body) body.slot = -1;
    this.slots.length = 0;
    this.free.length = 0;
    this.count = 0;
  }
}
