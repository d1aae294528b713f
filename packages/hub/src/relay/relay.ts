// What invoke and the raw proxy route share: throttling, choosing an agent (on this hub, or the hub that holds
// one), opening the relayed call and sending the request body. Timing and accounting: call-watch.ts.
import type { TLSSocket } from 'node:tls';
import {
  GatehouseError, HUB_TOKEN_HEADER, forwardRequestHeaders, requestHeadProblem, type CallerView, type HeaderList, type HeadProblem, type RequestHeadMessage, type ResponseHeadMessage,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { Logger } from '../log.js';
import type { ConnectionRecord, GatewayRecord } from '../store/store.js';
import type { Writable } from 'node:stream';
import type { AgentSession } from '../agents/session.js';
import { startDirect } from './direct.js';
import { RemoteNotTaken, startRemote } from '../cluster/hub-relay.js';
import type { PresenceEntry } from '../cluster/presence.js';
import { CallWatch } from './call-watch.js';
import { setRateLimitHeaders } from '../throttle/memory-throttle.js';

/** Request headers the relay sets itself toward the service (the call's one request id), never the caller's, and
 *  the caller's hub token when given in its own header (never passed on); the
 *  second set also holds Authorization, for calls where the caller's would be wrong (raw route, credentials). */
const HUB_SETS: ReadonlySet<string> = new Set(['x-request-id', HUB_TOKEN_HEADER]);
export const HUB_SETS_AND_AUTHORIZATION: ReadonlySet<string> = new Set([...HUB_SETS, 'authorization']);

export async function takeThrottle(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord): Promise<void> {
  const decision = await deps.throttle.take(conn.id);
  setRateLimitHeaders(ctx.res, decision);
  if (!decision.allowed) {
    if (ctx.tags.route) deps.metrics.throttled.inc({ route: ctx.tags.route });
    throw new GatehouseError('TooManyRequests', `Rate limit is exceeded. Try again in ${decision.resetSec} seconds.`, { 'retry-after': String(decision.resetSec) });
  }
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
  /** The caller's Authorization is its token for the hub, never the service's (the raw route without
   *  X-Gatehouse-Authorization). Any header holding the caller's token is dropped in any case (CallerView.token). */
  dropAuthorization?: boolean;
}

export interface RelayTiming {
  /** invoke: the whole call must complete within the connection timeout (the Power Automate contract).
   *  proxy: the response head must arrive within it of the end of the request body; before and after, idle time counts. */
  wholeCall: boolean;
  idleMs: number;
  /** A response body over this cancels the service's call: the caller gets a 502 if its answer has not begun (invoke reads up to 1 MiB whole), else its answer is cut off. */
  maxResponseBytes: number;
}

/** A call whose response head has arrived, however it runs (through an agent, or from the hub itself). */
export interface StartedCall {
  head: ResponseHeadMessage;
  /** A logger naming the call (made when asked: most calls never log). A method, not a getter: see RequestCtx. */
  logger(): Logger;
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

/** Runs a call for any connection type: EntraAuth from the hub, gateway types through an agent. The limits of a
 *  relayed request are checked on the request as it leaves the hub (startRelay, startDirect). */
export function startCall(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  return conn.authType === 'EntraAuth' ? startDirect(deps, ctx, conn, req, timing) : startRelay(deps, ctx, conn, req, timing);
}

/** The caller as the hub saw it, for the header rules: the address and scheme of its connection (https only where
 *  the hub itself terminated TLS: behind a TLS proxy it sees http, and the proxy's address), and its token. */
export async function callerView(deps: HubDeps, ctx: Ctx): Promise<CallerView> {
  const caller = await deps.caller(ctx);
  const socket = ctx.req.socket as Partial<TLSSocket>;
  return {
    address: socket.remoteAddress, proto: socket.encrypted === true ? 'https' : 'http', token: caller.token,
    hubAudiences: [deps.config.clientId, deps.config.appIdUri],
  };
}

/** A request over a per-call limit, as the caller gets it. */
export const overLimit = (p: HeadProblem): GatehouseError => new GatehouseError(p.code, `caller -> hub: ${p.message}`);

export async function startRelay(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const gateway = await deps.store.getGateway(conn.gatewayId!);
  const first = gateway && deps.registry.pick(gateway.id, gateway.routing);
  const offline = () => new GatehouseError('GatewayOffline', `hub -> agent: gateway ${conn.gatewayId} has no online member`);
  if (!gateway) throw offline();
  // No member on this hub: relay through the hubs that hold one (several hubs).
  const remote = first ? [] : await remoteHubs(deps, gateway);
  if (!first && remote.length === 0) throw offline();

  const requestId = ctx.requestId;
  const credentials = conn.sealedCredentials
    ? { scheme: conn.authType === 'WindowsGateway' ? 'windows' as const : 'basic' as const, sealed: conn.sealedCredentials }
    : null;
  const headers = forwardRequestHeaders(req.headers, {
    dropCookie: true, drop: req.dropAuthorization || credentials ? HUB_SETS_AND_AUTHORIZATION : HUB_SETS, caller: await callerView(deps, ctx),
  });
  headers.push(['x-request-id', requestId]);
  const head: RequestHeadMessage = {
    requestId, method: req.method, url: req.url.href, headers, bodyLength: req.bodyLength, timeoutMs: conn.timeoutMs, credentials,
  };
  // The agent's own judgement of a head (it fails a call over a limit), made here first on the head as sent, so the
  // caller gets a coded 4xx and the agent never sees it. Its encoded size is checked as it is encoded (session.open).
  const problem = requestHeadProblem(head);
  if (problem) throw overLimit(problem);
  const watch = new CallWatch(deps, ctx, {
    timeoutMs: conn.timeoutMs, timing, method: req.method, host: req.url.host, link: 'agent -> service', fields: { connection: conn.id },
  });
  const sent: RelayRequest = {
    method: req.method, url: req.url, headers: req.headers, body: watch.track(req.body), bodyLength: req.bodyLength,
    replayBody: req.replayBody, dropAuthorization: req.dropAuthorization,
  };
  try {
    return first ? await onMember(deps, ctx, watch, gateway, first, head, sent, timing) : await onRemote(deps, ctx, watch, gateway, remote, head, sent, timing);
  } catch (err) {
    watch.settle();
    throw err;
  }
}

/** The hubs holding an available member of the gateway, in the gateway's member order (distribute: one picked
 *  at random goes first). */
async function remoteHubs(deps: HubDeps, gateway: GatewayRecord): Promise<PresenceEntry[]> {
  const members = await deps.store.listMembers(gateway.id);
  const order = new Map(members.map((m, i) => [m.id, i]));
  const remote = (await deps.presence.entries(gateway.id))
    .filter((e) => e.available && e.hubId !== deps.presence.hubId && e.hubUrl)
    .sort((a, b) => (order.get(a.memberId) ?? 99) - (order.get(b.memberId) ?? 99));
  if (gateway.routing === 'distribute' && remote.length > 1) remote.unshift(...remote.splice(Math.floor(Math.random() * remote.length), 1));
  return remote;
}

// A call moves on (to another member, or another member's hub) only when it certainly was never taken and its
// body can be sent again; the first attempt sends the body as it came.
const replayable = (req: RelayRequest) => req.replayBody !== undefined || req.body === null;
const bodyFor = (req: RelayRequest, firstAttempt: boolean) => (firstAttempt || !req.replayBody ? req.body : req.replayBody());

/** Through an agent session on this hub; the agent proves the service never saw a call when it refused before
 *  sending or could not connect, and then the call moves to the next member. */
async function onMember(deps: HubDeps, ctx: Ctx, watch: CallWatch, gateway: GatewayRecord, first: AgentSession,
  head: RequestHeadMessage, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const tried = new Set<string>();
  let session = first;
  for (;;) {
    tried.add(session.member.memberId);
    watch.fields.member = session.member.memberId;
    const call = session.open(head);
    call.maxResponseBytes = timing.maxResponseBytes;
    watch.current = call;
    const answer = call.sendBodyThenHead(bodyFor(req, tried.size === 1), (err) => (err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'caller -> hub: the request body broke off')));
    let rh: ResponseHeadMessage;
    try {
      rh = await answer;
    } catch (err) {
      const next = call.notSent && replayable(req) && !ctx.res.destroyed ? deps.registry.pick(gateway.id, gateway.routing, tried) : undefined;
      if (!next) throw err;
      watch.logger().info({ next: next.member.memberId, why: (err as Error).message }, 'call moved to another member: the service never saw it');
      session = next;
      continue;
    }
    watch.headArrived(rh.status, rh.backendMs ?? 0);
    return {
      head: rh, settle: watch.settle,
      logger: watch.logger,
      pipeResponse: (sink) => call.pipeResponse(sink),
      takeCompleteBody: () => call.takeCompleteBody(),
      cancel: (reason) => call.cancel(reason),
    };
  }
}

/** Through the hubs that hold a member. A hub that never took the call (unreachable, or its member just left)
 *  is skipped for the next one; presence can lag a hub's death by up to 30 s. */
async function onRemote(deps: HubDeps, ctx: Ctx, watch: CallWatch, gateway: GatewayRecord, remote: PresenceEntry[],
  head: RequestHeadMessage, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const failedHubs = new Set<string>();
  let lastFailure: RemoteNotTaken | undefined;
  for (const entry of remote) {
    if (failedHubs.has(entry.hubId)) continue;
    try {
      const call = await startRemote(deps, watch, entry, gateway.id, head, bodyFor(req, failedHubs.size === 0), timing.maxResponseBytes);
      watch.headArrived(call.head.status, call.head.backendMs);
      return call;
    } catch (err) {
      if (!(err instanceof RemoteNotTaken) || !replayable(req) || ctx.res.destroyed) throw err;
      failedHubs.add(entry.hubId);
      lastFailure = err;
      watch.logger().info({ why: err.message }, 'relayed call moved on: the other hub never took it');
    }
  }
  throw lastFailure!;
}
