// The agent's Prometheus metrics, served on an address of the operator's choosing (`run --metrics-listen`).
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Made only when metrics go out on --metrics-listen: without a reader, Node's process metrics would wake the
 *  agent every 10 ms (their event-loop monitor) and every call would update counters for nobody (prom-client's
 *  updates were about 2.5 % of the agent's CPU per call). */
export function createAgentMetrics(state: () => { connected: number; inflight: number }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_agent_', eventLoopMonitoringPrecision: 100 });
  return {
    registry,
    calls: new Counter({
      name: 'gatehouse_agent_calls_total',
      help: 'Relayed calls served, by the service status (or failed/cancelled)',
      labelNames: ['status'],
      registers: [registry],
    }),
    backend: new Histogram({
      name: 'gatehouse_agent_backend_seconds',
      help: 'Time from sending a request to the service to its response head',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'gatehouse_agent_relayed_bytes_total',
      help: 'Body bytes relayed, by direction (request: hub to service)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    hubs: new Gauge({
      name: 'gatehouse_agent_hubs_connected',
      help: 'Hubs this agent is connected to',
      registers: [registry],
      collect() {
        this.set(state().connected);
      },
    }),
    inflight: new Gauge({
      name: 'gatehouse_agent_inflight_requests',
      help: 'Calls being served',
      registers: [registry],
      collect() {
        this.set(state().inflight);
      },
    }),
  };
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;

export function serveMetrics(metrics: AgentMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
