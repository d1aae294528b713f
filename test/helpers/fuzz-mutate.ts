// Byte-level mutations of encoded frames (and of any other bytes): bit flips, inserted, deleted and duplicated
// runs, truncation, length and count fields set to extremes, random bytes, and splices of two inputs.
import type { Rng } from './fuzz-rng.js';

/** Values a length, count or time field is most likely to be mishandled at. */
export const EXTREME_U32 = [
  0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0xffff, 0x1_0000, 0xf_ffff, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff,
] as const;
export const EXTREME_U16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3e8, 0x3e9, 0x7fff, 0x8000, 0xfffe, 0xffff] as const;
export const EXTREME_F64 = [-1, -0, 0, 0.5, -2, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, NaN, Infinity, -Infinity, Number.MIN_VALUE] as const;
const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x30, 0x2d, 0x2e, 0x65, 0xc0, 0xed, 0xf4, 0xfe,
] as const;

export type Mutator = (rng: Rng, b: Buffer, other: Buffer) => Buffer;

const at = (rng: Rng, b: Buffer): number => rng.int(b.length);

export const MUTATORS: Record<string, Mutator> = {
  bitFlip(rng, b) {
    if (!b.length) return b;
    const out = Buffer.from(b);
    for (let n = rng.range(1, 8); n > 0; n--) {
      const i = at(rng, out);
      out[i] = out[i]! ^ (1 << rng.int(8));
    }
    return out;
  },
  interestingByte(rng, b) {
    if (!b.length) return b;
    const out = Buffer.from(b);
    out[at(rng, out)] = rng.pick(INTERESTING_BYTES);
    return out;
  },
  insertBytes(rng, b) {
    const i = rng.int(b.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 16)) : Buffer.alloc(rng.range(1, 64), rng.pick(INTERESTING_BYTES));
    return Buffer.concat([b.subarray(0, i), ins, b.subarray(i)]);
  },
  deleteBytes(rng, b) {
    if (!b.length) return b;
    const i = at(rng, b);
    return Buffer.concat([b.subarray(0, i), b.subarray(i + rng.range(1, Math.min(32, b.length - i)))]);
  },
  truncate(rng, b) {
    return b.subarray(0, rng.int(b.length + 1));
  },
  duplicateSection(rng, b) {
    if (!b.length) return b;
    const i = at(rng, b);
    const sec = b.subarray(i, i + rng.range(1, Math.min(256, b.length - i)));
    const j = rng.int(b.length + 1);
    const times = rng.chance(0.1) ? rng.range(2, 64) : 1;
    return Buffer.concat([b.subarray(0, j), ...Array<Buffer>(times).fill(sec), b.subarray(j)]);
  },
  u16Extreme(rng, b) {
    if (b.length < 2) return b;
    const out = Buffer.from(b);
    out.writeUInt16BE(rng.pick(EXTREME_U16), rng.int(b.length - 1));
    return out;
  },
  u32Extreme(rng, b) {
    if (b.length < 4) return b;
    const out = Buffer.from(b);
    out.writeUInt32BE(rng.pick(EXTREME_U32), rng.int(b.length - 3));
    return out;
  },
  f64Extreme(rng, b) {
    if (b.length < 8) return b;
    const out = Buffer.from(b);
    out.writeDoubleBE(rng.pick(EXTREME_F64), rng.int(b.length - 7));
    return out;
  },
  randomRun(rng, b) {
    if (!b.length) return rng.bytes(rng.range(1, 64));
    const out = Buffer.from(b);
    const i = at(rng, out);
    rng.bytes(Math.min(rng.range(1, 32), out.length - i)).copy(out, i);
    return out;
  },
  splice(rng, b, other) {
    return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1))]);
  },
  /** Frame header: another type byte or stream id, the payload left as is. */
  frameHeader(rng, b) {
    if (b.length < 5) return b;
    const out = Buffer.from(b);
    if (rng.chance(0.5)) out[0] = rng.chance(0.8) ? rng.range(0, 15) : rng.int(256);
    else out.writeUInt32BE(rng.pick([0, 1, 2, 3, 0x7fff_ffff, 0xffff_ffff, rng.u32()]), 1);
    return out;
  },
  allRandom(rng) {
    return rng.bytes(rng.chance(0.9) ? rng.range(0, 64) : rng.range(64, 4096));
  },
};

const NAMES = Object.keys(MUTATORS);

/** One to four mutations in a row; returns the bytes and the mutations' names (for the failure report). */
export function mutate(rng: Rng, b: Buffer, other: Buffer): { bytes: Buffer; steps: string[] } {
  let bytes = b;
  const steps: string[] = [];
  for (let n = rng.range(1, 4); n > 0; n--) {
    const name = rng.pick(NAMES);
    steps.push(name);
    bytes = MUTATORS[name]!(rng, bytes, other);
  }
  return { bytes, steps };
}
