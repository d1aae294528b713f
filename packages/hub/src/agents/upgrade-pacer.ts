// The Retry-After of an agent upgrade refused in a reconnect storm (agents/pending-hellos.ts): instead of telling
// every refused agent "1 s" (so they all come back together and most are refused again), each refusal is given
// the next free slot at the rate the hub has lately been taking agents in (HELLOs a second, at least
// MIN_ADMIT_RATE), so the refused fleet comes back spread out, as the paced fill does. Bound: at most
// MAX_RETRY_AFTER_S (the agent's own longest backoff step); at least 1 s. No timers: the rate is counted per
// one-second window as HELLOs and refusals arrive.

/** The admission rate assumed before any HELLO was counted, and the least ever assumed, per second. */
export const MIN_ADMIT_RATE = 200;
/** The longest Retry-After handed out, in seconds (the agent's last backoff step). */
export const MAX_RETRY_AFTER_S = 30;

export class UpgradePacer {
  /** When the last slot handed out falls (performance.now() ms). */
  private cursor = 0;
  private windowStart = performance.now();
  private windowHellos = 0;
  private rate = MIN_ADMIT_RATE;

  /** An agent's HELLO arrived: one more taken in. */
  hello(now = performance.now()): void {
    this.roll(now);
    this.windowHellos++;
  }

  /** The Retry-After, in whole seconds, for an upgrade refused now: the next free slot. */
  retryAfterS(now = performance.now()): number {
    this.roll(now);
    this.cursor = Math.min(Math.max(this.cursor, now) + 1000 / this.rate, now + MAX_RETRY_AFTER_S * 1000);
    // (less a rounding allowance: the slots are summed in floating point, and 1000.0000001 ms is still 1 s)
    return Math.max(1, Math.ceil((this.cursor - now) / 1000 - 1e-6));
  }

  /** Ends the one-second window when it is over: its HELLOs a second become the rate. */
  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < 1000) return;
    this.rate = Math.max(MIN_ADMIT_RATE, (this.windowHellos * 1000) / elapsed);
    this.windowStart = now;
    this.windowHellos = 0;
  }
}
