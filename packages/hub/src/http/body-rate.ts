// The request body's rate floor (issue 22, finding 4): a caller trickling its body (a byte a second) held a
// request, and whatever the route had started for it, for as long as it liked, since every stall timer restarts
// on each byte. One timer for the whole hub samples each request still receiving a body once a second.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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
  constructor(readonly req: IncomingMessage, readonly res: ServerResponse, readonly requestId: string, readonly started: number) {
    this.lastBytes = (req.socket as Socket).bytesRead;
  }
  get received(): number { return this.window.reduce((a, b) => a + b, 0); }
}

/**
 * Counts only the seconds in which the hub waits for the caller: a second in which the hub holds a full buffer
 * of the body it has not taken yet (the service or the agent is slower than the caller, so the hub stopped
 * reading) is skipped, so a fast upload to a slow service is never cut. Bytes are counted on the socket
 * (`bytesRead`), the same whether the route reads the body as a stream or whole.
 */
export class BodyRateGuard {
  private readonly watched = new Set<SlowBody>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: BodyRateOptions, private readonly onSlow: (body: SlowBody) => void, private readonly now: () => number = Date.now) {}

  /** Watches `req` while its body arrives (a request without a body is not watched). */
  watch(req: IncomingMessage, res: ServerResponse, requestId: string): void {
    if (this.opts.minBytesPerSec <= 0 || req.complete) return;
    const length = req.headers['content-length'];
    if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return;
    const body = new SlowBody(req, res, requestId, this.now());
    this.watched.add(body);
    // Most bodies are in before the first tick: forgotten with their answer, not held until the tick.
    res.once('close', () => { if (req.complete || req.socket.destroyed) this.watched.delete(body); });
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
  }

  /** Requests being watched (for tests and metrics). */
  get size(): number { return this.watched.size; }

  private tick(): void {
    const now = this.now();
    for (const body of this.watched) {
      const socket = body.req.socket as Socket;
      if (body.req.complete || socket.destroyed) { this.watched.delete(body); continue; }
      const read = socket.bytesRead;
      const delta = read - body.lastBytes;
      body.lastBytes = read;
      if (now - body.started < this.opts.graceMs || this.hubIsBehind(body.req)) continue;
      body.window.push(delta);
      if (body.window.length > BODY_RATE_WINDOW_SEC) body.window.shift();
      if (body.window.length === BODY_RATE_WINDOW_SEC && body.received < this.opts.minBytesPerSec * BODY_RATE_WINDOW_SEC) {
        this.watched.delete(body);
        this.onSlow(body);
      }
    }
    if (this.watched.size === 0) this.stopTimer();
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
    this.watched.clear();
  }
}
