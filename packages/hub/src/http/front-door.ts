// The hub's HTTP server and what every request goes through before its route: a request id, the refusal of
// transfer codings it cannot read, the URL's length and Host checks, /healthz, /readyz and /metrics, the route
// table, and one coded answer for whatever a route throws. Also the server-level refusals: malformed heads
// (http/client-error.ts) and CONNECT. The agents' WebSocket upgrade is agents/upgrade-server.ts.
// Runs for every call: what it allocates per request is the request's own state and nothing more.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConnectionsPerAddress } from './address-connections.js';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { GatehouseError, chunkedOnly } from '@gatehouse/shared';
import type { HubConfig } from '../config.js';
import { LineBudget, type AccessLine, type Logger } from '../log.js';
import type { HubMetrics } from '../metrics.js';
import type { BodyRateGuard } from './body-rate.js';
import { answerClientError, type ParserError } from './client-error.js';
import type { HealthAnswer } from './health.js';
import type { InFlight } from './in-flight.js';
import { closeAfterAnswer, drainUnreadBody, sendError, writeErrorToSocket } from './respond.js';
import { RequestCtx, match, type Ctx, type Route } from './router.js';

export interface FrontDoorOptions {
  config: Readonly<HubConfig>;
  log: Logger;
  access: AccessLine;
  metrics: HubMetrics;
  /** Tried in order for every request (no two match the same path). */
  routes: readonly Route[];
  health: HealthAnswer;
  inFlight: InFlight;
  /** A body arriving under GATEHOUSE_MIN_BODY_RATE: 408 and the connection closed (http/body-rate.ts). */
  bodyRate: BodyRateGuard;
}

/** The hub's HTTP server, not yet listening. */
export function createFrontDoor(o: FrontDoorOptions): Server {
  const { config, log, access, metrics, routes, health, inFlight, bodyRate } = o;
  // Responses being written per connection: a parser error on a busy connection closes it without an answer.
  const answering = new WeakMap<object, number>();
  // Lines anyone can cause per request are bounded in rate (log.ts LineBudget).
  const failures = new LineBudget(log, 'call failed');
  // Connections whose request was refused for a transfer coding it cannot be read with (closing after the answer).
  const unframed = new WeakSet<object>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    const started = performance.now();
    const tags: Ctx['tags'] = {};
    // The request's logger is made on first use (most calls log once, at the end, if at all), and made again
    // once the caller is known, so every line after the token check names who acted (tid, oid).
    let child: Logger | undefined;
    let childNamesCaller = false;
    const rlog = () => {
      if (!child || (tags.caller && !childNamesCaller)) {
        childNamesCaller = tags.caller !== undefined;
        child = log.child(tags.caller ? { requestId, tid: tags.caller.tid, oid: tags.caller.oid } : { requestId });
      }
      return child;
    };
    inFlight.enter();
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    if (inFlight.stopping) res.setHeader('connection', 'close');
    res.once('finish', () => drainUnreadBody(req));
    res.once('close', () => {
      answering.set(socket, answering.get(socket)! - 1);
      inFlight.leave();
      if (tags.route) metrics.requests.of(tags.route, tags.authType ?? 'unknown', res.writableFinished ? String(res.statusCode) : 'aborted').inc();
    });
    res.setHeader('x-request-id', requestId);
    bodyRate.watch(req, res, requestId);
    // An absolute-form target (GET http://hub/v1/…), which RFC 9112 3.2.2 says a server must accept: the
    // routes, the raw route's path included, work on its path and query.
    if (req.url && req.url.charCodeAt(0) !== 0x2f) req.url = originForm(req.url);
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    // Refused here, synchronously: with a coding other than chunked last Node's parser fails on the body's first
    // bytes right after this, and the answer must be out by then (it closed the connection without a word).
    if (req.headers['transfer-encoding'] !== undefined && !chunkedOnly(req.headers['transfer-encoding'])) {
      unframed.add(socket);
      closeAfterAnswer(req, res);
      sendError(
        res,
        new GatehouseError(
          'InvalidRequest',
          'caller -> hub: a request body must come plain or chunked; other transfer codings (Transfer-Encoding: gzip and the like) are not supported',
        ),
        requestId,
      );
      return;
    }
    void (async () => {
      if (url.length > config.maxUrlLength) throw new GatehouseError('UriTooLong', `caller -> hub: the request URL is over ${config.maxUrlLength} characters`);
      // Node's own check (requireHostHeader) answered a bare 400 without a word; RFC 9112 3.2 asks for the 400.
      // The request is malformed: answer, then close the connection (it was closed by the idle timer within 5 s until
      // GATEHOUSE_KEEP_ALIVE_TIMEOUT made that 75 s; a client this broken should not keep a socket).
      if (req.headers.host === undefined && req.httpVersion === '1.1') {
        res.shouldKeepAlive = false;
        throw new GatehouseError('InvalidRequest', 'caller -> hub: an HTTP/1.1 request must carry a Host header');
      }
      const answered = health(req, path, res);
      if (answered !== undefined) return await answered;
      const m = match(routes, req.method ?? '', path);
      if (m === undefined) throw new GatehouseError('NotFound', 'caller -> hub: no such route');
      if (m === 'method') throw new GatehouseError('InvalidRequest', `caller -> hub: method ${req.method} is not allowed on this route`);
      await m.route.handler(new RequestCtx(req, res, requestId, m.params, started, tags, rlog, access, socket.remoteAddress));
    })().catch((err: unknown) => {
      // Cut off for a slow body: answered already; what fails now is the route noticing the caller is gone.
      if (bodyRate.wasCut(req)) {
        if (!res.writableFinished) res.destroy();
        return;
      }
      // The caller went away (mid-body or before its answer was out): normal, not a fault. One debug line without
      // a stack; it was an error line with a stack per call, which a caller could flood (red team session 15).
      if (socket.destroyed && !res.writableFinished) {
        rlog().debug({ why: err instanceof GatehouseError ? err.code : 'caller gone' }, 'caller went away');
        res.destroy();
        return;
      }
      if (err instanceof GatehouseError) {
        // Before the caller is known (Entra ID's keys unavailable, /readyz while the database is down) anyone can
        // cause these, one per request: budgeted. A known caller's failures are its calls' (bounded by its throttle).
        if (err.status >= 500 && (tags.caller !== undefined || failures.allow())) rlog().warn({ code: err.code, why: err.message }, 'call failed');
        // The rest of an unread request body is not wanted: close after the answer (lingering, so it arrives).
        if (!req.complete && !res.headersSent) closeAfterAnswer(req, res);
        sendError(res, err, requestId);
      } else {
        rlog().error({ err }, 'unexpected fault');
        sendError(res, new GatehouseError('InternalError', 'hub: unexpected fault'), requestId);
      }
    });
  };
  // The head must arrive within GATEHOUSE_HEAD_TIMEOUT, checked every second (Node's default check, every 30 s,
  // let a trickled head live up to 30 s past its limit). No whole-request timeout: a raw-route upload may take
  // hours; a body is held to GATEHOUSE_MIN_BODY_RATE instead.
  // An idle connection is kept GATEHOUSE_KEEP_ALIVE_TIMEOUT (75 s). It was Node's 5 s: a caller whose event loop
  // was busy for over 5 s between two calls (building or reading a 64 MiB body under load) still took its idle
  // connection for live, as its own idle timer (3 s, from the 5 s hint) had not run, and sent its next request onto
  // a socket the hub had just closed: "other side closed", or EPIPE for a body, with nothing the hub could answer.
  // A load balancer in front pools connections the same way, for up to its own idle timeout (often 60 s).
  const server = createServer(
    {
      requireHostHeader: false,
      requestTimeout: 0,
      headersTimeout: config.headTimeoutMs,
      connectionsCheckingInterval: HEAD_CHECK_MS,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      maxHeaderSize: config.maxHeaderBytes,
    },
    onRequest,
  );
  // Node's default keeps the first ~1,000 header lines and drops the rest without a word (an Authorization
  // among them). The head's bytes are bounded by maxHeaderSize; the relay refuses over Limits.maxHeaderLines.
  server.maxHeadersCount = 0;
  // Connections per client address (http/address-connections.ts): counted before anything else sees them, let go
  // when one becomes an agent's tunnel (agents/agent-upgrade.ts: tunnelled).
  const perAddress = new ConnectionsPerAddress(config.maxConnectionsPerAddress, config.trustedProxies);
  server.prependListener('connection', (socket: Socket) => perAddress.admit(socket));
  // Node would answer an Expect other than 100-continue with a bare 417; RFC 9110 10.1.1 lets a server ignore
  // it, and the relay never passes Expect on, so the request is served like any other.
  server.on('checkExpectation', onRequest);
  const parserRefusals = new LineBudget(log, 'request refused by the HTTP parser');
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // The refusal is out; the lingering close reads and drops the rest, so the caller gets to read it.
    if (unframed.has(socket)) {
      socket.resume();
      return;
    }
    answerClientError(err, socket, (answering.get(socket) ?? 0) > 0, config, log, parserRefusals);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    writeErrorToSocket(socket, new GatehouseError('InvalidRequest', 'caller -> hub: CONNECT is not supported (the hub is not a forward proxy)'), randomUUID());
  });
  return server;
}

/** How often Node checks request heads against GATEHOUSE_HEAD_TIMEOUT. */
const HEAD_CHECK_MS = 1_000;

/** `http://host:port/path?q` -> `/path?q`; anything else (the asterisk form) as it is. */
function originForm(target: string): string {
  const rest = /^https?:\/\/[^/?#]*(.*)$/i.exec(target)?.[1];
  if (rest === undefined) return target;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The call's request id: the caller's own (x-request-id or x-ms-client-request-id) if it is a sane token, so
 *  one id names the call in the caller's records, the hub's and agent's logs, the service's request and every
 *  answer; otherwise a new one. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'] ?? req.headers['x-ms-client-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}
