// createHub(config, deps): builds the whole hub without listening; start() listens, stop() drains.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { AGENT_CONNECT_PATH, CloseCode, GatehouseError, HUB_TOKEN_HEADER, Limits, chunkedOnly } from '@gatehouse/shared';
import type { HubConfig } from './config.js';
import { accessLogger, createLogger, type Logger } from './log.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { withReadCache } from './store/read-cache.js';
import { AgentRegistry } from './agents/registry.js';
import { acceptAgent } from './agents/agent-upgrade.js';
import { AgentAuthGuard } from './agents/auth-guard.js';
import { PendingHellos } from './agents/pending-hellos.js';
import { syncMembers } from './agents/member-sync.js';
import { AuthFailure, createCallerAuth, openIdKeySource, unauthorized, type Caller, type KeySource } from './auth/caller-auth.js';
import { createMemoryThrottle, type Throttle } from './throttle/memory-throttle.js';
import type { HubDeps } from './deps.js';
import { RequestCtx, match, type Ctx, type Route } from './http/router.js';
import { closeAfterAnswer, drainUnreadBody, sendError, sendJson, writeErrorToSocket } from './http/respond.js';
import { refuseUpgrade, serveWithoutUpgrade } from './http/upgrade-offer.js';
import { answerClientError, type ParserError } from './http/client-error.js';
import { gatewayRoutes } from './http/gateways.js';
import { connectionRoutes } from './http/connections.js';
import { invokeRoutes } from './relay/invoke.js';
import { proxyRoutes } from './relay/proxy.js';
import { HeldBodies } from './relay/invoke-body.js';
import { DirectNetworks } from './relay/direct-networks.js';
import { createHubMetrics } from './metrics.js';
import { createOboClient, type OboClient } from './auth/obo.js';
import { localPresence, redisPresence } from './cluster/presence.js';
import { relayRoutes } from './cluster/hub-relay.js';
import { connectRedis } from './cluster/redis.js';
import { startHubDirectory } from './cluster/hubs.js';
import { createRedisThrottle } from './throttle/redis-throttle.js';
import { BodyRateGuard } from './http/body-rate.js';
import { CallCaps } from './http/call-caps.js';
import { Agent as UndiciAgent } from 'undici';

export interface HubOptions {
  log?: Logger;
  store?: Store;
  keySource?: KeySource;
  throttle?: Throttle;
  now?: () => Date;
  obo?: OboClient;
}

export interface Hub {
  server: Server;
  deps: HubDeps;
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/** A request's caller, once its token is checked. On the request rather than in a WeakMap keyed by it: a
 *  WeakMap entry per request kept requests alive through V8's young collections (a bare HTTP server that set
 *  one per request: young collections of 3.5 ms instead of 0.3, a fifth fewer requests a second; see
 *  RequestCtx and docs/performance.md, session 10). */
const CALLER = Symbol('caller');

export async function createHub(config: Readonly<HubConfig>, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? createLogger(config.logLevel);
  const access = accessLogger(log);
  const storeItself = opts.store ?? await openStore(config.database, { waitMs: config.databaseWaitMs, log });
  const store = withReadCache(storeItself, 2000);
  const registry = new AgentRegistry();
  const authenticate = createCallerAuth(opts.keySource ?? openIdKeySource(config.authorityHost, { cooldownMs: config.jwksCooldownMs }), {
    audiences: [config.clientId, config.appIdUri], scope: config.scope, allowedTenants: config.allowedTenants, clockToleranceSec: 300,
  });
  const metrics = createHubMetrics(() => registry.all().filter((s) => s.isOpen).length, () => registry.streamsOpen());
  const audiences = [config.clientId, config.appIdUri];
  const obo = opts.obo ?? createOboClient({
    authorityHost: config.authorityHost, clientId: config.clientId, clientSecret: config.clientSecret,
    clientCertificate: config.clientCertificate, audiences, log,
  });
  const httpClient = (maxHeaderSize: number, lookup?: DirectNetworks['lookup']) =>
    new UndiciAgent({ connect: { timeout: 10_000, ...(lookup ? { lookup } : {}) }, keepAliveTimeout: 4_000, maxHeaderSize });
  // EntraAuth calls connect only to addresses the hub may call; relays to other hubs go to their advertise URLs.
  const directNetworks = new DirectNetworks(config.entraAllowNetworks);
  const dispatcher = httpClient(Limits.maxResponseHeadBytes, directNetworks.lookup);
  const hubDispatcher = httpClient(Limits.maxResponseHeadBytes + 1024);
  const hubId = randomUUID();
  // Several hubs share throttling and agent presence through Redis; a single hub keeps both in memory.
  const redis = config.redisUrl ? await connectRedis(config.redisUrl, log) : undefined;
  const presence = redis ? redisPresence(redis, registry, hubId, config.advertiseUrl!, log) : localPresence(registry, hubId);
  const hubs = redis ? await startHubDirectory(redis, hubId, config.agentAdvertiseUrl, config.clusterSecret!, log, (msg) => { for (const s of registry.all()) s.tellHubs(msg); }) : undefined;
  const deps: HubDeps = {
    config, log, store, registry, authenticate, metrics, obo, dispatcher, hubDispatcher, presence, hubs, heldBodies: new HeldBodies(config.maxHeldBodyBytes), directNetworks,
    callCaps: new CallCaps({ perConnection: config.maxCallsPerConnection, perCaller: config.maxCallsPerCaller, perGateway: config.maxCallsPerGateway }),
    throttle: opts.throttle ?? (redis ? createRedisThrottle(redis, config.throttle.limit, config.throttle.periodMs) : createMemoryThrottle(config.throttle.limit, config.throttle.periodMs)),
    now: opts.now ?? (() => new Date()),
    agentAuth: new AgentAuthGuard({ perAddress: config.agent.authFailuresPerAddress, perMember: config.agent.authFailuresPerMember }, log),
    caller(ctx) {
      // One answer per request: routes that need the caller twice (EntraAuth: ownership, then On-Behalf-Of)
      // do not validate the token twice.
      // Kept on the request itself, not in a WeakMap: see CALLER.
      const req = ctx.req as IncomingMessage & { [CALLER]?: Promise<Caller> };
      return req[CALLER] ??= identify(ctx);
    },
  };

  async function identify(ctx: Ctx): Promise<Caller> {
    // X-Gatehouse-Authorization, when given, is the caller's token; Authorization is then the service's.
    const given = ctx.req.headers[HUB_TOKEN_HEADER];
    const auth = typeof given === 'string' ? given : ctx.req.headers.authorization;
    try {
      const caller = await authenticate(auth);
      ctx.tags.caller = { tid: caller.tid, oid: caller.oid };
      return caller;
    } catch (err) {
      if (err instanceof AuthFailure) {
        ctx.log.info({ why: err.reason }, 'caller refused');
        throw unauthorized(auth !== undefined);
      }
      if (err instanceof GatehouseError) throw err;
      ctx.log.error({ err: (err as Error).message }, 'cannot validate tokens: signing keys unavailable');
      throw new GatehouseError('ServiceUnavailable', 'hub -> Entra ID: signing keys are unavailable, try again shortly');
    }
  }

  // Several hubs: a member disabled or removed through another hub stops serving here too (read past the
  // cache). A single hub applies such changes in the routes that make them.
  const stopMemberSync = redis ? syncMembers({ store: storeItself, registry, presence, log }) : () => {};
  let stopping = false;
  // Requests being answered (not agents' WebSockets): stop() lets them finish.
  let active = 0;
  let onIdle: (() => void) | undefined;
  // The relayed calls' routes first: every request tries the patterns in order (no two match the same path), and
  // these are nearly all of a busy hub's requests.
  const routes: Route[] = [...proxyRoutes(deps), ...invokeRoutes(deps), ...(redis ? relayRoutes(deps) : []), ...connectionRoutes(deps), ...gatewayRoutes(deps)];

  // A body arriving under GATEHOUSE_MIN_BODY_RATE: 408 and the connection closed (http/body-rate.ts).
  const bodyRate = new BodyRateGuard({ minBytesPerSec: config.minBodyRate, graceMs: config.bodyRateGraceMs }, log);

  // Responses being written per connection: a parser error on a busy connection closes it without an answer.
  const answering = new WeakMap<object, number>();
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
    active++;
    const socket = req.socket;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    if (stopping) res.setHeader('connection', 'close');
    res.once('finish', () => drainUnreadBody(req));
    res.once('close', () => {
      answering.set(socket, answering.get(socket)! - 1);
      if (--active === 0) onIdle?.();
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
      sendError(res, new GatehouseError('InvalidRequest', 'caller -> hub: a request body must come plain or chunked; other transfer codings (Transfer-Encoding: gzip and the like) are not supported'), requestId);
      return;
    }
    void (async () => {
      if (url.length > config.maxUrlLength) throw new GatehouseError('UriTooLong', `caller -> hub: the request URL is over ${config.maxUrlLength} characters`);
      // Node's own check (requireHostHeader) answered a bare 400 without a word; RFC 9112 3.2 asks for the 400.
      if (req.headers.host === undefined && req.httpVersion === '1.1') throw new GatehouseError('InvalidRequest', 'caller -> hub: an HTTP/1.1 request must carry a Host header');
      if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (req.method === 'GET' && path === '/readyz') {
        if (stopping) throw new GatehouseError('ServiceUnavailable', 'hub: shutting down');
        try { await store.ping(); } catch { throw new GatehouseError('ServiceUnavailable', 'hub -> store: the database is unreachable'); }
        if (redis) {
          try { await redis.ping(); } catch { throw new GatehouseError('ServiceUnavailable', 'hub -> Redis: shared state is unreachable'); }
        }
        return sendJson(res, 200, { status: 'ready' });
      }
      if (req.method === 'GET' && path === '/metrics') {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
        return;
      }
      const m = match(routes, req.method ?? '', path);
      if (m === undefined) throw new GatehouseError('NotFound', 'caller -> hub: no such route');
      if (m === 'method') throw new GatehouseError('InvalidRequest', `caller -> hub: method ${req.method} is not allowed on this route`);
      await m.route.handler(new RequestCtx(req, res, requestId, m.params, started, tags, rlog, access, socket.remoteAddress));
    })().catch((err: unknown) => {
      // Cut off for a slow body: answered already; what fails now is the route noticing the caller is gone.
      if (bodyRate.wasCut(req)) { if (!res.writableFinished) res.destroy(); return; }
      if (err instanceof GatehouseError) {
        if (err.status >= 500) rlog().warn({ code: err.code, why: err.message }, 'call failed');
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
  const server = createServer({
    requireHostHeader: false, requestTimeout: 0, headersTimeout: config.headTimeoutMs, connectionsCheckingInterval: HEAD_CHECK_MS,
    keepAliveTimeout: 5_000, maxHeaderSize: config.maxHeaderBytes,
  }, onRequest);
  // Node's default keeps the first ~1,000 header lines and drops the rest without a word (an Authorization
  // among them). The head's bytes are bounded by maxHeaderSize; the relay refuses over Limits.maxHeaderLines.
  server.maxHeadersCount = 0;
  // Node would answer an Expect other than 100-continue with a bare 417; RFC 9110 10.1.1 lets a server ignore
  // it, and the relay never passes Expect on, so the request is served like any other.
  server.on('checkExpectation', onRequest);
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // The refusal is out; the lingering close reads and drops the rest, so the caller gets to read it.
    if (unframed.has(socket)) { socket.resume(); return; }
    answerClientError(err, socket, (answering.get(socket) ?? 0) > 0, config, log);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    writeErrorToSocket(socket, new GatehouseError('InvalidRequest', 'caller -> hub: CONNECT is not supported (the hub is not a forward proxy)'), randomUUID());
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: Limits.maxFrameBytes, perMessageDeflate: false });
  const pendingHellos = new PendingHellos(config.agent.pendingPerMember, config.agent.pendingTotal);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') { serveWithoutUpgrade(server, req, socket, head); return; }
    socket.on('error', () => socket.destroy());
    void handleUpgrade(req, socket, head).catch((err: unknown) => {
      const requestId = randomUUID();
      log.error({ err, requestId }, 'agent upgrade fault');
      if (socket.writable) writeErrorToSocket(socket, new GatehouseError('InternalError', 'hub: the agent connection could not be accepted'), requestId);
    });
  });

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if ((req.url ?? '').split('?')[0] !== AGENT_CONNECT_PATH) {
      return refuseUpgrade(socket, new GatehouseError('InvalidRequest', `caller -> hub: WebSocket upgrades are not relayed (only agents connect with one, at ${AGENT_CONNECT_PATH})`));
    }
    if (stopping) return writeErrorToSocket(socket, new GatehouseError('ServiceUnavailable', 'hub: shutting down'), randomUUID());
    await acceptAgent(deps, wss, pendingHellos, req, socket, head);
  }

  return {
    server,
    deps,
    start: () => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => {
        server.off('error', reject);
        const a = server.address();
        const addr = typeof a === 'object' && a ? { host: a.address, port: a.port } : config.listen;
        log.info(addr, 'hub listening');
        resolve(addr);
      });
    }),
    async stop() {
      // Drain: /readyz turns red and no new connection is taken; calls in flight (which may need their agents'
      // sessions) get up to drainTimeoutMs to finish; then agents are told to go and whatever is left is cut.
      stopping = true;
      await hubs?.close();
      stopMemberSync();
      bodyRate.close();
      deps.callCaps.close();
      server.close();
      server.closeIdleConnections();
      if (active > 0 && config.drainTimeoutMs > 0) {
        log.info({ inFlight: active, drainTimeoutMs: config.drainTimeoutMs }, 'draining: finishing the calls in flight');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, config.drainTimeoutMs);
          onIdle = () => { clearTimeout(timer); resolve(); };
        });
        if (active > 0) log.warn({ inFlight: active }, 'drain time over: cutting the calls still in flight');
      }
      for (const s of registry.all()) s.close(CloseCode.HubShuttingDown, 'hub shutting down');
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 100));
      server.closeAllConnections();
      presence.close();
      deps.agentAuth.close();
      await store.close();
      await dispatcher.close();
      await hubDispatcher.close();
      await redis?.quit().catch(() => {});
    },
  };
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

