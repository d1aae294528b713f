// EntraAuth calls: the hub calls the service itself with an On-Behalf-Of token for the connection's resource.
// The caller's own token never leaves the hub. The request head is made here; the call runs in the pipeline.
import { forwardRequestHeaders, headerListProblem } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord } from '../store/store.js';
import type { RelayRequest, RelayTiming, StartedCall, Upstreams } from './call-types.js';
import { runCall } from './pipeline.js';
import { HUB_SETS_AND_AUTHORIZATION, callerView, overLimit } from './request-head.js';
import { ServiceUpstream } from './upstream-service.js';

/** The service is the one upstream of an EntraAuth call. */
const NO_OTHERS: Upstreams = { next: () => undefined };

export async function startDirect(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  // An address literal never reaches the dispatcher's lookup: checked here, before any token is fetched for it.
  deps.directNetworks.checkLiteral(req.url);
  const caller = await deps.caller(ctx);
  const requestId = ctx.requestId;
  const headers = forwardRequestHeaders(req.headers, { dropCookie: false, drop: HUB_SETS_AND_AUTHORIZATION, caller: await callerView(deps, ctx) });
  const sendsLength = req.bodyLength !== null && (req.bodyLength > 0 || req.body);
  // The same header rules and limits as a relayed call's, on the lines as sent (the three the hub adds below counted).
  const problem = headerListProblem([
    ...headers,
    ['authorization', ''],
    ['x-request-id', requestId],
    ...(sendsLength ? [['content-length', '0'] as [string, string]] : []),
  ]);
  if (problem) throw overLimit(problem);
  const token = await deps.obo.token(caller, conn.resourceUri!);
  headers.push(['authorization', `Bearer ${token}`], ['x-request-id', requestId]);
  if (sendsLength) headers.push(['content-length', String(req.bodyLength)]);
  const service = new ServiceUpstream(deps.dispatcher, req.method, req.url, headers.flat(), timing.maxResponseBytes, deps.directNetworks.marker);
  return runCall(
    deps,
    ctx,
    {
      timeoutMs: conn.timeoutMs,
      timing,
      method: req.method,
      host: req.url.host,
      link: 'hub -> service',
      fields: { connection: conn.id, resource: conn.resourceUri ?? undefined, member: undefined, viaHub: undefined },
    },
    req,
    service,
    NO_OTHERS,
  );
}
