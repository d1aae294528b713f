// One HTTP request the hub makes itself (an EntraAuth call to the service, a relay to the hub that holds the
// agent) as a CallWatch sees it: cancellable at any point, body bytes counted both ways with the time they
// last moved, the answer cut off past the route's limit.
import { EventEmitter } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { GatehouseError } from '@gatehouse/shared';
import type { Watched } from './call-types.js';

/** A cancellation undici takes as a request's `signal` (an EventEmitter with `aborted` and `reason`). Not an
 *  AbortController: one made per call kept the calls' objects through V8's young collections (see CallCancel in
 *  the agent, and docs/performance.md). */
class AbortEmitter extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

export class HttpAttempt implements Watched {
  /** For undici's `signal`. */
  readonly signal = new AbortEmitter();
  lastActivity = Date.now();
  requestBytes = 0;
  responseBytes = 0;
  /** Set when the watch cancelled the attempt: what the caller gets instead of undici's abort error. */
  cancelled: GatehouseError | undefined;
  private response: Readable | undefined;

  cancel(_reason: string, err: GatehouseError): void {
    if (this.cancelled) return;
    this.cancelled = err;
    this.signal.abort(err);
    this.response?.destroy(err);
  }

  /**
   * What a failed request means: the error the caller gets as it stands (the watch's cancel, or a coded error
   * from the request body, which undici may wrap in `cause`), or else the network error code ('' if none),
   * which the caller of the attempt maps to its own link.
   */
  failure(err: unknown): GatehouseError | string {
    if (this.cancelled) return this.cancelled;
    const e = err as { code?: string; cause?: { code?: string } };
    if (err instanceof GatehouseError) return err;
    if (e.cause instanceof GatehouseError) return e.cause;
    return e.code ?? e.cause?.code ?? '';
  }

  /** The request body as undici sends it, counted as it leaves; `uncounted` goes first (a relay's own head). */
  body(source: AsyncIterable<Uint8Array> | null, uncounted?: Buffer): Readable | undefined {
    if (!source && !uncounted) return undefined;
    const counted = async function* (this: HttpAttempt): AsyncGenerator<Uint8Array> {
      if (uncounted) yield uncounted;
      if (!source) return;
      for await (const chunk of source) {
        this.requestBytes += chunk.length;
        this.lastActivity = Date.now();
        yield chunk;
      }
    };
    return Readable.from(counted.call(this));
  }

  /** The response head arrived with this body: a cancel from now on destroys it. */
  responded(body: Readable): void {
    this.response = body;
    if (this.cancelled) body.destroy(this.cancelled);
  }

  /** Counts the response body while it is piped; past `maxBytes` the stream fails (whoever pipes it sees the
   *  error). A body that breaks off fails with a coded error naming `link` (a caller that has no answer yet gets
   *  it), not undici's. Attach when piping starts: a 'data' listener makes the stream flow. */
  countResponse(maxBytes: number, link: string): Readable {
    const body = this.response!;
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    body.on('data', (chunk: Buffer) => {
      this.responseBytes += chunk.length;
      this.lastActivity = Date.now();
      if (this.responseBytes > maxBytes) body.destroy(new GatehouseError('BadGateway', `${link}: the service's answer is over the ${maxBytes}-byte limit`));
    });
    body.on('error', (err) => {
      const failure = this.failure(err);
      out.destroy(
        typeof failure === 'string' ? new GatehouseError('BadGateway', `${link}: the answer broke off (${failure || (err as Error).name})`) : failure,
      );
    });
    out.on('close', () => {
      if (!body.readableEnded) body.destroy();
    });
    body.pipe(out);
    return out;
  }
}
