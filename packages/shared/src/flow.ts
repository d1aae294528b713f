// Per-request flow control over one shared WebSocket, used identically by hub and agent.
//
// - WriteGate: one per socket. Tracks bytes handed to the socket but not yet written; senders wait while
//   it is above the high-water mark, so a slow link pushes back instead of growing memory. Frames that do not
//   wait (heads, credits, pongs, cancels) are bounded by `maxQueued`: past it the gate shuts and says so.
// - OutboundBody: one per stream and direction. A sender may only have `credit` bytes in flight; the
//   receiver returns credit as its destination consumes them. A slow caller or backend therefore stalls
//   only its own stream, and a stream's memory is bounded by its window.
// - InboundBody: the receiving half. Writes every Data chunk into a destination Writable and grants credit
//   back from the write callback, i.e. only once the destination has really taken the bytes. A stream that
//   keeps moving gets a larger window (bulk transfers), up to a bound.
import { Buffer } from 'node:buffer';
import type { Writable } from 'node:stream';
import { encodeData } from './codec.js';
import { FrameType, Limits } from './protocol.js';

/** Sends one WebSocket message. */
export type RawSend = (frame: Buffer, done: (err?: Error) => void) => void;

/** Writes one Data frame as a whole WebSocket message straight to the socket, the chunk behind its header (no copy). */
export type DataWriter = (stream: number, chunk: Buffer, done: (err?: Error) => void) => void;

/** Data chunks below this size are copied behind their header and sent as one buffer (cheaper than two writes). */
const COPY_BELOW = 16 * 1024;

/** Optional socket corking: frames sent in the same event-loop turn leave in one write (one syscall). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * The RFC 6455 header of one final binary frame holding a Data frame of `payloadLength` bytes, followed by the
 * Data frame's own 5-byte header: the payload can be written right behind it. `masked` (a client's frame) uses
 * the all-zero masking key, which leaves the payload as it is; see directDataWriter for when that is allowed.
 */
export function wsDataFrameHead(stream: number, payloadLength: number, masked: boolean): Buffer {
  const length = Limits.frameHeaderBytes + payloadLength;
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const wsBytes = 2 + extra + (masked ? 4 : 0);
  const buf = Buffer.allocUnsafe(wsBytes + Limits.frameHeaderBytes).fill(0);
  buf[0] = 0x82; // FIN, binary
  buf[1] = (masked ? 0x80 : 0) | (extra === 0 ? length : extra === 2 ? 126 : 127);
  if (extra === 2) buf.writeUInt16BE(length, 2);
  else if (extra === 8) buf.writeUIntBE(length, 4, 6);
  buf[wsBytes] = FrameType.Data;
  buf.writeUInt32BE(stream >>> 0, wsBytes + 1);
  return buf;
}

/**
 * A DataWriter for a `ws` WebSocket without permessage-deflate (ws then writes every frame to the socket at
 * once, in order, so frames written here interleave correctly with its own). The hub's frames are unmasked
 * (a server's); the agent's carry the all-zero masking key, which the agent uses only when no intermediary
 * can read the stream (TLS to the hub, or a hub on a loopback address): masking exists to keep a browser
 * script's bytes from being read as HTTP by a proxy on the path, and there is none to fool there. Without it
 * masking would cost the agent a copy of every chunk and the hub a pass over it.
 */
export function directDataWriter(
  ws: { readonly readyState: number },
  socket: () => { write(b: Uint8Array, cb?: (err?: Error | null) => void): boolean } | undefined,
  masked: boolean,
): DataWriter {
  return (stream, chunk, done) => {
    const s = socket();
    if (ws.readyState !== 1 || !s) {
      done(new Error('WebSocket is not open'));
      return;
    }
    s.write(wsDataFrameHead(stream, chunk.length, masked));
    s.write(chunk, (err) => done(err ?? undefined));
  };
}

/** What the gate does when the bytes queued in it pass `maxQueued` (the peer does not read). */
export interface QueueBound {
  maxQueued: number;
  onOverflow(queued: number): void;
}

export class WriteGate {
  private pending = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  private corked = false;

  /** `writeData`: sends large Data chunks without copying them behind their header (see directDataWriter).
   *  `bound`: the most bytes queued (handed to the socket, not yet written: ws's and the socket's buffers); past
   *  it the gate drops every further frame and calls onOverflow once, later in this turn (the owner closes the
   *  connection). Without one the queue of frames that do not wait is unbounded (the agent's own gate: its hub
   *  is trusted). */
  constructor(
    private readonly rawSend: RawSend,
    private readonly highWater: number,
    private readonly socket?: Corkable,
    private readonly writeData?: DataWriter,
    private readonly bound?: QueueBound,
  ) {}

  /** Bytes handed to the socket and not yet written. */
  get queued(): number {
    return this.pending;
  }

  send(frame: Buffer): void {
    if (this.closed || this.overflows(frame.length)) return;
    this.corkForTurn();
    this.pending += frame.length;
    this.rawSend(frame, () => this.written(frame.length));
  }

  /** True (and the gate shut) when `bytes` more would pass the bound. */
  private overflows(bytes: number): boolean {
    if (!this.bound || this.pending + bytes <= this.bound.maxQueued) return false;
    const queued = this.pending + bytes;
    this.close();
    // Not from inside the send: the sender may be in the middle of its own bookkeeping (a call cancelling).
    queueMicrotask(() => this.bound!.onOverflow(queued));
    return true;
  }

  /** A Data frame; the peer receives the same message whichever way it leaves. */
  sendData(stream: number, chunk: Uint8Array): void {
    if (!this.writeData || chunk.length < COPY_BELOW) {
      this.send(encodeData(stream, chunk));
      return;
    }
    if (this.closed || this.overflows(chunk.length)) return;
    this.corkForTurn();
    const body = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.pending += body.length;
    this.writeData(stream, body, () => this.written(body.length));
  }

  private corkForTurn(): void {
    if (!this.socket || this.corked) return;
    this.corked = true;
    this.socket.cork();
    // Uncork after this turn of the event loop's I/O phase: the frames of every call that moved in it
    // (a response's head, data and end arrive over several microtask turns) leave in one write.
    setImmediate(() => {
      this.corked = false;
      this.socket!.uncork();
    });
  }

  private written(bytes: number): void {
    this.pending -= bytes;
    if (this.pending <= this.highWater / 2) this.wake();
  }

  /** Resolves when the socket can take more; undefined when it already can (no allocation on the fast path). */
  ready(): Promise<void> | undefined {
    if (this.pending < this.highWater || this.closed) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

/** The sending half of one stream direction: body bytes out, bounded by the peer's credit. */
export class OutboundBody {
  private credit: number;
  private waiter: (() => void) | undefined;
  private closedReason: string | undefined;
  sentBytes = 0;

  constructor(initialCredit: number) {
    this.credit = initialCredit;
  }

  addCredit(bytes: number): void {
    this.credit += bytes;
    this.wakeup();
  }

  close(reason: string): void {
    this.closedReason ??= reason;
    this.wakeup();
  }

  get isClosed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Counts a body sent in one piece outside pump (a RESPONSE frame's, at most 64 KiB: a fresh stream's window
   *  is never less than 256 KiB). */
  sentWhole(bytes: number): void {
    this.credit -= bytes;
    this.sentBytes += bytes;
  }

  /**
   * Sends every chunk of `source` as Data frames (at most `maxChunk` bytes each, never beyond credit), then End.
   * Returns false if the stream was closed (cancelled) before the whole body went out.
   */
  async pump(
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    gate: WriteGate,
    sendData: (chunk: Uint8Array) => void,
    sendEnd: () => void,
    maxChunk: number,
  ): Promise<boolean> {
    for await (const item of source) {
      const chunk = typeof item === 'string' ? Buffer.from(item) : item;
      let off = 0;
      while (off < chunk.length) {
        if (this.closedReason !== undefined) return false;
        if (this.credit <= 0) {
          await new Promise<void>((r) => {
            this.waiter = r;
          });
          continue;
        }
        const wait = gate.ready();
        if (wait) {
          await wait;
          continue;
        }
        const n = Math.min(chunk.length - off, this.credit, maxChunk);
        sendData(chunk.subarray(off, off + n));
        this.credit -= n;
        this.sentBytes += n;
        off += n;
      }
    }
    if (this.closedReason !== undefined) return false;
    sendEnd();
    return true;
  }

  private wakeup(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** The receiving half of one stream direction. Returns false from onData when the peer overran its credit. */
export class InboundBody {
  private queue: Buffer[] = [];
  private ended = false;
  private sink: Writable | undefined;
  private received = 0;
  private consumed = 0;
  private granted: number;
  private finished = false;
  /** Why delivery was aborted; a sink attached afterwards is failed with it at once. */
  private abortedWith: Error | undefined;

  /** `window`: the credit the sender starts with; it grows for a stream that keeps moving, up to `maxWindow`. */
  constructor(
    private window: number,
    private readonly grant: (bytes: number) => void,
    private readonly maxWindow = window,
  ) {
    this.granted = window;
  }

  get receivedBytes(): number {
    return this.received;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return true; // late data after a local abort: drop it
    this.received += chunk.length;
    if (this.received > this.granted) return false;
    if (this.sink) this.write(chunk);
    else this.queue.push(chunk);
    return true;
  }

  onEnd(): void {
    this.ended = true;
    if (this.sink && !this.finished) {
      this.finished = true;
      this.sink.end();
    }
  }

  /**
   * The whole body, when it has already arrived (End seen, nothing delivered, not aborted): the receiver can
   * then answer in one piece instead of streaming. Undefined otherwise (stream it).
   */
  takeIfComplete(): Buffer[] | undefined {
    if (this.sink || !this.ended || this.finished) return undefined;
    this.finished = true;
    const q = this.queue;
    this.queue = [];
    return q;
  }

  /** Starts delivering into `sink` (queued chunks first). */
  attach(sink: Writable): void {
    this.sink = sink;
    if (this.abortedWith) {
      sink.destroy(this.abortedWith);
      return;
    }
    const q = this.queue;
    this.queue = [];
    for (const c of q) this.write(c);
    if (this.ended && !this.finished) {
      this.finished = true;
      sink.end();
    }
  }

  /** Ends delivery with an error (peer failure or cancel); the sink is destroyed. */
  abort(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.abortedWith = err;
    this.queue = [];
    this.sink?.destroy(err);
  }

  private write(chunk: Buffer): void {
    this.sink!.write(chunk, (err) => {
      if (err || (this.finished && !this.ended)) return;
      this.consumed += chunk.length;
      // A stream that has moved four windows' worth is a bulk transfer: double its window (up to maxWindow), so
      // it is not held to one small window per credit round trip. Short calls keep the small one.
      if (this.window < this.maxWindow && this.consumed >= 4 * this.window) this.window = Math.min(2 * this.window, this.maxWindow);
      // Return credit in batches of a quarter window: few Credit frames, and the peer never idles
      // while at least three quarters of the window are still open.
      const limit = this.consumed + this.window;
      if (limit - this.granted >= this.window / 4) {
        this.grant(limit - this.granted);
        this.granted = limit;
      }
    });
  }
}

/** A body read in chunks as one buffer: the chunk itself when there is one (no copy). `total`, when known, saves
 *  Buffer.concat a pass over the chunks. */
export function joinChunks(chunks: readonly Buffer[], total?: number): Buffer {
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
