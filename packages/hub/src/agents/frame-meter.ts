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

/** At most `limit` frames in each period of `periodMs` (GATEHOUSE_AGENT_FRAME_RATE). */
export interface FrameRateLimit {
  limit: number;
  periodMs: number;
}

/**
 * Counts an agent socket's frames in fixed windows and calls `onFlood` once when a window passes its limit. A
 * window, not a per-second rate, so that a busy agent's bursts pass while a flood is cut within one window.
 */
export class FrameRate {
  private readonly counter = new WsFrameCounter();
  private windowStart: number;
  private startFrames = 0;
  private flooded = false;

  constructor(
    private readonly bound: FrameRateLimit,
    private readonly onFlood: (frames: number) => void,
    private readonly now = Date.now,
  ) {
    this.windowStart = now();
  }

  feed(chunk: Buffer): void {
    if (this.flooded) return;
    const before = this.counter.frames;
    this.counter.feed(chunk);
    const t = this.now();
    // A new window counts the frames of the chunk that opened it.
    if (t - this.windowStart >= this.bound.periodMs) {
      this.windowStart = t;
      this.startFrames = before;
    }
    const inWindow = this.counter.frames - this.startFrames;
    if (inWindow > this.bound.limit) {
      this.flooded = true;
      this.onFlood(inWindow);
    }
  }

  /** Frames read so far (tests, benchmarks). */
  get frames(): number {
    return this.counter.frames;
  }
}
