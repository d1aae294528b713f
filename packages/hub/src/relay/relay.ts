// What invoke and the raw proxy route share: throttling, and starting a call the way its connection type runs it
// (EntraAuth from the hub itself, direct.ts; gateway types through an agent, gateway-call.ts). Both run in the
// one pipeline (pipeline.ts: one CallWatch, the failover loop, the one StartedCall); the types are in call-types.ts.
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord } from '../store/store.js';
import { setRateLimitHeaders } from '../throttle/memory-throttle.js';
import type { RelayRequest, RelayTiming, StartedCall } from './call-types.js';
import { startDirect } from './direct.js';
import { startGatewayCall } from './gateway-call.js';

export type { RelayRequest, RelayTiming, StartedCall } from './call-types.js';

export async function takeThrottle(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord): Promise<void> {
  const decision = await deps.throttle.take(conn.id);
  setRateLimitHeaders(ctx.res, decision);
  if (!decision.allowed) {
    if (ctx.tags.route) deps.metrics.throttled.inc({ route: ctx.tags.route });
    throw new GatehouseError('TooManyRequests', `Rate limit is exceeded. Try again in ${decision.resetSec} seconds.`, {
      'retry-after': String(decision.resetSec),
    });
  }
}

/** Runs a call for any connection type: EntraAuth from the hub, gateway types through an agent. The limits of a
 *  relayed request are checked on the request as it leaves the hub (startGatewayCall, startDirect). */
export function startCall(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  return conn.authType === 'EntraAuth' ? startDirect(deps, ctx, conn, req, timing) : startGatewayCall(deps, ctx, conn, req, timing);
}
