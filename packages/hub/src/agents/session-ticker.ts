// One timer for the heartbeat checks of every agent session that ticks at the same period, instead of a timer
// each: 10,000 idle sessions cost one interval firing, not 10,000. A session joins when it starts and leaves
// when it closes (leaving during a tick is safe: a Set's iteration skips what was deleted); the interval runs
// only while some session is on it, and is unref'd.

export interface Ticking {
  tick(): void;
}

class Ticker {
  private readonly sessions = new Set<Ticking>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly periodMs: number) {}

  add(s: Ticking): void {
    this.sessions.add(s);
    this.timer ??= setInterval(() => {
      for (const x of this.sessions) x.tick();
    }, this.periodMs).unref();
  }

  delete(s: Ticking): void {
    this.sessions.delete(s);
    if (this.sessions.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

const tickers = new Map<number, Ticker>();

/** Puts `s` on the shared ticker of `periodMs`; the function returned takes it off. */
export function tickEvery(periodMs: number, s: Ticking): () => void {
  let t = tickers.get(periodMs);
  if (!t) {
    t = new Ticker(periodMs);
    tickers.set(periodMs, t);
  }
  t.add(s);
  const ticker = t;
  return () => ticker.delete(s);
}
