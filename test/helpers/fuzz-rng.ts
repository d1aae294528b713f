// Seeded randomness for the fuzz suite. One base seed per run (GATEHOUSE_FUZZ_SEED replays it, else a fresh
// one), each part and each case its own stream derived from it, so a failure names (seed, part, case) and the
// case can be replayed alone. GATEHOUSE_FUZZ_RUNS scales every count (default 1; 10 for a longer local run).

/** mulberry32: small, fast, good enough to pick mutations; not for anything secret. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A uint32. */
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** A 32-bit hash of the seed, the part's name and the case number: each case's own Rng. */
export function caseSeed(seed: number, part: string, index: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const c of `${part}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

export function caseRng(seed: number, part: string, index: number): Rng {
  return new Rng(caseSeed(seed, part, index));
}

/** The run's base seed: GATEHOUSE_FUZZ_SEED when set (decimal or 0x hex), else a fresh random one. */
export function fuzzSeed(): number {
  const env = process.env.GATEHOUSE_FUZZ_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) throw new Error(`GATEHOUSE_FUZZ_SEED must be an integer in [0, 2^32), got ${env}`);
    return n;
  }
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** The scale of every count (GATEHOUSE_FUZZ_RUNS, default 1, at most 1000). */
export function fuzzScale(): number {
  const env = process.env.GATEHOUSE_FUZZ_RUNS;
  if (env === undefined || env === '') return 1;
  const n = Number(env);
  if (!(n > 0 && n <= 1000)) throw new Error(`GATEHOUSE_FUZZ_RUNS must be a number in (0, 1000], got ${env}`);
  return n;
}

/** Prints the seed a part runs with, and how to replay it. */
export function announce(part: string, seed: number, count: number): void {
  process.stdout.write(`[fuzz] ${part}: seed ${seed} (replay: GATEHOUSE_FUZZ_SEED=${seed}), ${count} cases\n`);
}

/** A short printable form of bytes for a failure report (hex, cut at `max` bytes). */
export function hexOf(b: Uint8Array, max = 256): string {
  const hex = Buffer.from(b.subarray(0, max)).toString('hex');
  return b.length > max ? `${hex}… (${b.length} bytes)` : hex;
}

/** GATEHOUSE_FUZZ_ONLY=part:N[-M][,part:N…] replays single cases of a part (with the run's seed): their numbers, or
 *  undefined to run the part in full. */
export function onlyCases(part: string): number[] | undefined {
  const env = process.env.GATEHOUSE_FUZZ_ONLY;
  if (!env) return undefined;
  const out: number[] = [];
  for (const item of env.split(',')) {
    const m = /^([a-z]+):(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) throw new Error(`GATEHOUSE_FUZZ_ONLY: ${item} is not part:N or part:N-M`);
    if (m[1] !== part) continue;
    for (let i = Number(m[2]); i <= Number(m[3] ?? m[2]); i++) out.push(i);
  }
  return out;
}
