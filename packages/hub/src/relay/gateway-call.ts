// Gateway connections: the call goes through an agent. Its request head is made and judged here once; the
// upstreams are the gateway's members on this hub (the registry's pick), then the hubs that hold one (several
// hubs); the call runs in the pipeline.
import { GatehouseError, forwardRequestHeaders, requestHeadProblem, type RequestHeadMessage } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord, GatewayRecord } from '../store/store.js';
import type { PresenceEntry } from '../cluster/presence.js';
import { RemoteUpstream } from '../cluster/upstream-remote.js';
import type { RelayRequest, RelayTiming, StartedCall, Upstream, Upstreams } from './call-types.js';
import { runCall } from './pipeline.js';
import { HUB_SETS, HUB_SETS_AND_AUTHORIZATION, callerView, overLimit } from './request-head.js';
import { MemberUpstream } from './upstream-member.js';

/** A request body that broke off as the caller sent it (one not coded already). */
const bodyBroke = (err: unknown): GatehouseError =>
  err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'caller -> hub: the request body broke off');

/** The gateway's upstreams in order: each member on this hub once, then each hub holding one (a hub that never
 *  took the call is not asked again; presence can lag a hub's death by up to 30 s). */
class GatewayUpstreams implements Upstreams {
  private readonly tried = new Set<string>();
  private remote: PresenceEntry[] | undefined;
  private hubsTried: Set<string> | undefined;
  /** Presence entries listed for the gateway that all failed their signature alone (PresenceRead.foreignSigned). */
  foreignSigned = 0;

  constructor(
    private readonly deps: HubDeps,
    private readonly gateway: GatewayRecord,
    private readonly head: RequestHeadMessage,
    private readonly route: 'invoke' | 'proxy',
    private readonly maxResponseBytes: number,
  ) {}

  /** The first upstream: a member on this hub, else the first hub holding one. */
  next(): Upstream | undefined | Promise<Upstream | undefined> {
    return this.member() ?? this.onOtherHub();
  }

  private member(): Upstream | undefined {
    if (this.remote) return undefined; // the members here are done with
    const session = this.deps.registry.pick(this.gateway.id, this.gateway.routing, this.tried);
    if (!session) return undefined;
    this.tried.add(session.member.memberId);
    return new MemberUpstream(session, this.head, this.maxResponseBytes, bodyBroke);
  }

  private async onOtherHub(): Promise<Upstream | undefined> {
    if (!this.remote) {
      const read = await this.deps.presence.read(this.gateway.id);
      this.foreignSigned = read.foreignSigned;
      this.remote = await remoteHubs(this.deps, this.gateway, read.entries);
    }
    this.hubsTried ??= new Set();
    for (let entry = this.remote.shift(); entry; entry = this.remote.shift()) {
      if (this.hubsTried.has(entry.hubId)) continue;
      this.hubsTried.add(entry.hubId);
      return new RemoteUpstream(
        { hubDispatcher: this.deps.hubDispatcher, clusterSecret: this.deps.config.clusterSecret! },
        entry,
        this.gateway.id,
        this.head,
        this.route,
        this.maxResponseBytes,
      );
    }
    return undefined;
  }
}

/** The hubs holding an available member of the gateway, in the gateway's member order (distribute: one picked
 *  at random goes first). */
async function remoteHubs(deps: HubDeps, gateway: GatewayRecord, entries: PresenceEntry[]): Promise<PresenceEntry[]> {
  const remote = entries.filter((e) => e.available && e.hubId !== deps.presence.hubId && e.hubUrl);
  if (remote.length === 0) return remote;
  const members = await deps.store.listMembers(gateway.id);
  const order = new Map(members.map((m, i) => [m.id, i]));
  remote.sort((a, b) => (order.get(a.memberId) ?? 99) - (order.get(b.memberId) ?? 99));
  if (gateway.routing === 'distribute' && remote.length > 1) remote.unshift(...remote.splice(Math.floor(Math.random() * remote.length), 1));
  return remote;
}

export async function startGatewayCall(deps: HubDeps, ctx: Ctx, conn: ConnectionRecord, req: RelayRequest, timing: RelayTiming): Promise<StartedCall> {
  const gateway = await deps.store.getGateway(conn.gatewayId!);
  const offline = () => new GatehouseError('GatewayOffline', `hub -> agent: gateway ${conn.gatewayId} has no online member`);
  if (!gateway) throw offline();
  const requestId = ctx.requestId;
  const credentials = conn.sealedCredentials
    ? { scheme: conn.authType === 'WindowsGateway' ? ('windows' as const) : ('basic' as const), sealed: conn.sealedCredentials }
    : null;
  const headers = forwardRequestHeaders(req.headers, {
    dropCookie: true,
    drop: req.dropAuthorization || credentials ? HUB_SETS_AND_AUTHORIZATION : HUB_SETS,
    caller: await callerView(deps, ctx),
  });
  headers.push(['x-request-id', requestId]);
  const head: RequestHeadMessage = {
    requestId,
    method: req.method,
    url: req.url.href,
    headers,
    bodyLength: req.bodyLength,
    timeoutMs: conn.timeoutMs,
    credentials,
  };
  const route = ctx.tags.route ?? 'invoke';
  const upstreams = new GatewayUpstreams(deps, gateway, head, route, timing.maxResponseBytes);
  // No member on this hub and none elsewhere: offline, before the head is judged (as ever). Unless the gateway's
  // presence entries are there but all signed under another key: this hub cannot tell where the members are,
  // which is not the same as none being online (a hub whose GATEHOUSE_CLUSTER_SECRET is not the others').
  const first = await upstreams.next();
  if (!first) throw upstreams.foreignSigned > 0 ? unverifiedPresence(gateway.id, upstreams.foreignSigned) : offline();
  // The agent's own judgement of a head (it fails a call over a limit), made here first on the head as sent, so the
  // caller gets a coded 4xx and the agent never sees it. Its encoded size is checked as it is encoded (session.open).
  const problem = requestHeadProblem(head);
  if (problem) throw overLimit(problem);
  return runCall(
    deps,
    ctx,
    {
      timeoutMs: conn.timeoutMs,
      timing,
      method: req.method,
      host: req.url.host,
      link: 'agent -> service',
      fields: { connection: conn.id, member: undefined, viaHub: undefined },
    },
    req,
    first,
    upstreams,
  );
}

/** The caller's error when no presence entry of the gateway verifies and every one is signed under another key. */
const unverifiedPresence = (gatewayId: string, entries: number): GatehouseError =>
  new GatehouseError(
    'BadGateway',
    `hub -> hub: the presence of gateway ${gatewayId} could not be verified: its ${entries} ${entries === 1 ? 'entry' : 'entries'} in Redis ${entries === 1 ? 'is' : 'are'} signed, but not with this hub's GATEHOUSE_CLUSTER_SECRET (the hubs' cluster secrets differ)`,
  );
