// ANY /v1/connections/{id}/proxy/{path}?{query} (SPEC section 4 ★): the same call as invoke, as plain HTTP.
// Bodies stream both ways under the relay's credit windows; the service's status and headers pass through.
import type { IncomingMessage } from 'node:http';
import { GatehouseError, HUB_TOKEN_HEADER, resolveTarget, type HeaderList } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { admitCall } from '../http/call-caps.js';
import { connectionFor } from '../auth/access.js';
import { writeHeadFromList } from '../http/respond.js';
import type { Ctx, Route } from '../http/router.js';
import type { OperationDoc } from '../http/route-doc.js';
import { rawAnswerHeaders } from './raw-answer.js';
import { startCall, takeThrottle } from './relay.js';

/** Every method Node's parser takes is relayed (WebDAV's PROPFIND, MKCOL, LOCK…, REPORT, QUERY) except these:
 *  CONNECT is a tunnel, not a request; TRACE echoes the request the agent sent, Basic credentials it added included. */
const NOT_RELAYED: ReadonlySet<string> = new Set(['CONNECT', 'TRACE']);
const PATTERN = /^\/v1\/connections\/([A-Za-z0-9_-]{1,64})\/proxy(?:\/.*)?$/;

function headerPairs(raw: string[]): HeaderList {
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!, raw[i + 1]!]);
  return out;
}

/** The request body, counted: over the limit the stream fails with 413 (and the call is cancelled). */
async function* limited(req: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let total = 0;
  try {
    // Not destroyed when the relay stops reading (a service that answered early): the hub drops the rest.
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) throw new GatehouseError('PayloadTooLarge', `caller -> hub: the body is over the raw route's ${limit}-byte limit`);
      yield chunk;
    }
  } catch (err) {
    if (err instanceof GatehouseError) throw err;
    throw new GatehouseError('BadGateway', 'caller -> hub: the caller broke off the request body');
  }
  if (!req.complete) throw new GatehouseError('BadGateway', 'caller -> hub: the caller broke off the request body');
}

/** The caller's Authorization is its hub token (to be dropped) unless the token came in X-Gatehouse-Authorization.
 *  An Authorization (or any header) that holds the caller's token, however spelled, is dropped in any case
 *  (forwardRequestHeaders): it is the caller's Entra token, never the service's credential. */
const hubTokenInAuthorization = (req: IncomingMessage): boolean => req.headers[HUB_TOKEN_HEADER] === undefined;

async function proxy(deps: HubDeps, ctx: Ctx): Promise<void> {
  if (NOT_RELAYED.has(ctx.req.method!)) throw new GatehouseError('InvalidRequest', `caller -> hub: method ${ctx.req.method} is not relayed`);
  ctx.tags.route = 'proxy';
  const { conn } = await connectionFor(deps, ctx, ctx.params[0]!, 'use');
  ctx.tags.authType = conn.authType;
  admitCall(deps, ctx, conn);
  await takeThrottle(deps, ctx, conn);
  const raw = ctx.req.url ?? '';
  const prefix = `/v1/connections/${conn.id}/proxy`;
  const rest = raw.slice(prefix.length);
  // "/proxy" or "/proxy?q" is the base itself; "/proxy/a/b?q" is under it, whatever its first segment looks like
  // (joined here, not by joinUrl, which would take "urn:x/…" or "name:value/…" for an absolute URL of its own).
  const target = rest === '' || rest.startsWith('?') ? `${conn.baseResourceUrl}${rest}` : `${conn.baseResourceUrl}/${rest.replace(/^\/+/, '')}`;
  const url = resolveTarget(conn.baseResourceUrl, target);
  if (!url.ok) throw new GatehouseError('UrlNotAllowed', `caller -> hub: the path is not under the connection's baseResourceUrl (${url.reason})`);
  if (url.url.href.length > deps.config.maxUrlLength)
    throw new GatehouseError('UriTooLong', `caller -> hub: the target URL is over ${deps.config.maxUrlLength} characters`);

  const chunked = ctx.req.headers['transfer-encoding'] !== undefined;
  const declared = ctx.req.headers['content-length'] === undefined ? 0 : Number(ctx.req.headers['content-length']);
  if (!chunked && declared > deps.config.maxRawBodyBytes) {
    throw new GatehouseError('PayloadTooLarge', `caller -> hub: the body is over the raw route's ${deps.config.maxRawBodyBytes}-byte limit`);
  }
  const bodyLength = chunked ? null : declared;
  const call = await startCall(
    deps,
    ctx,
    conn,
    {
      method: ctx.req.method!,
      url: url.url,
      headers: headerPairs(ctx.req.rawHeaders),
      body: bodyLength === 0 ? null : limited(ctx.req, deps.config.maxRawBodyBytes),
      bodyLength,
      replayBody: bodyLength === 0 ? () => null : undefined,
      dropAuthorization: hubTokenInAuthorization(ctx.req),
    },
    { wholeCall: false, idleMs: deps.config.idleTimeoutMs, maxResponseBytes: deps.config.maxRawBodyBytes },
  );
  // The headers the hub has set (x-request-id, RateLimit-*) are the hub's answer about this call: a service's
  // own of the same name would replace them, so those are not passed; nor is any x-gatehouse-* (rawAnswerHeaders).
  // (An agent's head was checked as it arrived, agents/relay-call.ts: a final status, headers HTTP allows, the
  // hub's own Content-Length. Should writing still fail, the call is cancelled at once and the caller gets a 502.)
  let head: HeaderList;
  try {
    head = rawAnswerHeaders(ctx.req.method!, call.head.status, call.head.headers, conn.authType !== 'EntraAuth', deps.config.maxRawBodyBytes);
  } catch (err) {
    call.cancel("the answer is over the raw route's body limit");
    call.settle();
    throw err;
  }
  try {
    writeHeadFromList(
      ctx.res,
      call.head.status,
      head.filter(([k]) => !ctx.res.hasHeader(k)),
    );
  } catch {
    call.cancel('the answer could not be written');
    throw new GatehouseError('BadGateway', "hub -> caller: the answer's head could not be written");
  }
  ctx.res.once('finish', call.settle);
  // A body that has already arrived whole leaves with the head in one write; anything else streams.
  const whole = call.takeCompleteBody?.();
  if (whole) ctx.res.end(whole);
  else call.pipeResponse(ctx.res);
}

/** How GET /openapi.json describes the raw route (every method but CONNECT and TRACE is relayed; these are listed). */
const PROXY_DOC: OperationDoc = {
  operationId: 'proxy',
  summary: 'Call the service through a connection as plain HTTP',
  description:
    "The raw route: {path} and the query are appended to the connection's baseResourceUrl; the request and answer bytes stream both ways and " +
    "the service's status and headers pass through. Any method but CONNECT and TRACE is relayed (WebDAV's among them); the common ones are listed. " +
    'Hub-side failures answer the error body with an x-gatehouse-error header. The hub token may come in X-Gatehouse-Authorization, leaving Authorization to the service.',
  tag: 'Relay',
  params: { id: 'The connection.', path: "The rest of the target URL under the connection's baseResourceUrl (may be empty)." },
  ok: { status: 200, description: "The service's answer: its own status (any), headers and body, as they are." },
  errors: [
    'InvalidRequest',
    'UrlNotAllowed',
    'Forbidden',
    'ConsentRequired',
    'NotFound',
    'PayloadTooLarge',
    'UriTooLong',
    'GatewayOffline',
    'BackendUnreachable',
    'BadGateway',
    'ServiceUnavailable',
    'GatewayTimeout',
  ],
  throttled: true,
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
};

export function proxyRoutes(deps: HubDeps): Route[] {
  return [{ method: '*', path: '/v1/connections/{id}/proxy/{path}', pattern: PATTERN, handler: (ctx: Ctx) => proxy(deps, ctx), doc: PROXY_DOC }];
}
