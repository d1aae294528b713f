// Caps on calls in progress (issue 22, finding 4): the throttle counts calls as they start, so 200 slow uploads
// from one caller were all held at once. Here every invoke or raw-route call counts against its connection, its
// caller and its gateway until its answer is over; one over a cap is refused before anything is started for it.
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { ConnectionRecord } from '../store/store.js';
import type { Ctx } from './router.js';

export interface CallCapLimits { perConnection: number; perCaller: number; perGateway: number }

export interface CallKeys { connectionId: string; caller: { tid: string; oid: string } | undefined; gatewayId: string | null }

class Counter {
  private readonly counts = new Map<string, number>();
  get(key: string): number { return this.counts.get(key) ?? 0; }
  add(key: string): void { this.counts.set(key, this.get(key) + 1); }
  remove(key: string): void {
    const n = this.get(key) - 1;
    // No entry is kept for a key with nothing in progress: the maps hold only live calls.
    if (n <= 0) this.counts.delete(key); else this.counts.set(key, n);
  }
  get size(): number { return this.counts.size; }
}

export class CallCaps {
  private readonly connections = new Counter();
  private readonly callers = new Counter();
  private readonly gateways = new Counter();

  constructor(private readonly limits: CallCapLimits) {}

  /** Counts a call in, or throws the coded refusal naming the cap it would pass. Returns the release (call it once). */
  admit(keys: CallKeys): () => void {
    const caller = keys.caller ? `${keys.caller.tid}/${keys.caller.oid}` : undefined;
    const retry = { 'retry-after': '1' };
    if (this.connections.get(keys.connectionId) >= this.limits.perConnection) {
      throw new GatehouseError('TooManyRequests', `caller -> hub: connection ${keys.connectionId} has ${this.limits.perConnection} calls in progress, the most it may have at once (GATEHOUSE_MAX_CALLS_PER_CONNECTION); try again when one is over`, retry);
    }
    if (caller !== undefined && this.callers.get(caller) >= this.limits.perCaller) {
      throw new GatehouseError('TooManyRequests', `caller -> hub: this caller has ${this.limits.perCaller} calls in progress, the most one caller may have at once (GATEHOUSE_MAX_CALLS_PER_CALLER); try again when one is over`, retry);
    }
    if (keys.gatewayId !== null && this.gateways.get(keys.gatewayId) >= this.limits.perGateway) {
      throw new GatehouseError('ServiceUnavailable', `hub -> agent: gateway ${keys.gatewayId} has ${this.limits.perGateway} calls in progress, the most it may have at once (GATEHOUSE_MAX_CALLS_PER_GATEWAY); try again when one is over`, retry);
    }
    this.connections.add(keys.connectionId);
    if (caller !== undefined) this.callers.add(caller);
    if (keys.gatewayId !== null) this.gateways.add(keys.gatewayId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.connections.remove(keys.connectionId);
      if (caller !== undefined) this.callers.remove(caller);
      if (keys.gatewayId !== null) this.gateways.remove(keys.gatewayId);
    };
  }

  /** Keys with calls in progress, per kind (tests: a finished call leaves nothing counted). */
  get tracked(): { connections: number; callers: number; gateways: number } {
    return { connections: this.connections.size, callers: this.callers.size, gateways: this.gateways.size };
  }
}

/** Counts a relayed call (invoke, raw route) in for its answer's lifetime, or throws the refusal. */
export function admitCall(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord): void {
  const release = deps.callCaps.admit({ connectionId: conn.id, caller: ctx.tags.caller, gatewayId: conn.gatewayId ?? null });
  ctx.res.once('close', release);
}
