// An agent's WebSocket upgrade at /v1/agent/connect, once the path is right: the credential checked (agents/agent-credential.ts;
// failures limited before any lookup), the socket admitted only while few wait for HELLO
// (agents/pending-hellos.ts; in a reconnect storm a coded 503 before any lookup, its Retry-After spread by
// agents/upgrade-pacer.ts), the tenant's tunnels on this hub counted (agents/tunnels-per-tenant.ts; over
// GATEHOUSE_MAX_TUNNELS_PER_TENANT a coded 429 before the WebSocket is made), then the session started with
// the hub's GATEHOUSE_AGENT_* bounds.
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { CloseCode, GatehouseError, StreamIds } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { writeErrorToSocket } from '../http/respond.js';
import { tunnelled } from '../http/address-connections.js';
import { clientAddress } from '../http/client-address.js';
import { agentCredentialOf, authenticateAgent, credentialMemberId } from './agent-credential.js';
import type { FrameBudgets } from './frame-budget.js';
import type { PendingHellos } from './pending-hellos.js';
import { networkKey, type UpgradePacer } from './upgrade-pacer.js';
import { TUNNEL_RETRY_AFTER_S, type TunnelsPerTenant } from './tunnels-per-tenant.js';
import type { KeyedLineBudgets } from '../log.js';
import { AgentSession, type SessionBounds } from './session.js';

export function sessionBounds(config: HubDeps['config']): SessionBounds {
  const a = config.agent;
  return {
    maxQueuedBytes: a.queueMaxBytes,
    maxStreams: a.maxStreams,
    readTimeoutMs: a.readTimeoutMs,
    helloTimeoutMs: a.helloTimeoutMs,
    frameRate: a.frameRate,
  };
}

export async function acceptAgent(
  deps: HubDeps,
  wss: WebSocketServer,
  pending: PendingHellos,
  pacer: UpgradePacer,
  budgets: FrameBudgets,
  tunnels: { count: TunnelsPerTenant; refusals: KeyedLineBudgets; lines: KeyedLineBudgets },
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const address = clientAddress(req, deps.config.trustedProxies);
  // A reconnect storm: refused before any lookup while every place is held by a connection still due its chance
  // (and no other tenant than the member's, when the hub knows it, holds more than its share: then after it).
  // Its Retry-After is the next free slot at the rate agents are being taken in, so the refused come back spread.
  // Its slot is paced with those of its tenant when the hub knows it, else with its network's (upgrade-pacer.ts).
  const busy = (tenant?: string): void => {
    const retryAfter = pacer.retryAfterS(tenant ?? networkKey(address));
    writeErrorToSocket(
      socket,
      new GatehouseError(
        'ServiceUnavailable',
        `agent -> hub: the hub is busy with other agents connecting (${pending.size} waiting for their HELLO, GATEHOUSE_AGENT_PENDING_MAX); try again in ${retryAfter} s`,
        { 'retry-after': String(retryAfter) },
      ),
      randomUUID(),
    );
  };
  const claimed = agentCredentialOf(req.headers.authorization);
  const claimedId = claimed === undefined ? undefined : credentialMemberId(claimed);
  const entry = pending.beforeLookup(claimedId);
  if (entry === 'refuse') return busy(claimedId === undefined ? undefined : pending.knownTenant(claimedId));
  try {
    return await lookedUp();
  } finally {
    if (entry === 'counted') pending.lookedUp();
  }

  /** The rest, from the lookup of the member on (its end gives back a counted lookup's place). */
  async function lookedUp(): Promise<void> {
    const { store, registry, presence, log, agentAuth } = deps;
    const member = await authenticateAgent(deps, address, req.headers.authorization, 'upgrade');
    if (member instanceof GatehouseError) return writeErrorToSocket(socket, member, randomUUID());
    const tooOften = agentAuth.connectRefusal(member.id, address);
    if (tooOften) return writeErrorToSocket(socket, tooOften, randomUUID());
    // The tenant whose frame budget the connection spends: its gateway owner's (one budget however many gateways
    // and members it has); a gateway gone meanwhile has a budget of its own.
    const gateway = await store.getGateway(member.gatewayId);
    const tenant = gateway ? `tid:${gateway.ownerTid}` : `gateway:${member.gatewayId}`;
    if (pending.refusalFor(member.id, tenant)) return busy(tenant);
    // At most GATEHOUSE_MAX_TUNNELS_PER_TENANT tunnels of one tenant on this hub (waiting for HELLO or open), counted
    // until the socket closes: refused before the WebSocket is made, and the agent comes back after Retry-After.
    if (!tunnels.count.take(tenant, socket)) {
      if (tunnels.refusals.allow(tenant))
        log.warn({ tenant, member: member.id, max: tunnels.count.max }, 'agent tunnel refused: its tenant holds as many as one tenant may');
      return writeErrorToSocket(
        socket,
        new GatehouseError(
          'TooManyRequests',
          `agent -> hub: this gateway's tenant has ${tunnels.count.max} agent connections open on this hub, the most one tenant may (GATEHOUSE_MAX_TUNNELS_PER_TENANT); try again in ${TUNNEL_RETRY_AFTER_S} s`,
          { 'retry-after': String(TUNNEL_RETRY_AFTER_S) },
        ),
        randomUUID(),
      );
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A tunnel now: no longer one of its address's connections (GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS).
      tunnelled(socket);
      // Counted once the WebSocket exists (an upgrade ws refuses never takes a place). The session holds the
      // socket's error listener; until it exists, a refused or failing socket must not throw on the hub.
      let session: AgentSession | undefined;
      const place = pending.admit(member.id, tenant, () =>
        session?.close(CloseCode.TooManyPending, 'too many connections of this member, its tenant or this hub waiting to send HELLO: this one lost its place'),
      );
      session = new AgentSession(
        ws,
        { memberId: member.id, gatewayId: member.gatewayId, name: member.name, createdAt: member.createdAt },
        log,
        {
          onHandshakeOver: (s) => {
            pending.release(place, s.hello !== undefined);
            if (s.hello) pacer.hello();
          },
          onOpen: (s) => {
            const previous = registry.add(s);
            previous?.close(CloseCode.Replaced, 'replaced by a newer connection of the same member');
            if (deps.hubs) s.tellHubs(deps.hubs.current());
            presence.announce(s);
            store
              .touchMember(member.id, { hostname: s.hello?.hostname, version: s.hello?.agentVersion, lastSeenAt: new Date().toISOString() })
              .catch((err: Error) => log.warn({ member: member.id, err: err.message }, 'could not record the agent connection'));
          },
          onError: (s, code, message) => registry.lastErrors.record(s.member.memberId, code, message),
          mayLog: () => tunnels.lines.allow(tenant),
          onClose: (s) => {
            if (!s.hello) return; // never open: nothing registered, announced or recorded (a storm closes many such)
            registry.remove(s);
            presence.withdraw(s);
            if (!s.quiet) void store.touchMember(member.id, { lastSeenAt: s.lastSeenAt.toISOString() }).catch(() => {});
          },
        },
        new StreamIds(),
        sessionBounds(deps.config),
        budgets.join(tenant),
      );
      session.enabled = member.enabled;
    });
  }
}
