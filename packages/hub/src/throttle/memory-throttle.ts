// Per-connection fixed-window throttle (SPEC section 5), in memory for a single hub.
// A window opens at a connection's first call and admits `limit` calls until it ends.

export interface ThrottleDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets (>= 1 while a window is open). */
  resetSec: number;
}

export interface Throttle {
  take(key: string): Promise<ThrottleDecision>;
}

export function createMemoryThrottle(limit: number, periodMs: number, now: () => number = Date.now): Throttle {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = now();
  return {
    async take(key) {
      const t = now();
      if (t - lastSweep > periodMs) {
        // forget finished windows so memory follows active connections only
        for (const [k, w] of windows) if (t - w.start >= periodMs) windows.delete(k);
        lastSweep = t;
      }
      let w = windows.get(key);
      if (!w || t - w.start >= periodMs) {
        w = { start: t, count: 0 };
        windows.set(key, w);
      }
      const resetSec = Math.max(1, Math.ceil((w.start + periodMs - t) / 1000));
      if (w.count >= limit) return { allowed: false, limit, remaining: 0, resetSec };
      w.count += 1;
      return { allowed: true, limit, remaining: limit - w.count, resetSec };
    },
  };
}

/** The RateLimit-* headers of a decision, set on a response. */
export function setRateLimitHeaders(res: { setHeader(name: string, value: string): unknown }, d: ThrottleDecision): void {
  res.setHeader('ratelimit-limit', String(d.limit));
  res.setHeader('ratelimit-remaining', String(d.remaining));
  res.setHeader('ratelimit-reset', String(d.resetSec));
}
