// Who a request's caller is: their Entra ID token checked once per request (auth/caller-auth.ts), the answer kept
// on the request, the refusal coded (401 Unauthorized, or 503 when the signing keys cannot be had).
import type { IncomingMessage } from 'node:http';
import { GatehouseError, HUB_TOKEN_HEADER } from '@gatehouse/shared';
import type { Ctx } from '../http/router.js';
import { KeyedLineBudgets, LineBudget, type Logger } from '../log.js';
import { AuthFailure, unauthorized, type Authenticate, type Caller } from './caller-auth.js';
import type { ApiRate } from '../http/api-rate.js';

/** A request's caller, once its token is checked. On the request rather than in a WeakMap keyed by it: a
 *  WeakMap entry per request kept requests alive through V8's young collections (a bare HTTP server that set
 *  one per request: young collections of 3.5 ms instead of 0.3, a fifth fewer requests a second; see
 *  RequestCtx and docs/performance.md, session 10). */
const CALLER = Symbol('caller');

/** Callers (one object per verified token) whose groups overage has been logged: once per token, not per request. */
const overageTold = new WeakSet<Caller>();

/** `HubDeps.caller`: made once per hub; what it is given per request is the request's context. A request that is
 *  not a call (no `ctx.tags.route`: the calls' handlers set it before they ask who the caller is) is a management
 *  API request and counts toward `apiRate` once its caller is known. */
export function callerIdentifier(authenticate: Authenticate, log: Logger, apiRate?: ApiRate): (ctx: Ctx) => Promise<Caller> {
  // Anyone can send a bad token: the refusals' lines are bounded in rate (LineBudget).
  const refusals = new LineBudget(log, 'caller refused');
  const keysDown = new LineBudget(log, 'cannot validate tokens');
  // Per tenant: one tenant's callers over the rate cannot use up the lines that would tell of another's (red team,
  // session 19, F4).
  const overRate = new KeyedLineBudgets(log, 'caller over the management API rate');
  async function identify(ctx: Ctx): Promise<Caller> {
    const caller = await verify(ctx);
    if (apiRate && ctx.tags.route === undefined) {
      try {
        apiRate.admit(caller);
      } catch (err) {
        if (overRate.allow(`tid:${caller.tid}`)) ctx.log.info({ why: (err as Error).message }, 'caller over the management API rate');
        throw err;
      }
    }
    return caller;
  }
  async function verify(ctx: Ctx): Promise<Caller> {
    // X-Gatehouse-Authorization, when given, is the caller's token; Authorization is then the service's.
    const given = ctx.req.headers[HUB_TOKEN_HEADER];
    const auth = typeof given === 'string' ? given : ctx.req.headers.authorization;
    try {
      const caller = await authenticate(auth);
      ctx.tags.caller = { tid: caller.tid, oid: caller.oid };
      if (caller.groupsOverage && !overageTold.has(caller)) {
        overageTold.add(caller);
        ctx.log.info({ kind: caller.kind }, 'caller token has groups overage (no groups listed): group roles and shares do not apply to it');
      }
      return caller;
    } catch (err) {
      if (err instanceof AuthFailure) {
        if (refusals.allow()) ctx.log.info({ why: err.reason }, 'caller refused');
        throw unauthorized(auth !== undefined);
      }
      if (err instanceof GatehouseError) throw err;
      if (keysDown.allow()) ctx.log.error({ err: (err as Error).message }, 'cannot validate tokens: signing keys unavailable');
      throw new GatehouseError('ServiceUnavailable', 'hub -> Entra ID: signing keys are unavailable, try again shortly');
    }
  }
  return (ctx) => {
    // One answer per request: routes that need the caller twice (EntraAuth: ownership, then On-Behalf-Of)
    // do not validate the token twice.
    // Kept on the request itself, not in a WeakMap: see CALLER.
    const req = ctx.req as IncomingMessage & { [CALLER]?: Promise<Caller> };
    return (req[CALLER] ??= identify(ctx));
  };
}
