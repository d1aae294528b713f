// What invoke and the raw proxy route share: throttling, choosing an agent, opening the relayed call,
// the deadline, idle time and caller-disconnect cancellation, and sending the request body.
import {
  GatehouseError, forwardRequestHeaders, type HeaderList, type RequestHeadMessage, type ResponseHeadMessage,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { Logger } from '../log.js';
import type { ConnectionRecord } from '../store/store.js';
import type { Readable, Writable } from 'node:stream';
import type { RelayCall } from '../agents/relay-call.js';
import type { AgentSession } from '../agents/session.js';
import { startDirect } from './direct.js';
import { RemoteNotTaken, startRemote } from '../cluster/hub-relay.js';
import { setRateLimitHeaders } from '../throttle/memory-throttle.js';

export const DROP_AUTHORIZATION: ReadonlySet<string> = new Set(['authorization']);
const DROP_NOTHING: ReadonlySet<string> = new Set();

export async function takeThrottle(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord): Promise<void> {
  const decision = await deps.throttle.take(conn.id);
  setRateLimitHeaders(ctx.res, decision);
  if (!decision.allowed) {
    if (ctx.tags.route) deps.metrics.throttled.inc({ route: ctx.tags.route });
    throw new GatehouseError('TooManyRequests', `Rate limit is exceeded. Try again in ${decision.resetSec} seconds.`, { 'retry-after': String(decision.resetSec) });
  }
}

/** A request id given by the caller (if it is a sane token) follows the call to the service. */
export function requestIdFrom(ctx: Ctx): string {
  const given = ctx.req.headers['x-request-id'] ?? ctx.req.headers['x-ms-client-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : ctx.requestId;
}

export interface RelayRequest {
  method: string;
  url: URL;
  /** The caller's headers for the service, before the header rules. */
  headers: HeaderList;
  body: AsyncIterable<Uint8Array> | null;
  bodyLength: number | null;
  /** For bodies held in memory: the same body again, so a call the service never saw can move to another member. */
  replayBody?: () => AsyncIterable<Uint8Array> | null;
  /** The caller's Authorization is its token for the hub, never the service's (the raw route). */
  dropAuthorization?: boolean;
}

export interface RelayTiming {
  /** invoke: the whole call must complete within the connection timeout (the Power Automate contract).
   *  proxy: the response head must arrive within it; afterwards only idle time counts. */
  wholeCall: boolean;
  idleMs: number;
  /** A response body over this is cut off and the service's call cancelled (the route's body limit). */
  maxResponseBytes: number;
}

/**
 * Cuts a response body off once it passes `maxBytes` (the stream fails; whoever pipes it sees the error).
 * Returns how many bytes have passed so far.
 */
export function capResponse(body: Readable, maxBytes: number, link: string): () => number {
  let n = 0;
  body.on('data', (c: Buffer) => {
    n += c.length;
    if (n > maxBytes) body.destroy(new GatehouseError('BadGateway', `${link}: the service's answer is over the ${maxBytes}-byte limit`));
  });
  return () => n;
}

/** A call whose response head has arrived, however it runs (through an agent, or from the hub itself). */
export interface StartedCall {
  head: ResponseHeadMessage;
  readonly log: Logger;
  /** Delivers the response body into `sink` with backpressure. */
  pipeResponse(sink: Writable): void;
  /** The whole response body when it has already arrived (small answers; never one over the route's
   *  limit), instead of pipeResponse; undefined when it must be streamed. */
  takeCompleteBody?(): Buffer | undefined;
  /** Abandons the call (the caller's answer broke): the service's request is aborted. */
  cancel(reason: string): void;
  /** Call when the answer has been written (or abandoned): clears the timers. */
  settle(): void;
}

/** Runs a call for any connection type: EntraAuth from the hub, gateway types through an agent. */
export function startCall(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  return conn.authType === 'EntraAuth' ? startDirect(deps, ctx, conn, req, timing) : startRelay(deps, ctx, conn, req, timing);
}

export async function startRelay(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const gateway = await deps.store.getGateway(conn.gatewayId!);
  const first = gateway && deps.registry.pick(gateway.id, gateway.routing);
  const offline = () => new GatehouseError('GatewayOffline', `hub -> agent: gateway ${conn.gatewayId} has no online member`);
  if (!gateway) throw offline();

  const requestId = requestIdFrom(ctx);
  const credentials = conn.sealedCredentials
    ? { scheme: conn.authType === 'WindowsGateway' ? 'windows' as const : 'basic' as const, sealed: conn.sealedCredentials }
    : null;
  const headers = forwardRequestHeaders(req.headers, { dropCookie: true, drop: req.dropAuthorization || credentials ? DROP_AUTHORIZATION : DROP_NOTHING });
  headers.push(['x-request-id', requestId]);
  // A call moves on (to another member, or another member's hub) only when it certainly was never taken and
  // its body can be sent again; the first attempt sends the body as it came.
  const replayable = req.replayBody !== undefined || req.body === null;
  const bodyFor = (firstAttempt: boolean) => (firstAttempt || !req.replayBody ? req.body : req.replayBody());
  const head: RequestHeadMessage = {
    requestId, method: req.method, url: req.url.href, headers, bodyLength: req.bodyLength, timeoutMs: conn.timeoutMs, credentials,
  };
  if (!first) {
    // No member on this hub: relay through the hub that holds one (several hubs).
    const members = await deps.store.listMembers(gateway.id);
    const order = new Map(members.map((m, i) => [m.id, i]));
    const remote = (await deps.presence.entries(gateway.id))
      .filter((e) => e.available && e.hubId !== deps.presence.hubId && e.hubUrl)
      .sort((a, b) => (order.get(a.memberId) ?? 99) - (order.get(b.memberId) ?? 99));
    if (gateway.routing === 'distribute' && remote.length > 1) remote.unshift(...remote.splice(Math.floor(Math.random() * remote.length), 1));
    // A hub that never took the call (unreachable, or its member just left) is skipped for the next one;
    // presence can lag a hub's death by up to 30 s.
    const failedHubs = new Set<string>();
    let lastFailure: RemoteNotTaken | undefined;
    for (const entry of remote) {
      if (failedHubs.has(entry.hubId)) continue;
      try {
        return await startRemote(deps, ctx, entry, gateway.id, head, bodyFor(failedHubs.size === 0), timing.maxResponseBytes);
      } catch (err) {
        if (!(err instanceof RemoteNotTaken) || !replayable || ctx.res.destroyed) throw err;
        failedHubs.add(entry.hubId);
        lastFailure = err;
        ctx.log.info({ connection: conn.id, hub: entry.hubId, why: err.message }, 'relayed call moved on: the other hub never took it');
      }
    }
    throw lastFailure ?? offline();
  }
  const route = ctx.tags.route ?? 'invoke';
  const fields = { connection: conn.id, member: first.member.memberId };
  const opened = performance.now();
  deps.metrics.inflight.inc();
  let settled = false;
  let answered = 0;
  let call!: RelayCall;

  const timeout = () => new GatehouseError('GatewayTimeout', `agent -> service: no ${timing.wholeCall ? 'complete ' : ''}answer within ${conn.timeoutMs / 1000} s`);
  let deadline: NodeJS.Timeout | undefined = setTimeout(() => call.cancel('deadline', timeout()), conn.timeoutMs);
  let idle: NodeJS.Timeout | undefined;
  const settle = () => {
    clearTimeout(deadline);
    clearTimeout(idle);
    if (settled) return;
    settled = true;
    deps.metrics.inflight.dec();
    deps.metrics.requestBytes.inc(call.requestBody.sentBytes);
    deps.metrics.responseBytes.inc(call.responseBody.receivedBytes);
    // The access log: one line per relayed call, when it is over.
    ctx.access({ ...fields, route, method: req.method, host: req.url.host, status: answered, finished: ctx.res.writableFinished,
      requestBytes: call.requestBody.sentBytes, responseBytes: call.responseBody.receivedBytes, ms: Math.round(performance.now() - ctx.started) });
  };
  ctx.res.on('close', () => {
    settle();
    if (!ctx.res.writableFinished) call.cancel('caller disconnected');
  });

  // The agent proves the service never saw a call when it refused before sending or could not connect; a
  // streamed body is never sent twice.
  const tried = new Set<string>();
  let session: AgentSession | undefined = first;
  let rh: ResponseHeadMessage;
  for (;;) {
    tried.add(session.member.memberId);
    fields.member = session.member.memberId;
    call = session.open(head);
    call.maxResponseBytes = timing.maxResponseBytes;
    const answer = call.sendBodyThenHead(bodyFor(tried.size === 1), (err) => (err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'caller -> hub: the request body broke off')));
    try {
      rh = await answer;
      break;
    } catch (err) {
      const next = call.notSent && replayable && !ctx.res.destroyed ? deps.registry.pick(gateway.id, gateway.routing, tried) : undefined;
      if (!next) { settle(); throw err; }
      ctx.log.info({ ...fields, next: next.member.memberId, why: (err as Error).message }, 'call moved to another member: the service never saw it');
      session = next;
    }
  }
  answered = rh.status;
  const toHead = (performance.now() - opened) / 1000;
  const backend = (rh.backendMs ?? 0) / 1000;
  const phase = deps.metrics.phaseOf[route];
  phase.hub.observe((opened - ctx.started) / 1000);
  phase.relay.observe(Math.max(0, toHead - backend));
  phase.backend.observe(backend);

  if (!timing.wholeCall) {
    clearTimeout(deadline);
    deadline = undefined;
    const check = () => {
      const quiet = Date.now() - call.lastActivity;
      if (quiet >= timing.idleMs) call.cancel('idle', new GatehouseError('GatewayTimeout', `no bytes moved for ${timing.idleMs / 1000} s`));
      else idle = setTimeout(check, timing.idleMs - quiet);
    };
    idle = setTimeout(check, timing.idleMs);
  }
  const done = call;
  return {
    head: rh, settle,
    get log() { return ctx.log.child(fields); },
    pipeResponse: (sink) => done.pipeResponse(sink),
    takeCompleteBody: () => done.takeCompleteBody(),
    cancel: (reason) => done.cancel(reason),
  };
}
