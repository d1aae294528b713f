// The management API's request rate (GATEHOUSE_API_RATE per caller, GATEHOUSE_API_TENANT_RATE per tenant): every
// route a caller's token opens except the calls themselves (invoke and the raw route, which have the per-connection
// throttle and the caps on calls in progress). Lists, creates, shares and audit reads each cost the shared hub a
// database read or write; one caller looping them took about 1,200 requests a second (red team, session 17).
// In memory, per hub: it bounds what one caller costs the process that serves it. Several hubs each count their own.
import { GatehouseError } from '@gatehouse/shared';

export interface Rate {
  limit: number;
  periodMs: number;
}

/** The most keys a bucket set remembers: past it the longest-unused are forgotten (a forgotten key starts full,
 *  which only ever errs toward letting a caller in). Keys are verified callers and tenants, not strangers. */
const MAX_KEYS = 100_000;

/**
 * Token buckets, one per key: `limit` requests per `periodMs`, refilled evenly, holding a quarter of `limit`
 * (at least 1), so a burst is at most a quarter of the period's allowance (room for a script that makes a few hundred
 * objects, or a console reading 20 pages of each list) and the rest comes at the steady pace.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly capacity: number;
  private readonly perMs: number;

  constructor(
    rate: Rate,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.capacity = Math.max(1, Math.floor(rate.limit / 4));
    this.perMs = rate.limit / rate.periodMs;
  }

  /** Takes one token for `key`: 0 when taken, else the seconds until one will be there (at least 1). */
  take(key: string): number {
    const t = this.now();
    const b = this.buckets.get(key);
    const tokens = b ? Math.min(this.capacity, b.tokens + (t - b.at) * this.perMs) : this.capacity;
    // Re-inserted on each use: the Map's order is then least recently used first, for the cap below.
    this.buckets.delete(key);
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: t });
      return Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
    }
    this.buckets.set(key, { tokens: tokens - 1, at: t });
    if (this.buckets.size > MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value!);
    return 0;
  }

  /** Gives back a token taken by `take` (the request was refused by another bucket, so it did not cost this one). */
  giveBack(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.capacity, b.tokens + 1);
  }

  /** Keys remembered (tests). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The management API's rate: per caller (tenant id, object id) and per tenant. */
export class ApiRate {
  private readonly callers: TokenBuckets;
  private readonly tenants: TokenBuckets;

  constructor(
    private readonly perCaller: Rate,
    private readonly perTenant: Rate,
    now?: () => number,
  ) {
    this.callers = new TokenBuckets(perCaller, now);
    this.tenants = new TokenBuckets(perTenant, now);
  }

  /** Counts one management request of `caller`, or throws the coded 429 naming the setting it would pass. */
  admit(caller: { tid: string; oid: string }): void {
    const callerKey = `${caller.tid}/${caller.oid}`;
    const wait = this.callers.take(callerKey);
    if (wait > 0) throw refused(wait, `this caller has used its ${describe(this.perCaller)} management API requests (GATEHOUSE_API_RATE)`);
    const tenantWait = this.tenants.take(caller.tid);
    if (tenantWait > 0) {
      this.callers.giveBack(callerKey);
      throw refused(
        tenantWait,
        `this caller's tenant has used its ${describe(this.perTenant)} management API requests, all its callers together (GATEHOUSE_API_TENANT_RATE)`,
      );
    }
  }
}

function describe(rate: Rate): string {
  const s = rate.periodMs / 1000;
  return `${rate.limit} per ${Number.isInteger(s) ? `${s} s` : `${rate.periodMs} ms`}`;
}

function refused(waitS: number, what: string): GatehouseError {
  return new GatehouseError('TooManyRequests', `caller -> hub: ${what}; try again in ${waitS} s`, { 'retry-after': String(waitS) });
}
