// EntraAuth calls: the hub calls the service itself with an On-Behalf-Of token for the connection's resource.
// The caller's own token never leaves the hub. Bodies stream both ways, as through an agent.
import { Readable, pipeline } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { GatehouseError, UNREACHABLE_CODES, forwardRequestHeaders, headerListFrom } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord } from '../store/store.js';
import { DROP_AUTHORIZATION, capResponse, requestIdFrom, type RelayRequest, type RelayTiming, type StartedCall } from './relay.js';

export async function startDirect(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const caller = await deps.caller(ctx);
  const token = await deps.obo.token(caller, conn.resourceUri!);
  const requestId = requestIdFrom(ctx);
  const headers = forwardRequestHeaders(req.headers, { dropCookie: false, drop: DROP_AUTHORIZATION });
  headers.push(['authorization', `Bearer ${token}`], ['x-request-id', requestId]);
  if (req.bodyLength !== null && (req.bodyLength > 0 || req.body)) headers.push(['content-length', String(req.bodyLength)]);
  const target = `${req.url.protocol}//${req.url.host}`;
  const route = ctx.tags.route ?? 'invoke';
  const fields = { connection: conn.id, resource: conn.resourceUri };

  const ac = new AbortController();
  let timedOut = false;
  const deadline = setTimeout(() => { timedOut = true; ac.abort(); }, conn.timeoutMs);
  let settled = false;
  let status = 0;
  let responseBytes = () => 0;
  deps.metrics.inflight.inc();
  const settle = () => {
    clearTimeout(deadline);
    if (settled) return;
    settled = true;
    deps.metrics.inflight.dec();
    deps.metrics.responseBytes.inc(responseBytes());
    ctx.access({ ...fields, route, method: req.method, host: req.url.host, status, finished: ctx.res.writableFinished, responseBytes: responseBytes(), ms: Math.round(performance.now() - ctx.started) });
  };
  ctx.res.on('close', () => { settle(); if (!ctx.res.writableFinished) ac.abort(); });

  let requestBytes = 0;
  const counted = req.body && (async function* () { for await (const c of req.body!) { requestBytes += c.length; yield c; } })();
  const opened = performance.now();
  let res: Dispatcher.ResponseData;
  try {
    res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod, headers: headers.flat(), body: counted ? Readable.from(counted) : undefined,
      signal: ac.signal, dispatcher: deps.dispatcher, headersTimeout: conn.timeoutMs, bodyTimeout: timing.idleMs,
    });
  } catch (err) {
    settle();
    const e = err as Error & { code?: string; cause?: unknown };
    if (e instanceof GatehouseError) throw e;
    if (e.cause instanceof GatehouseError) throw e.cause;
    if (timedOut || e.code === 'UND_ERR_HEADERS_TIMEOUT') throw new GatehouseError('GatewayTimeout', `hub -> service: no answer from ${target} within ${conn.timeoutMs / 1000} s`);
    const code = e.code ?? (e.cause as { code?: string } | undefined)?.code ?? '';
    if (UNREACHABLE_CODES.has(code)) throw new GatehouseError('BackendUnreachable', `hub -> service: could not reach ${target} (${code})`);
    throw new GatehouseError('BadGateway', `hub -> service: the call to ${target} failed (${code || e.name})`);
  } finally {
    deps.metrics.requestBytes.inc(requestBytes);
  }
  status = res.statusCode;
  const backend = (performance.now() - opened) / 1000;
  deps.metrics.phaseOf[route].hub.observe((opened - ctx.started) / 1000);
  deps.metrics.phaseOf[route].backend.observe(backend);
  if (!timing.wholeCall) clearTimeout(deadline);
  responseBytes = capResponse(res.body, timing.maxResponseBytes, 'hub -> service');
  return {
    head: { status: res.statusCode, headers: headerListFrom(res.headers) },
    get log() { return ctx.log.child(fields); },
    pipeResponse: (sink) => pipeline(res.body, sink, () => settle()),
    cancel: () => { ac.abort(); res.body.destroy(); },
    settle,
  };
}
