// Prometheus metrics (GET /metrics). Labels are low-cardinality on purpose: no connection, user or URL.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type RouteKind = 'invoke' | 'proxy';

export function createHubMetrics(agentsOnline: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_hub_', eventLoopMonitoringPrecision: 100 });
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];
  const m = {
    registry,
    requests: new Counter({ name: 'gatehouse_requests_total', help: 'Calls on invoke and proxy, by route, connection type and HTTP status answered', labelNames: ['route', 'auth_type', 'status'], registers: [registry] }),
    throttled: new Counter({ name: 'gatehouse_throttled_total', help: 'Calls refused with 429 by the per-connection throttle', labelNames: ['route'], registers: [registry] }),
    phase: new Histogram({ name: 'gatehouse_call_phase_seconds', help: 'Time to the response head, split: hub (reading and checking the request), relay (hub <-> agent), backend (agent <-> service)', labelNames: ['route', 'phase'], buckets, registers: [registry] }),
    inflight: new Gauge({ name: 'gatehouse_inflight_requests', help: 'Calls relayed to agents and not finished', registers: [registry] }),
    bytes: new Counter({ name: 'gatehouse_relayed_bytes_total', help: 'Body bytes relayed, by direction (request: caller to service)', labelNames: ['direction'], registers: [registry] }),
    agents: new Gauge({ name: 'gatehouse_agents_online', help: 'Agent connections that completed the handshake', registers: [registry], collect() { this.set(agentsOnline()); } }),
  };
  // Labelled children made once: the per-call path then does not hash label objects (prom-client does on
  // every observe with labels).
  const phases = (route: RouteKind) => ({
    hub: m.phase.labels({ route, phase: 'hub' }), relay: m.phase.labels({ route, phase: 'relay' }), backend: m.phase.labels({ route, phase: 'backend' }),
  });
  return {
    ...m,
    phaseOf: { invoke: phases('invoke'), proxy: phases('proxy') } as Record<RouteKind, ReturnType<typeof phases>>,
    requestBytes: m.bytes.labels({ direction: 'request' }),
    responseBytes: m.bytes.labels({ direction: 'response' }),
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;
