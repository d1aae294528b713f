// EntraAuth calls: the hub calls the service itself with an On-Behalf-Of token for the connection's resource.
// The caller's own token never leaves the hub. Bodies stream both ways, as through an agent.
import { pipeline } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import {
  GatehouseError, UNREACHABLE_CODES, foreignCodingMessage, forwardRequestHeaders, hasForeignTransferCoding, headerListFrom, headerListProblem, relayableBody, unreadableAnswer,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord } from '../store/store.js';
import { HUB_SETS_AND_AUTHORIZATION, callerView, overLimit, type RelayRequest, type RelayTiming, type StartedCall } from './relay.js';
import { CallWatch } from './call-watch.js';
import { HttpAttempt } from './http-attempt.js';
import { REFUSED_ADDRESS } from './direct-networks.js';

export async function startDirect(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  // An address literal never reaches the dispatcher's lookup: checked here, before any token is fetched for it.
  deps.directNetworks.checkLiteral(req.url);
  const caller = await deps.caller(ctx);
  const requestId = ctx.requestId;
  const headers = forwardRequestHeaders(req.headers, { dropCookie: false, drop: HUB_SETS_AND_AUTHORIZATION, caller: await callerView(deps, ctx) });
  const sendsLength = req.bodyLength !== null && (req.bodyLength > 0 || req.body);
  // The same header rules and limits as a relayed call's, on the lines as sent (the three the hub adds below counted).
  const problem = headerListProblem([...headers, ['authorization', ''], ['x-request-id', requestId], ...(sendsLength ? [['content-length', '0'] as [string, string]] : [])]);
  if (problem) throw overLimit(problem);
  const token = await deps.obo.token(caller, conn.resourceUri!);
  headers.push(['authorization', `Bearer ${token}`], ['x-request-id', requestId]);
  if (sendsLength) headers.push(['content-length', String(req.bodyLength)]);
  const target = `${req.url.protocol}//${req.url.host}`;
  const watch = new CallWatch(deps, ctx, {
    timeoutMs: conn.timeoutMs, timing, method: req.method, host: req.url.host, link: 'hub -> service',
    fields: { connection: conn.id, resource: conn.resourceUri ?? undefined },
  });
  const attempt = new HttpAttempt();
  watch.current = attempt;
  let res: Dispatcher.ResponseData;
  try {
    // The watch owns the clock (deadline, idle time); undici's own timeouts are off.
    res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod, headers: headers.flat(), body: attempt.body(watch.track(req.body)),
      signal: attempt.signal, dispatcher: deps.dispatcher, headersTimeout: 0, bodyTimeout: 0,
    });
  } catch (err) {
    watch.settle();
    const code = attempt.failure(err);
    if (typeof code !== 'string') throw code;
    if (code === REFUSED_ADDRESS) throw new GatehouseError('UrlNotAllowed', (err as { cause?: Error }).cause?.message ?? (err as Error).message);
    const unreadable = unreadableAnswer(err, target);
    if (unreadable) throw new GatehouseError('BadGateway', `hub -> service: ${unreadable}`);
    if (UNREACHABLE_CODES.has(code)) throw new GatehouseError('BackendUnreachable', `hub -> service: could not reach ${target} (${code})`);
    throw new GatehouseError('BadGateway', `hub -> service: the call to ${target} failed (${code || (err as Error).name})`);
  }
  const head = headerListFrom(res.headers);
  if (hasForeignTransferCoding(head)) {
    watch.settle();
    res.body.on('error', () => {}).destroy();
    throw new GatehouseError('BadGateway', `hub -> service: ${foreignCodingMessage(target)}`);
  }
  attempt.responded(relayableBody(req.method, res.statusCode, res.body));
  watch.headArrived(res.statusCode, undefined);
  return {
    head: { status: res.statusCode, headers: head },
    logger: watch.logger,
    pipeResponse: (sink) => pipeline(attempt.countResponse(timing.maxResponseBytes, 'hub -> service'), sink, () => watch.settle()),
    cancel: (reason) => attempt.cancel(reason, new GatehouseError('BadGateway', `hub: call cancelled (${reason})`)),
    settle: watch.settle,
  };
}
