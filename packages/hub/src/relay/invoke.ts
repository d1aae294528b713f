// POST /v1/connections/{id}/invoke (SPEC section 4): validate, throttle, relay through an agent, answer (whole up to 1 MiB, else streamed).
import { Buffer } from 'node:buffer';
import { PassThrough, pipeline } from 'node:stream';
import {
  GatehouseError,
  forwardResponseHeaders,
  headersToObject,
  isValidHeaderName,
  isValidHeaderValue,
  joinChunks,
  resolveTarget,
  type HeaderList,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { admitCall } from '../http/call-caps.js';
import { connectionFor } from '../auth/access.js';
import { invalid, requireJson } from '../http/respond.js';
import { route, type Route } from '../http/router.js';
import type { OperationDoc } from '../http/route-doc.js';
import { callerWentAway } from './call-watch.js';
import { startCall, takeThrottle, type StartedCall } from './relay.js';
import { Base64Envelope, envelopePrefix } from './envelope.js';
import { MAX_SKELETON_CHARS, SMALL_BODY_BYTES, readInvoke, type HeldShare } from './invoke-body.js';

/** Answers up to this size are read whole before the envelope is written (as request bodies are). */
const WHOLE_ANSWER_BYTES = SMALL_BODY_BYTES;

const METHODS = new Set(['GET', 'DELETE', 'PATCH', 'POST', 'PUT']);

/** The length of `bytes` bytes as base64 text (padded). */
const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

interface InvokeHead {
  method: string;
  url: URL;
  headers: HeaderList;
}

function parseInvokeHead(deps: HubDeps, o: Record<string, unknown>, baseResourceUrl: string): InvokeHead {
  const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
  if (!METHODS.has(method)) throw invalid('method must be GET, DELETE, PATCH, POST or PUT');
  if (typeof o.url !== 'string' || o.url === '') throw invalid('url is required');
  if (o.url.length > deps.config.maxUrlLength) throw new GatehouseError('UriTooLong', `caller -> hub: url is over ${deps.config.maxUrlLength} characters`);
  const target = resolveTarget(baseResourceUrl, o.url);
  if (!target.ok) throw new GatehouseError('UrlNotAllowed', `caller -> hub: url is not under the connection's baseResourceUrl (${target.reason})`);
  if (target.url.href.length > deps.config.maxUrlLength)
    throw new GatehouseError('UriTooLong', `caller -> hub: url is over ${deps.config.maxUrlLength} characters`);
  const headers: HeaderList = [];
  if (o.headers !== undefined && o.headers !== null) {
    if (typeof o.headers !== 'object' || Array.isArray(o.headers)) throw invalid('headers must be an object of strings');
    for (const [k, v] of Object.entries(o.headers)) {
      if (typeof v !== 'string') throw invalid('headers must be an object of strings');
      if (!isValidHeaderName(k)) throw invalid('headers holds an invalid header name');
      if (k === '__proto__') throw invalid('headers holds a header named __proto__, which the relay does not accept');
      if (!isValidHeaderValue(v)) throw invalid(`header ${k.slice(0, 64)} holds an invalid value (Latin-1 text without control characters only)`);
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

/**
 * The Content-Length a caller gives in `headers`, or null. It matters only for a body that streams (over 1 MiB,
 * or one the hub has no room to hold): the service then gets it instead of `Transfer-Encoding: chunked`, which some
 * services refuse (411 Length Required). A body read whole is sent with its own length whatever `headers` say.
 */
function promisedLength(headers: HeaderList, limit: number): number | null {
  let promised: string | undefined;
  for (const [k, v] of headers) {
    if (k.toLowerCase() !== 'content-length') continue;
    if (promised !== undefined && v.trim() !== promised) throw invalid('headers give Content-Length twice, with different values');
    promised = v.trim();
  }
  if (promised === undefined) return null;
  if (!/^\d{1,15}$/.test(promised)) throw invalid('header Content-Length must be a whole number of bytes');
  const n = Number(promised);
  if (n > limit) throw new GatehouseError('PayloadTooLarge', `caller -> hub: header Content-Length gives more than the ${limit}-byte limit`);
  return n;
}

/** A streamed body held to the length promised for it: more or fewer bytes fail the call (400) before the
 *  service has a complete request (the hub never sends the excess, nor the end of a short body). */
async function* exactly(source: AsyncIterable<Buffer>, promised: number): AsyncGenerator<Buffer> {
  let sent = 0;
  for await (const chunk of source) {
    sent += chunk.length;
    if (sent > promised) throw invalid(`the body is longer than the ${promised} bytes its Content-Length header gives`);
    yield chunk;
  }
  if (sent < promised) throw invalid(`the body is ${sent} bytes, shorter than the ${promised} its Content-Length header gives`);
}

/**
 * The service's answer: whole (a Buffer) when it is at most WHOLE_ANSWER_BYTES and the hub may hold it
 * (GATEHOUSE_MAX_HELD_BODIES), else its bytes as they come. Read whole, an answer the service breaks off (or the
 * agent's connection lost on the way) is a coded error the caller gets instead of the envelope's 200.
 */
async function readAnswer(call: StartedCall, held: HeldShare): Promise<Buffer | AsyncIterable<Buffer>> {
  const complete = call.takeCompleteBody?.();
  if (complete) return complete;
  const through = new PassThrough({ highWaterMark: 64 * 1024 });
  call.pipeResponse(through);
  const it = through[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let bytes = 0;
  for (;;) {
    const r = await it.next();
    if (r.done) return joinChunks(parts, bytes);
    parts.push(r.value);
    bytes += r.value.length;
    if (bytes > WHOLE_ANSWER_BYTES || !held.tryTake(r.value.length)) {
      return (async function* () {
        yield* parts.splice(0);
        for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
      })();
    }
  }
}

/** How GET /openapi.json describes the invoke route. */
const INVOKE_DOC: OperationDoc = {
  operationId: 'invoke',
  summary: 'Invoke an HTTP request',
  description:
    "The connector's action: the hub (EntraAuth, with an On-Behalf-Of token) or the gateway's agent calls the service and answers its status, " +
    "headers and body (base64) in a 200 whatever the service's status. A 202 with Location is returned as is, not polled. " +
    "Timeout: the connection's (default 120 s), then 504 GatewayTimeout.",
  tag: 'Relay',
  params: { id: 'The connection.' },
  body: 'InvokeRequest',
  ok: { status: 200, description: "The service's answer.", schema: 'InvokeResponse' },
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
};

export function invokeRoutes(deps: HubDeps): Route[] {
  return [
    route('POST', '/v1/connections/{id}/invoke', INVOKE_DOC, async (ctx) => {
      ctx.tags.route = 'invoke';
      const { conn } = await connectionFor(deps, ctx, ctx.params[0]!, 'use');
      ctx.tags.authType = conn.authType;
      admitCall(deps, ctx, conn);
      await takeThrottle(deps, ctx, conn);
      const declared = Number(ctx.req.headers['content-length'] ?? 0);
      if (declared > base64Length(deps.config.maxBodyBytes) + MAX_SKELETON_CHARS) {
        throw new GatehouseError('PayloadTooLarge', `caller -> hub: the body is over the ${deps.config.maxBodyBytes}-byte limit`);
      }
      requireJson(ctx.req);
      const caller = ctx.tags.caller;
      const held = deps.heldBodies.share({
        tenant: caller?.tid,
        caller: caller && `${caller.tid}/${caller.oid}`,
        gateway: conn.gatewayId ?? undefined,
        connection: conn.id,
      });
      ctx.res.once('close', held.release);
      const input = await readInvoke(ctx.req, deps.config.maxBodyBytes, deps.config.idleTimeoutMs, held, deps.config.heldBodyTimeoutMs);
      const inv = parseInvokeHead(deps, input.fields, conn.baseResourceUrl);
      const asText = conn.bodyEncoding === 'base64';
      // Counted in the bytes the service gets (with bodyEncoding base64, the text).
      const promised = promisedLength(inv.headers, asText ? base64Length(deps.config.maxBodyBytes) : deps.config.maxBodyBytes);
      let body = input.body && asText ? asBase64Text(input.body) : input.body;
      let bodyLength = input.bodyLength !== null && asText ? base64Length(input.bodyLength) : input.bodyLength;
      if (bodyLength === null && body && promised !== null) {
        body = exactly(body, promised);
        bodyLength = promised;
      }
      const call = await startCall(
        deps,
        ctx,
        conn,
        {
          method: inv.method,
          url: inv.url,
          headers: inv.headers,
          body,
          bodyLength,
          replayBody:
            input.replay &&
            (() => {
              const b = input.replay!();
              return b && asText ? asBase64Text(b) : b;
            }),
        },
        { wholeCall: true, idleMs: deps.config.idleTimeoutMs, maxResponseBytes: deps.config.maxBodyBytes },
      );
      const prefix = envelopePrefix(call.head.status, headersToObject(forwardResponseHeaders(call.head.headers)));
      const answer = await readAnswer(call, held);
      if (Buffer.isBuffer(answer)) {
        // The whole answer (a small one, or one already complete with its head): one write, no stream machinery.
        const envelope = Buffer.concat([prefix, Buffer.from(`${answer.toString('base64')}"}`)]);
        ctx.res.once('finish', call.settle);
        ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': envelope.length, 'x-request-id': ctx.requestId });
        ctx.res.end(envelope);
        return;
      }
      // A large answer streams: once its 200 has left, a service that breaks off can only cut the caller's answer off.
      const out = new Base64Envelope(prefix);
      // Each part of a call watches its answer's close (front door, rate floor, call caps, call watch, held share),
      // and pipeline adds its own: 11 in all, over Node's default 10, which wrote a MaxListenersExceededWarning to
      // stderr for every streamed answer (a bounded number per call, not a leak).
      ctx.res.setMaxListeners(20);
      ctx.res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': ctx.requestId });
      pipeline(answer, out, ctx.res, (err) => {
        call.settle();
        if (err) {
          // The caller closed its connection mid-answer: normal, not worth a warning per call (red team session 15).
          // Node 20 and Node 24 name it differently (callerWentAway).
          if (callerWentAway(err)) call.logger().debug('caller went away');
          else call.logger().warn({ err: err.message }, 'response stream ended early');
          call.cancel(err.message);
          ctx.res.destroy();
        }
      });
    }),
  ];
}
