// The hub server's 'upgrade' event: an agent's WebSocket at /v1/agent/connect goes to agents/agent-upgrade.ts;
// any other WebSocket upgrade is refused with a coded 400, and an upgrade to anything but a WebSocket (h2c and
// the like) is served as a plain request. During shutdown agents are refused with a coded 503.
import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { AGENT_CONNECT_PATH, GatehouseError, Limits } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { InFlight } from '../http/in-flight.js';
import { writeErrorToSocket } from '../http/respond.js';
import { refuseUpgrade, serveWithoutUpgrade } from '../http/upgrade-offer.js';
import { acceptAgent } from './agent-upgrade.js';
import { FrameBudgets } from './frame-budget.js';
import { PendingHellos } from './pending-hellos.js';
import { UpgradePacer } from './upgrade-pacer.js';
import { TunnelsPerTenant } from './tunnels-per-tenant.js';
import { KeyedLineBudgets } from '../log.js';

/** Takes the server's upgrades from now on. */
export function serveAgentUpgrades(server: Server, deps: HubDeps, inFlight: InFlight): void {
  const { config, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: Limits.maxFrameBytes, perMessageDeflate: false });
  const pendingHellos = new PendingHellos(config.agent.pendingPerMember, config.agent.pendingTotal);
  const pacer = new UpgradePacer();
  const budgets = new FrameBudgets({ tenant: config.agent.tenantFrameRate, hub: config.agent.hubFrameRate });
  const tunnels = {
    count: new TunnelsPerTenant(config.agent.maxTunnelsPerTenant),
    refusals: new KeyedLineBudgets(log, 'agent tunnel refused'),
    lines: new KeyedLineBudgets(log, 'agent connection lines of one tenant'),
  };
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      serveWithoutUpgrade(server, req, socket, head);
      return;
    }
    socket.on('error', () => socket.destroy());
    void handleUpgrade(req, socket, head).catch((err: unknown) => {
      const requestId = randomUUID();
      log.error({ err, requestId }, 'agent upgrade fault');
      if (socket.writable) writeErrorToSocket(socket, new GatehouseError('InternalError', 'hub: the agent connection could not be accepted'), requestId);
    });
  });

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if ((req.url ?? '').split('?')[0] !== AGENT_CONNECT_PATH) {
      return refuseUpgrade(
        socket,
        new GatehouseError('InvalidRequest', `caller -> hub: WebSocket upgrades are not relayed (only agents connect with one, at ${AGENT_CONNECT_PATH})`),
      );
    }
    if (inFlight.stopping) return writeErrorToSocket(socket, new GatehouseError('ServiceUnavailable', 'hub: shutting down'), randomUUID());
    await acceptAgent(deps, wss, pendingHellos, pacer, budgets, tunnels, req, socket, head);
  }
}
