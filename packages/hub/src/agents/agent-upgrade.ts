// An agent's WebSocket upgrade at /v1/agent/connect, once the path is right: the credential checked (failures
// limited before any lookup, agents/auth-guard.ts), the socket admitted only while few wait for HELLO
// (agents/pending-hellos.ts), then the session started with the hub's GATEHOUSE_AGENT_* bounds.
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { AGENT_AUTH_SCHEME, CloseCode, GatehouseError, StreamIds } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { verifyAgentCredential } from '../http/gateways.js';
import { writeErrorToSocket } from '../http/respond.js';
import { credentialMemberId } from './auth-guard.js';
import type { PendingHellos } from './pending-hellos.js';
import { AgentSession, type SessionBounds } from './session.js';

export function sessionBounds(config: HubDeps['config']): SessionBounds {
  const a = config.agent;
  return { maxQueuedBytes: a.queueMaxBytes, maxStreams: a.maxStreams, readTimeoutMs: a.readTimeoutMs, helloTimeoutMs: a.helloTimeoutMs };
}

export async function acceptAgent(deps: HubDeps, wss: WebSocketServer, pending: PendingHellos, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { store, registry, presence, log, agentAuth } = deps;
  const address = req.socket.remoteAddress;
  const auth = req.headers.authorization ?? '';
  const prefix = `${AGENT_AUTH_SCHEME} `;
  const credential = auth.startsWith(prefix) ? auth.slice(prefix.length).trim() : undefined;
  const memberKey = credential === undefined ? undefined : credentialMemberId(credential);
  const limited = agentAuth.refusal(address, memberKey);
  if (limited) return writeErrorToSocket(socket, limited, randomUUID());
  const member = credential === undefined ? undefined : await verifyAgentCredential(deps, credential);
  if (!member) {
    agentAuth.failure(address, memberKey, 'upgrade');
    return writeErrorToSocket(socket, new GatehouseError('Unauthorized', 'agent -> hub: the agent credential is missing or invalid'), randomUUID());
  }
  const tooOften = agentAuth.connectRefusal(member.id, address);
  if (tooOften) return writeErrorToSocket(socket, tooOften, randomUUID());
  wss.handleUpgrade(req, socket, head, (ws) => {
    // Counted once the WebSocket exists (an upgrade ws refuses never takes a place). The session holds the
    // socket's error listener; until it exists, a refused or failing socket must not throw on the hub.
    let session: AgentSession | undefined;
    const place = pending.admit(member.id, () => session?.close(CloseCode.TooManyPending, 'too many connections of this member (or on this hub) waiting to send HELLO: the longest-waiting was closed'));
    session = new AgentSession(ws, { memberId: member.id, gatewayId: member.gatewayId, name: member.name, createdAt: member.createdAt }, log, {
      onHandshakeOver: () => pending.release(place),
      onOpen: (s) => {
        const previous = registry.add(s);
        previous?.close(CloseCode.Replaced, 'replaced by a newer connection of the same member');
        if (deps.hubs) s.tellHubs(deps.hubs.current());
        presence.announce(s);
        store.touchMember(member.id, { hostname: s.hello?.hostname, version: s.hello?.agentVersion, lastSeenAt: new Date().toISOString() })
          .catch((err: Error) => log.warn({ member: member.id, err: err.message }, 'could not record the agent connection'));
      },
      onClose: (s) => {
        registry.remove(s);
        presence.withdraw(s);
        void store.touchMember(member.id, { lastSeenAt: s.lastSeenAt.toISOString() }).catch(() => {});
      },
    }, new StreamIds(), sessionBounds(deps.config));
    session.enabled = member.enabled;
  });
}
