// Caps on calls in progress (issue 22, finding 4): the throttle counts calls as they start, so 200 slow uploads
// from one caller were all held at once. Here every invoke or raw-route call counts against its connection, its
// caller and its gateway until its answer is over; one over a cap is refused before anything is started for it.
import { GatehouseError } from '@gatehouse/shared';
import type { ConnectionRecord } from '../store/store.js';
import type { Ctx } from './router.js';

export interface CallCapLimits {
  perConnection: number;
  perCaller: number;
  perGateway: number;
}

export interface CallKeys {
  connectionId: string;
  caller: { tid: string; oid: string } | undefined;
  gatewayId: string | null;
}

/** Calls in progress per key. An entry stays while it is in use and is swept some time after its count is back
 *  to zero: a Map that gained and lost an entry per call kept calls through V8's young collections
 *  (docs/performance.md, session 10); here a call only changes a number. */
class Counter {
  private readonly counts = new Map<string, { n: number }>();
  get(key: string): number {
    return this.counts.get(key)?.n ?? 0;
  }
  add(key: string): { n: number } {
    let entry = this.counts.get(key);
    if (entry === undefined) {
      entry = { n: 0 };
      this.counts.set(key, entry);
    }
    entry.n++;
    return entry;
  }
  sweep(): void {
    for (const [key, entry] of this.counts) if (entry.n <= 0) this.counts.delete(key);
  }
  /** Keys with calls in progress. */
  get size(): number {
    let n = 0;
    for (const e of this.counts.values()) if (e.n > 0) n++;
    return n;
  }
}

/** How often keys with nothing in progress are dropped. */
const SWEEP_MS = 60_000;

export class CallCaps {
  private readonly connections = new Counter();
  private readonly callers = new Counter();
  private readonly gateways = new Counter();

  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limits: CallCapLimits) {
    this.sweeper = setInterval(() => {
      this.connections.sweep();
      this.callers.sweep();
      this.gateways.sweep();
    }, SWEEP_MS).unref();
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Counts a call in, or throws the coded refusal naming the cap it would pass. Returns the release (call it once). */
  admit(keys: CallKeys): () => void {
    const caller = keys.caller ? `${keys.caller.tid}/${keys.caller.oid}` : undefined;
    const retry = { 'retry-after': '1' };
    if (this.connections.get(keys.connectionId) >= this.limits.perConnection) {
      throw new GatehouseError(
        'TooManyRequests',
        `caller -> hub: connection ${keys.connectionId} has ${this.limits.perConnection} calls in progress, the most it may have at once (GATEHOUSE_MAX_CALLS_PER_CONNECTION); try again when one is over`,
        retry,
      );
    }
    if (caller !== undefined && this.callers.get(caller) >= this.limits.perCaller) {
      throw new GatehouseError(
        'TooManyRequests',
        `caller -> hub: this caller has ${this.limits.perCaller} calls in progress, the most one caller may have at once (GATEHOUSE_MAX_CALLS_PER_CALLER); try again when one is over`,
        retry,
      );
    }
    if (keys.gatewayId !== null && this.gateways.get(keys.gatewayId) >= this.limits.perGateway) {
      throw new GatehouseError(
        'ServiceUnavailable',
        `hub -> agent: gateway ${keys.gatewayId} has ${this.limits.perGateway} calls in progress, the most it may have at once (GATEHOUSE_MAX_CALLS_PER_GATEWAY); try again when one is over`,
        retry,
      );
    }
    return new Admitted(
      this.connections.add(keys.connectionId),
      caller === undefined ? undefined : this.callers.add(caller),
      keys.gatewayId === null ? undefined : this.gateways.add(keys.gatewayId),
    ).release;
  }

  /** Keys with calls in progress, per kind (tests: a finished call leaves nothing counted). */
  get tracked(): { connections: number; callers: number; gateways: number } {
    return { connections: this.connections.size, callers: this.callers.size, gateways: this.gateways.size };
  }
}

/** One admitted call's counts; `release` gives them back once. */
class Admitted {
  constructor(
    private connection: { n: number } | undefined,
    private caller: { n: number } | undefined,
    private gateway: { n: number } | undefined,
  ) {}
  readonly release = (): void => {
    if (this.connection) this.connection.n--;
    if (this.caller) this.caller.n--;
    if (this.gateway) this.gateway.n--;
    this.connection = this.caller = this.gateway = undefined;
  };
}

/** Counts a relayed call (invoke, raw route) in for its answer's lifetime, or throws the refusal. */
export function admitCall(deps: { callCaps: CallCaps }, ctx: Ctx, conn: ConnectionRecord): void {
  const release = deps.callCaps.admit({ connectionId: conn.id, caller: ctx.tags.caller, gatewayId: conn.gatewayId ?? null });
  ctx.res.once('close', release);
}
