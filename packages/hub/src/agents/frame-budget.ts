// The frame budgets all of a hub's agent connections share (red-team finding B2): the bound per connection
// (GATEHOUSE_AGENT_FRAME_RATE, frame-meter.ts) did not stop one tenant from opening six connections at 40,000
// frames a second each and taking another tenant from about 100 calls a second to 26 in 3 s. So each tenant (the
// tenant id of its gateways' owner) has one budget for all of its connections, whatever their number
// (GATEHOUSE_AGENT_TENANT_FRAME_RATE), and the whole hub has one (GATEHOUSE_AGENT_HUB_FRAME_RATE), shared fairly
// among the tenants that want more than their part. Past a budget the hub does not close anything: it stops
// reading the connection that overspent until the budget has refilled (backpressure), so a busy tenant is slowed,
// never cut off, and a flooding one costs the hub no more than its budget.
import { type FrameRateLimit, SlidingCount } from './frame-meter.js';

export interface FrameBudgetLimits {
  /** Frames all connections of one tenant may send per period. */
  tenant: FrameRateLimit;
  /** Frames all agent connections on the hub may send per period. */
  hub: FrameRateLimit;
}

/** One tenant's budget, held by each of its open connections (`leave` when one closes). */
export class TenantFrames {
  /** Frames it may still send at once; below 0, the debt its connections wait to pay off. */
  tokens: number;
  last: number;
  /** Frames over the hub's period, for the fair share. */
  readonly recent: SlidingCount;
  /** When it last overspent: a tenant that did within the period wants more than it gets. */
  throttledAt = Number.NEGATIVE_INFINITY;
  sockets = 0;

  constructor(
    readonly key: string,
    private readonly budgets: FrameBudgets,
    now: number,
    burst: number,
    periodMs: number,
  ) {
    this.tokens = burst;
    this.last = now;
    this.recent = new SlidingCount(periodMs, now);
  }

  /** Charges the frames one connection just read: how long (ms) that connection must stop reading, 0 to go on. */
  charge(frames: number): number {
    return this.budgets.charge(this, frames);
  }

  /** The connection closed. */
  leave(): void {
    this.budgets.leave(this);
  }
}

/**
 * Max-min fair share of `total` among demands (per ms; Infinity for a tenant that wants more than it gets): the
 * rate each tenant whose demand is above it gets, Infinity when every demand fits. Never below total / demands.
 */
export function fairShare(demands: number[], total: number): number {
  const sorted = [...demands].sort((a, b) => a - b);
  let left = total;
  let n = sorted.length;
  for (const d of sorted) {
    if (d > left / n) return left / n;
    left -= d;
    n--;
  }
  return Number.POSITIVE_INFINITY;
}

export class FrameBudgets {
  private readonly tenants = new Map<string, TenantFrames>();
  private readonly tenantRate: number;
  private readonly hubRate: number;
  /** Frames per ms each tenant over its part gets while the hub's budget is short; recomputed every tenth period. */
  private share = Number.POSITIVE_INFINITY;
  private sharedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: FrameBudgetLimits,
    private readonly now: () => number = Date.now,
  ) {
    this.tenantRate = limits.tenant.limit / limits.tenant.periodMs;
    this.hubRate = limits.hub.limit / limits.hub.periodMs;
  }

  /** A connection of tenant `key` opened: its budget. */
  join(key: string): TenantFrames {
    let t = this.tenants.get(key);
    if (!t) {
      t = new TenantFrames(key, this, this.now(), this.burst(this.tenantRate), this.limits.hub.periodMs);
      this.tenants.set(key, t);
    }
    t.sockets++;
    return t;
  }

  leave(t: TenantFrames): void {
    if (--t.sockets <= 0) this.tenants.delete(t.key);
  }

  /** The rate (frames per ms) a tenant is held to now: its own budget, or less while the hub's is short. */
  rate(): number {
    return Math.min(this.tenantRate, this.share);
  }

  charge(t: TenantFrames, frames: number): number {
    const now = this.now();
    t.recent.add(frames, now);
    if (now - this.sharedAt >= this.limits.hub.periodMs / 10) this.reshare(now);
    const rate = this.rate();
    // A token bucket that holds a tenth of a period: bursts pass, the rate over time is the budget's.
    t.tokens = Math.min(this.burst(rate), t.tokens + (now - t.last) * rate) - frames;
    t.last = now;
    if (t.tokens >= 0) return 0;
    t.throttledAt = now;
    return Math.ceil(-t.tokens / rate);
  }

  /** The tenants that sent frames within the hub's period, and the hub's budget shared among them. */
  private reshare(now: number): void {
    this.sharedAt = now;
    const period = this.limits.hub.periodMs;
    const demands: number[] = [];
    for (const t of this.tenants.values()) {
      const recent = t.recent.at(now);
      if (now - t.throttledAt < period) demands.push(Number.POSITIVE_INFINITY);
      else if (recent > 0) demands.push(recent / period);
    }
    this.share = fairShare(demands, this.hubRate);
  }

  private burst(rate: number): number {
    return (rate * this.limits.tenant.periodMs) / 10;
  }

  /** Tenants with an open connection (tests). */
  get size(): number {
    return this.tenants.size;
  }
}
