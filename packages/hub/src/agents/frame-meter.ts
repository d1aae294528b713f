// The frame-rate bound on one agent's WebSocket (issue 22, frame flood): an agent that sent 14.5 M unsolicited
// PONGs, or 1-byte continuation frames, slowed every tenant's calls about 40x, since each frame costs the hub
// the same work however small it is. The frames are counted in the bytes as they arrive (before `ws` parses them),
// so frames no 'message' event shows are counted too: continuation fragments, WebSocket pings and pongs.

/**
 * Counts the WebSocket frames in a client's byte stream: reads each frame's header (2-14 bytes) and skips its
 * payload, so the work is per frame header, not per byte. Fed every chunk in order from a frame boundary.
 */
export class WsFrameCounter {
  /** Frames whose header has been read. */
  frames = 0;
  private skip = 0;
  private readonly head: number[] = [];

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, chunk.length - i);
        this.skip -= k;
        i += k;
        continue;
      }
      const h = this.head;
      h.push(chunk[i++]!);
      if (h.length < 2) continue;
      const len7 = h[1]! & 0x7f;
      const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
      if (h.length < 2 + ext + (h[1]! & 0x80 ? 4 : 0)) continue;
      let len = len7;
      if (ext === 2) len = h[2]! * 256 + h[3]!;
      else if (ext === 8) {
        len = 0;
        for (let j = 2; j < 10; j++) len = len * 256 + h[j]!;
      }
      this.skip = len;
      h.length = 0;
      this.frames++;
    }
  }
}

/** At most `limit` frames in each period of `periodMs` (GATEHOUSE_AGENT_FRAME_RATE and the budgets). */
export interface FrameRateLimit {
  limit: number;
  periodMs: number;
}

/** Slots a period is counted in: a sliding window's reach is known to within one slot (a tenth of the period). */
const SLOTS = 10;

/**
 * Frames in the last period, sliding: counted in slots of a tenth of the period, the current slot and the SLOTS
 * before it, so what it sums covers at least the last whole period (and at most a tenth more). Any run of more than
 * the limit within one period is therefore seen, wherever it starts (a fixed window let about twice the limit
 * through across its boundary: red-team finding B2).
 */
export class SlidingCount {
  private readonly ring = new Array<number>(SLOTS + 1).fill(0);
  private readonly slotMs: number;
  private slot: number;
  /** Frames in the counted slots. */
  total = 0;

  constructor(periodMs: number, now: number) {
    this.slotMs = Math.max(1, periodMs / SLOTS);
    this.slot = Math.floor(now / this.slotMs);
  }

  /** Adds `n` at `now` (never earlier than a previous call's): the count over the last period, this one included. */
  add(n: number, now: number): number {
    this.advance(now);
    this.ring[this.slot % this.ring.length]! += n;
    this.total += n;
    return this.total;
  }

  /** The count over the last period at `now`. */
  at(now: number): number {
    this.advance(now);
    return this.total;
  }

  private advance(now: number): void {
    const s = Math.floor(now / this.slotMs);
    const steps = Math.min(s - this.slot, this.ring.length);
    for (let i = 1; i <= steps; i++) {
      const k = (this.slot + i) % this.ring.length;
      this.total -= this.ring[k]!;
      this.ring[k] = 0;
    }
    if (s > this.slot) this.slot = s;
  }
}

/**
 * Counts an agent socket's frames over a sliding period and calls `onFlood` once when more than the limit arrived
 * within one period. A period, not a per-second rate, so that a busy agent's bursts pass while a flood is cut
 * within one period. `onFrames` hears every chunk's frames (the tenant's and the hub's budgets, frame-budget.ts).
 */
export class FrameRate {
  private readonly counter = new WsFrameCounter();
  private readonly window: SlidingCount;
  private flooded = false;

  constructor(
    private readonly bound: FrameRateLimit,
    private readonly onFlood: (frames: number) => void,
    private readonly now = Date.now,
  ) {
    this.window = new SlidingCount(bound.periodMs, now());
  }

  /** Frames in the chunk (0 once the socket flooded). */
  feed(chunk: Buffer): number {
    if (this.flooded) return 0;
    const before = this.counter.frames;
    this.counter.feed(chunk);
    const n = this.counter.frames - before;
    if (n === 0) return 0;
    const inWindow = this.window.add(n, this.now());
    if (inWindow > this.bound.limit) {
      this.flooded = true;
      this.onFlood(inWindow);
      return 0;
    }
    return n;
  }

  /** Frames read so far (tests, benchmarks). */
  get frames(): number {
    return this.counter.frames;
  }
}
