// POST /v1/connections/{id}/invoke (SPEC section 4): validate, throttle, relay through an agent, stream back.
import { pipeline } from 'node:stream';
import {
  GatehouseError, forwardRequestHeaders, forwardResponseHeaders, headersToObject, isValidHeaderName, isValidHeaderValue,
  resolveTarget, type HeaderList, type RequestHeadMessage,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { ownConnection } from '../http/connections.js';
import { invalid, readJson } from '../http/respond.js';
import { route, type Ctx, type Route } from '../http/router.js';
import { rateLimitHeaders } from '../throttle/memory-throttle.js';
import { Base64Envelope, envelopePrefix } from './envelope.js';

const METHODS = new Set(['GET', 'DELETE', 'PATCH', 'POST', 'PUT']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

interface InvokeRequest { method: string; url: URL; headers: HeaderList; body: Buffer | null }

function parseInvoke(deps: HubDeps, o: Record<string, unknown>, baseResourceUrl: string): InvokeRequest {
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
  let body: Buffer | null = null;
  if (o.body !== undefined && o.body !== null) {
    if (typeof o.body !== 'string' || o.body.length % 4 !== 0 || !BASE64.test(o.body)) throw invalid('body must be a base64 string');
    body = Buffer.from(o.body, 'base64');
    if (body.length > deps.config.maxBodyBytes) throw new GatehouseError('PayloadTooLarge', `caller -> hub: the body is over the ${deps.config.maxBodyBytes}-byte limit`);
  }
  return { method, url: target.url, headers, body };
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
    // base64 is 4/3 of the bytes; the JSON around it is small.
    const raw = await readJson(ctx.req, Math.ceil(deps.config.maxBodyBytes / 3) * 4 + 1024 * 1024);
    const inv = parseInvoke(deps, raw, conn.baseResourceUrl);
    delete raw.body; // drop the base64 text as soon as it is decoded
    const requestId = requestIdFrom(ctx);

    const gateway = await deps.store.getGateway(conn.gatewayId!);
    const session = gateway && deps.registry.pick(gateway.id, gateway.routing);
    if (!session) throw new GatehouseError('GatewayOffline', `hub -> agent: gateway ${conn.gatewayId} has no online member`);

    const credentials = conn.sealedCredentials ? { scheme: 'basic' as const, sealed: conn.sealedCredentials } : null;
    const bodyBytes = inv.body && conn.bodyEncoding === 'base64' ? Buffer.from(inv.body.toString('base64')) : inv.body;
    const headers = forwardRequestHeaders(inv.headers, { dropCookie: true, drop: credentials ? new Set(['authorization']) : undefined });
    headers.push(['x-request-id', requestId]);
    const head: RequestHeadMessage = {
      requestId, method: inv.method, url: inv.url.href, headers,
      bodyLength: bodyBytes ? bodyBytes.length : 0, timeoutMs: conn.timeoutMs, credentials,
    };
    const log = ctx.log.child({ connection: conn.id, member: session.member.memberId });
    log.info({ method: inv.method, host: inv.url.host }, 'invoke relayed');
    const call = session.open(head);
    const deadline = setTimeout(() => call.cancel('deadline', new GatehouseError('GatewayTimeout', `agent -> service: no complete answer within ${conn.timeoutMs / 1000} s`)), conn.timeoutMs);
    ctx.res.on('close', () => { clearTimeout(deadline); if (!ctx.res.writableFinished) call.cancel('caller disconnected'); });
    void call.sendBody(bodyBytes && bodyBytes.length ? (async function* () { yield bodyBytes; })() : null);

    const rh = await call.response;
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
