// The calls in flight on one agent connection, by stream id (the hub's session and the agent's tunnel each keep
// one). Not a Map: with an entry added and removed on every call, a long-lived Map kept the calls' objects
// through V8's young collections once a full collection had run (our reading of V8's OrderedHashTable: it is
// rebuilt every few dozen calls and the old table, still holding its entries, stays linked to the new one).
// Measured: a bare HTTP server with such a Map promoted about 1.6 MB per young collection and lost a fifth of its
// throughput (the benchmark's minimal relay had the same), and the agent promoted 870 KB per young collection
// before this table and 320 KB after (docs/performance.md, session 10). This table is one array of keys and one
// of values, open addressing with linear probing; it grows by doubling at half full and is never rebuilt
// otherwise.

const EMPTY = undefined;

export class IdMap<T extends object> {
  private keys: Uint32Array;
  private values: Array<T | undefined>;
  private mask: number;
  private count = 0;

  constructor(capacity = 64) {
    let cap = 8;
    while (cap < capacity) cap *= 2;
    this.keys = new Uint32Array(cap);
    this.values = new Array<T | undefined>(cap).fill(EMPTY);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Stream ids are u32s; Fibonacci hashing spreads consecutive odd ids over the table. */
  private home(id: number): number {
    return (Math.imul(id, 0x9e3779b1) >>> 0) & this.mask;
  }

  private slot(id: number): number {
    for (let i = this.home(id); ; i = (i + 1) & this.mask) {
      if (this.values[i] === EMPTY) return -1;
      if (this.keys[i] === id) return i;
    }
  }

  get(id: number): T | undefined {
    const i = this.slot(id);
    return i < 0 ? undefined : this.values[i];
  }

  has(id: number): boolean {
    return this.slot(id) >= 0;
  }

  set(id: number, value: T): void {
    for (let i = this.home(id); ; i = (i + 1) & this.mask) {
      if (this.values[i] === EMPTY) {
        this.keys[i] = id;
        this.values[i] = value;
        if (++this.count * 2 > this.values.length) this.grow();
        return;
      }
      if (this.keys[i] === id) {
        this.values[i] = value;
        return;
      }
    }
  }

  delete(id: number): boolean {
    let i = this.slot(id);
    if (i < 0) return false;
    this.count--;
    // Backward-shift deletion: move later entries of the same probe run into the hole, so no tombstones build up.
    for (let j = (i + 1) & this.mask; this.values[j] !== EMPTY; j = (j + 1) & this.mask) {
      const h = this.home(this.keys[j]!);
      // Entry j may move to i when its home is not in (i, j] (cyclically).
      if (i <= j ? h <= i || h > j : h <= i && h > j) {
        this.keys[i] = this.keys[j]!;
        this.values[i] = this.values[j];
        i = j;
      }
    }
    this.values[i] = EMPTY;
    return true;
  }

  /** The values, as a new array (safe to use while entries are removed). */
  list(): T[] {
    const out: T[] = [];
    for (const v of this.values) if (v !== EMPTY) out.push(v);
    return out;
  }

  clear(): void {
    this.values.fill(EMPTY);
    this.count = 0;
  }

  private grow(): void {
    const { keys, values } = this;
    const cap = values.length * 2;
    this.keys = new Uint32Array(cap);
    this.values = new Array<T | undefined>(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.count = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== EMPTY) this.set(keys[i]!, values[i]!);
    values.fill(EMPTY); // the old array holds nothing, whatever becomes of it
  }
}
