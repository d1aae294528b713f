// POST /v1/connections/{id}/invoke (SPEC section 4): validate, throttle, relay through an agent, stream back.
import { pipeline } from 'node:stream';
import {
  GatehouseError, forwardRequestHeaders, forwardResponseHeaders, headersToObject, isValidHeaderName, isValidHeaderValue,
  resolveTarget, type HeaderList, type RequestHeadMessage,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { ownConnection } from '../http/connections.js';
import { invalid } from '../http/respond.js';
import { route, type Ctx, type Route } from '../http/router.js';
import { rateLimitHeaders } from '../throttle/memory-throttle.js';
import { Base64Envelope, envelopePrefix } from './envelope.js';
import { MAX_SKELETON_CHARS, readInvoke } from './invoke-body.js';

const METHODS = new Set(['GET', 'DELETE', 'PATCH', 'POST', 'PUT']);

interface InvokeHead { method: string; url: URL; headers: HeaderList }

function parseInvokeHead(deps: HubDeps, o: Record<string, unknown>, baseResourceUrl: string): InvokeHead {
  const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
  if (!METHODS.has(method)) throw invalid('method must be GET, DELETE, PATCH, POST or PUT');
  if (typeof o.url !== 'string' || o.url === '') throw invalid('url is required');
  if (o.url.length > deps.config.maxUrlLength) throw new GatehouseError('UriTooLong', `caller -> hub: url is over ${deps.config.maxUrlLength} characters`);
  const target = resolveTarget(baseResourceUrl, o.url);
  if (!target.ok) throw new GatehouseError('UrlNotAllowed', `caller -> hub: url is not under the connection's baseResourceUrl (${target.reason})`);
  if (target.url.href.length > deps.config.maxUrlLength) throw new GatehouseError('UriTooLong', `caller -> hub: url is over ${deps.config.maxUrlLength} characters`);
  const headers: HeaderList = [];
  if (o.headers !== undefined && o.headers !== null) {
    if (typeof o.headers !== 'object' || Array.isArray(o.headers)) throw invalid('headers must be an object of strings');
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v !== 'string') throw invalid('headers must be an object of strings');
      if (!isValidHeaderName(k)) throw invalid('headers holds an invalid header name');
      if (!isValidHeaderValue(v)) throw invalid(`header ${k.slice(0, 64)} holds an invalid value`);
      headers.push([k, v]);
    }
  }
  return { method, url: target.url, headers };
}

/** bodyEncoding "base64": the connector's documented behaviour, the service gets the base64 text. */
async function* asBase64Text(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry = Buffer.alloc(0);
  for await (const chunk of source) {
    const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = data.length - (data.length % 3);
    carry = Buffer.from(data.subarray(whole));
    if (whole) yield Buffer.from(data.subarray(0, whole).toString('base64'));
  }
  if (carry.length) yield Buffer.from(carry.toString('base64'));
}

/** A request id given by the caller (if it is a sane token) follows the call to the service. */
function requestIdFrom(ctx: Ctx): string {
  const given = ctx.req.headers['x-request-id'] ?? ctx.req.headers['x-ms-client-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : ctx.requestId;
}

export function invokeRoutes(deps: HubDeps): Route[] {
  return [route('POST', '/v1/connections/{id}/invoke', async (ctx) => {
    const conn = await ownConnection(deps, ctx, ctx.params[0]!);
    const decision = await deps.throttle.take(conn.id);
    for (const [k, v] of Object.entries(rateLimitHeaders(decision))) ctx.res.setHeader(k, v);
    if (!decision.allowed) {
      throw new GatehouseError('TooManyRequests', `Rate limit is exceeded. Try again in ${decision.resetSec} seconds.`, { 'retry-after': String(decision.resetSec) });
    }
    const declared = Number(ctx.req.headers['content-length'] ?? 0);
    if (declared > Math.ceil(deps.config.maxBodyBytes / 3) * 4 + MAX_SKELETON_CHARS) {
      throw new GatehouseError('PayloadTooLarge', `caller -> hub: the body is over the ${deps.config.maxBodyBytes}-byte limit`);
    }
    const type = String(ctx.req.headers['content-type'] ?? '');
    if (type && !/^application\/([a-z.+-]*\+)?json\b/i.test(type)) throw invalid('the body must be application/json');
    const input = await readInvoke(ctx.req, deps.config.maxBodyBytes);
    const inv = parseInvokeHead(deps, input.fields, conn.baseResourceUrl);
    const requestId = requestIdFrom(ctx);

    const gateway = await deps.store.getGateway(conn.gatewayId!);
    const session = gateway && deps.registry.pick(gateway.id, gateway.routing);
    if (!session) throw new GatehouseError('GatewayOffline', `hub -> agent: gateway ${conn.gatewayId} has no online member`);

    const credentials = conn.sealedCredentials ? { scheme: 'basic' as const, sealed: conn.sealedCredentials } : null;
    const asText = conn.bodyEncoding === 'base64';
    const body = input.body && asText ? asBase64Text(input.body) : input.body;
    const bodyLength = input.bodyLength !== null && asText ? Math.ceil(input.bodyLength / 3) * 4 : input.bodyLength;
    const headers = forwardRequestHeaders(inv.headers, { dropCookie: true, drop: credentials ? new Set(['authorization']) : undefined });
    headers.push(['x-request-id', requestId]);
    const head: RequestHeadMessage = { requestId, method: inv.method, url: inv.url.href, headers, bodyLength, timeoutMs: conn.timeoutMs, credentials };
    const log = ctx.log.child({ connection: conn.id, member: session.member.memberId });
    log.info({ method: inv.method, host: inv.url.host }, 'invoke relayed');
    const call = session.open(head);
    const deadline = setTimeout(() => call.cancel('deadline', new GatehouseError('GatewayTimeout', `agent -> service: no complete answer within ${conn.timeoutMs / 1000} s`)), conn.timeoutMs);
    ctx.res.on('close', () => { clearTimeout(deadline); if (!ctx.res.writableFinished) call.cancel('caller disconnected'); });
    // A body that turns out bad while streaming (bad base64, over the limit) cancels the call.
    const bodyFailed = call.sendBody(body).then(() => new Promise<never>(() => {}), (err: unknown) => {
      const e = err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'caller -> hub: the request body broke off');
      call.cancel('request body failed', e);
      throw e;
    });
    bodyFailed.catch(() => {});
    const rh = await Promise.race([call.response, bodyFailed]);
    const out = new Base64Envelope(envelopePrefix(rh.status, headersToObject(forwardResponseHeaders(rh.headers))), deps.config.maxBodyBytes);
    ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': ctx.requestId });
    pipeline(out, ctx.res, (err) => {
      clearTimeout(deadline);
      if (err) {
        log.warn({ err: err.message }, 'response stream ended early');
        call.cancel(err.message);
        ctx.res.destroy();
      }
    });
    call.pipeResponse(out);
  })];
}
