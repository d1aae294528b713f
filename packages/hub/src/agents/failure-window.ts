// Failures counted per key (a source address, a member id) in fixed windows, in a map whose size is bounded:
// the state an attacker with many addresses can make the hub keep is at most `maxKeys` entries.

export interface FailureLimit {
  limit: number;
  periodMs: number;
}

interface Entry {
  failures: number;
  resetAt: number;
}

export class FailureWindow {
  // Insertion order is age order: a key is re-inserted when its window starts again, so the oldest come first.
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly rule: FailureLimit,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it is not limited. */
  waitMs(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    const now = this.now();
    if (now >= e.resetAt) {
      this.entries.delete(key);
      return 0;
    }
    return e.failures >= this.rule.limit ? e.resetAt - now : 0;
  }

  /** Counts one failure of `key`. */
  add(key: string): void {
    const now = this.now();
    const e = this.entries.get(key);
    if (e && now < e.resetAt) {
      e.failures++;
      return;
    }
    if (e) this.entries.delete(key);
    this.forgetExpired(now);
    // Full of live windows: the oldest goes (its key may fail a few more times before it is limited again).
    if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { failures: 1, resetAt: now + this.rule.periodMs });
  }

  get size(): number {
    return this.entries.size;
  }

  private forgetExpired(now: number): void {
    for (const [key, e] of this.entries) {
      if (e.resetAt > now) return;
      this.entries.delete(key);
    }
  }
}
