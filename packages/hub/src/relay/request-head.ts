// What every call's request head is judged and made by, whichever way it runs: the headers the hub sets itself,
// the caller as the header rules see it, and a request over a per-call limit as the caller gets it.
import type { TLSSocket } from 'node:tls';
import { GatehouseError, HUB_TOKEN_HEADER, type CallerView, type HeadProblem } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';

/** Request headers the relay sets itself toward the service (the call's one request id), never the caller's, and
 *  the caller's hub token when given in its own header (never passed on); the
 *  second set also holds Authorization, for calls where the caller's would be wrong (raw route, credentials). */
export const HUB_SETS: ReadonlySet<string> = new Set(['x-request-id', HUB_TOKEN_HEADER]);
export const HUB_SETS_AND_AUTHORIZATION: ReadonlySet<string> = new Set([...HUB_SETS, 'authorization']);

/** The caller as the hub saw it, for the header rules: the address and scheme of its connection (https only where
 *  the hub itself terminated TLS: behind a TLS proxy it sees http, and the proxy's address), and its token. */
export async function callerView(deps: HubDeps, ctx: Ctx): Promise<CallerView> {
  const caller = await deps.caller(ctx);
  const socket = ctx.req.socket as Partial<TLSSocket>;
  return {
    address: socket.remoteAddress,
    proto: socket.encrypted === true ? 'https' : 'http',
    token: caller.token,
    hubAudiences: [deps.config.clientId, deps.config.appIdUri],
  };
}

/** A request over a per-call limit, as the caller gets it. */
export const overLimit = (p: HeadProblem): GatehouseError => new GatehouseError(p.code, `caller -> hub: ${p.message}`);
