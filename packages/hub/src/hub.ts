// createHub(config, deps): builds the whole hub without listening; start() listens, stop() drains.
// Wiring only: what handlers get is hub-deps.ts, the HTTP front door http/front-door.ts, health and metrics
// http/health.ts, callers' tokens auth/identify.ts, agents' WebSockets agents/upgrade-server.ts.
import type { Server } from 'node:http';
import { CloseCode } from '@gatehouse/shared';
import type { HubConfig } from './config.js';
import type { HubDeps } from './deps.js';
import { accessLogger, createLogger } from './log.js';
import { createHubDeps, type HubOptions } from './hub-deps.js';
import { syncMembers } from './agents/member-sync.js';
import { serveAgentUpgrades } from './agents/upgrade-server.js';
import type { Route } from './http/router.js';
import { createFrontDoor } from './http/front-door.js';
import { healthRoutes, metricsServer } from './http/health.js';
import { InFlight } from './http/in-flight.js';
import { BodyRateGuard } from './http/body-rate.js';
import { adminRoutes } from './http/gateways.js';
import { gatewayKeyRoutes } from './http/gateway-public-key.js';
import { agentRoutes } from './http/agent-api.js';
import { connectionRoutes } from './http/connections.js';
import { gatewayRoleRoutes } from './http/gateway-roles.js';
import { connectionShareRoutes } from './http/connection-shares.js';
import { invokeRoutes } from './relay/invoke.js';
import { proxyRoutes } from './relay/proxy.js';
import { relayRoutes } from './cluster/hub-relay.js';
import { openApiRoute } from './http/openapi-route.js';
import { startAuditRetention } from './audit/retention.js';
import { auditRoutes } from './http/audit-routes.js';
import { consoleRoutes } from './http/console.js';

export type { HubOptions } from './hub-deps.js';

export interface Hub {
  server: Server;
  deps: HubDeps;
  /** The route table (each route with its path template and description: GET /openapi.json is built from it). */
  routes: readonly Route[];
  start(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

export async function createHub(config: Readonly<HubConfig>, opts: HubOptions = {}): Promise<Hub> {
  const log = opts.log ?? createLogger(config.logLevel);
  const { deps, storeItself, redis } = await createHubDeps(config, opts, log);
  const { store, registry, presence, metrics } = deps;
  // Several hubs: a member disabled or removed through another hub stops serving here too (read past the
  // cache). A single hub applies such changes in the routes that make them.
  const stopMemberSync = redis ? syncMembers({ store: storeItself, registry, presence, log }) : () => {};
  const inFlight = new InFlight();
  let retention: ReturnType<typeof startAuditRetention> | undefined;
  // The relayed calls' routes first: every request tries the patterns in order (no two match the same path), and
  // these are nearly all of a busy hub's requests.
  const routes: Route[] = [
    ...proxyRoutes(deps),
    ...invokeRoutes(deps),
    ...(redis ? relayRoutes(deps) : []),
    ...connectionRoutes(deps),
    ...connectionShareRoutes(deps),
    ...adminRoutes(deps),
    ...gatewayKeyRoutes(deps),
    ...gatewayRoleRoutes(deps),
    ...agentRoutes(deps),
    ...auditRoutes(deps),
    ...consoleRoutes({ config, log, devToken: opts.consoleDevToken }),
  ];
  routes.push(openApiRoute(() => routes, config));
  const bodyRate = new BodyRateGuard({ minBytesPerSec: config.minBodyRate, graceMs: config.bodyRateGraceMs }, log);
  const marker = deps.directNetworks.marker;
  const health = healthRoutes({ store, redis, metrics, inFlight, marker, metricsElsewhere: config.metricsListen !== undefined });
  const metricsAt = config.metricsListen ? metricsServer(metrics, marker) : undefined;
  const server = createFrontDoor({ config, log, access: accessLogger(log), metrics, routes, health, inFlight, bodyRate });
  serveAgentUpgrades(server, deps, inFlight);

  return {
    server,
    deps,
    routes,
    async start() {
      // Records past retention go now, in batches while the hub serves, then periodically (audit/retention.ts).
      retention ??= startAuditRetention(storeItself.audit, config.auditRetentionMs, log, deps.now);
      // The credentials the agent authentication limiter lets through (agents/known-credentials.ts): waited for a
      // few seconds at most, so that a flood from the agents' address right after a restart locks none of them out.
      await deps.agentAuth.known.loadAtStart();
      if (metricsAt && config.metricsListen) {
        const at = await listen(metricsAt, config.metricsListen);
        deps.directNetworks.addOwnListener(at.port);
        log.info(at, 'metrics listening');
      }
      const at = await listen(server, config.listen);
      deps.directNetworks.addOwnListener(at.port);
      log.info(at, 'hub listening');
      return at;
    },
    async stop() {
      await retention?.stop();
      // Drain: /readyz turns red and no new connection is taken; calls in flight (which may need their agents'
      // sessions) get up to drainTimeoutMs to finish; then agents are told to go and whatever is left is cut.
      inFlight.stopping = true;
      await deps.hubs?.close();
      stopMemberSync();
      bodyRate.close();
      deps.callCaps.close();
      server.close();
      server.closeIdleConnections();
      if (inFlight.count > 0 && config.drainTimeoutMs > 0) {
        log.info({ inFlight: inFlight.count, drainTimeoutMs: config.drainTimeoutMs }, 'draining: finishing the calls in flight');
        await inFlight.idle(config.drainTimeoutMs);
        if (inFlight.count > 0) log.warn({ inFlight: inFlight.count }, 'drain time over: cutting the calls still in flight');
      }
      // Every session closed at once: one log line and one write of their lastSeenAt, not two lines and a write each.
      const sessions = registry.all();
      for (const s of sessions) s.close(CloseCode.HubShuttingDown, 'hub shutting down', true);
      if (sessions.length > 0) log.info({ sessions: sessions.length, code: CloseCode.HubShuttingDown }, 'agent sessions closed: hub shutting down');
      await store
        .touchMembersSeen(sessions.map((s) => ({ id: s.member.memberId, lastSeenAt: s.lastSeenAt.toISOString() })))
        .catch((err: Error) => log.warn({ err: err.message }, 'could not record when the agents were last seen'));
      server.closeIdleConnections();
      await new Promise((r) => setTimeout(r, 100));
      server.closeAllConnections();
      presence.close();
      metricsAt?.close();
      metricsAt?.closeAllConnections();
      deps.agentAuth.close();
      await store.close();
      await deps.dispatcher.close();
      await deps.hubDispatcher.close();
      await redis?.quit().catch(() => {});
    },
  };
}

function listen(server: Server, where: { host: string; port: number }): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? { host: a.address, port: a.port } : where);
    });
  });
}
