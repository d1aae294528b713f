// Stream ids of one agent connection (docs/protocol.md, "Frames"): odd u32s the hub chooses, increasing. After
// 0xFFFFFFFF (2^31 calls on one connection, about five days at 5,000 calls a second) the hub starts again at 1,
// skipping ids still in use, and the agent takes the smaller id as the next lap instead of closing the connection.
// Both ends keep one of these, so they agree which frames are late (a finished call's) and which name a stream
// that was never opened.

export const MAX_STREAM_ID = 0xffff_ffff;
/** The agent takes an id below the last one only as a new lap, i.e. after the last lap reached this high. */
const LAP_END_FROM = 0x8000_0000;

export class StreamIds {
  /** The highest id of the current lap (0: none yet). */
  private last = 0;
  /** A lap has ended: every odd id has been used, so any odd id not in use is a finished call's. */
  private wrapped = false;

  /** The hub's next id. */
  private next: number;

  /** `first`: where the hub's first lap starts (1; tests start near the end to see a lap end). */
  constructor(first = 1) {
    this.next = first;
  }

  /** The hub's next id: the following odd one, or 1 again after the last, skipping ids `inUse` still holds. */
  take(inUse: (id: number) => boolean): number {
    for (;;) {
      const id = this.next;
      if (id >= MAX_STREAM_ID) {
        this.next = 1;
        this.wrapped = true;
      } else this.next = id + 2;
      if (inUse(id)) continue;
      this.last = id;
      return id;
    }
  }

  /** The agent's check of a REQUEST_HEAD's id: odd, not in use, above the last one or starting a new lap. */
  accept(id: number, inUse: (id: number) => boolean): boolean {
    if (id % 2 !== 1 || inUse(id)) return false;
    if (id <= this.last) {
      if (this.last < LAP_END_FROM) return false;
      this.wrapped = true;
    }
    this.last = id;
    return true;
  }

  /** For a frame on a stream not in use: true when the stream was opened once (a late frame, dropped). */
  opened(id: number): boolean {
    return id % 2 === 1 && (this.wrapped || id <= this.last);
  }
}
