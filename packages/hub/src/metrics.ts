// Prometheus metrics (GET /metrics). Labels are low-cardinality on purpose: no connection, user or URL.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

export type RouteKind = 'invoke' | 'proxy';

/** One label set's values, as prom-client's `get()` gives them to the registry for the exposition. */
interface ExposedValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** A label value's node: the next label's values, and at the last label, the series. */
interface LabelNode<S> {
  next: Map<string, LabelNode<S>>;
  entry?: { labels: Record<string, string>; s: S };
}

/**
 * The series every relayed call updates (requests, phase times, bytes, in flight), kept as plain numbers:
 * prom-client builds and hashes the label set on every update, its labelled children's included (the hub's
 * seven updates per call cost about 2 µs in a warm loop, about 0.1 µs here). The registry reads them through
 * `get()` as it reads prom-client's own metrics, so names, types, help and lines are the same.
 */
abstract class PerCallMetric<S> {
  readonly aggregator = 'sum';
  private readonly series: { labels: Record<string, string>; s: S }[] = [];
  /** Label values to their series, one level per label: no key string joined and hashed per update (the hub's
   *  per-call `requests.of(route, authType, status)` spent about 0.8 % of its time in that join). */
  private readonly root: LabelNode<S> = { next: new Map() };
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set (values in labelNames' order), made on first use. */
  of(...values: string[]): S {
    let node = this.root;
    for (const v of values) {
      let next = node.next.get(v);
      if (!next) node.next.set(v, (next = { next: new Map() }));
      node = next;
    }
    if (!node.entry) {
      node.entry = { labels: Object.fromEntries(this.labelNames.map((n, i) => [n, values[i]!])), s: this.make() };
      this.series.push(node.entry);
    }
    return node.entry.s;
  }

  protected abstract make(): S;
  protected abstract expose(labels: Record<string, string>, s: S): ExposedValue[];

  get(): { name: string; help: string; type: string; aggregator: string; values: ExposedValue[] } {
    const values = this.series.flatMap(({ labels, s }) => this.expose(labels, s));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

class Count {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

class PerCallCounter extends PerCallMetric<Count> {
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry, type: 'counter' | 'gauge' = 'counter') {
    super(name, help, type, labelNames, registry);
  }
  protected make(): Count {
    return new Count();
  }
  protected expose(labels: Record<string, string>, s: Count): ExposedValue[] {
    return [{ labels, value: s.value }];
  }
}

class Buckets {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++)
      if (v <= this.bounds[i]!) {
        this.counts[i]!++;
        return;
      }
  }
}

class PerCallHistogram extends PerCallMetric<Buckets> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, 'histogram', labelNames, registry);
  }
  protected make(): Buckets {
    return new Buckets(this.bounds);
  }
  protected expose(labels: Record<string, string>, s: Buckets): ExposedValue[] {
    let acc = 0;
    const bucket = `${this.name}_bucket`;
    return [
      ...this.bounds.map((le, i) => ({ labels: { le }, sharedLabels: labels, value: (acc += s.counts[i]!), metricName: bucket })),
      { labels: { le: '+Inf' }, sharedLabels: labels, value: s.count, metricName: bucket },
      { labels: {}, sharedLabels: labels, value: s.sum, metricName: `${this.name}_sum` },
      { labels: {}, sharedLabels: labels, value: s.count, metricName: `${this.name}_count` },
    ];
  }
}

/** `streamsOpen`: the calls (streams) open on this hub's agent sessions, by gateway id. */
export function createHubMetrics(agentsOnline: () => number, streamsOpen: () => ReadonlyMap<string, number> = () => new Map()) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_hub_', eventLoopMonitoringPrecision: 100 });
  const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];
  const phase = new PerCallHistogram(
    'gatehouse_call_phase_seconds',
    'Time to the response head, split: hub (reading and checking the request), relay (hub <-> agent), backend (agent <-> service)',
    ['route', 'phase'],
    buckets,
    registry,
  );
  const bytes = new PerCallCounter('gatehouse_relayed_bytes_total', 'Body bytes relayed, by direction (request: caller to service)', ['direction'], registry);
  const phases = (route: RouteKind) => ({ hub: phase.of(route, 'hub'), relay: phase.of(route, 'relay'), backend: phase.of(route, 'backend') });
  const oboHeld = { read: (): { hub: number; msal: number } => ({ hub: 0, msal: 0 }) };
  new Gauge({
    name: 'gatehouse_obo_tokens_held',
    help: "On-Behalf-Of tokens held in memory: cache hub (the hub's own, at most 10,000) and cache msal (the library's, emptied after each request)",
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      const held = oboHeld.read();
      this.set({ cache: 'hub' }, held.hub);
      this.set({ cache: 'msal' }, held.msal);
    },
  });
  return {
    registry,
    requests: new PerCallCounter(
      'gatehouse_requests_total',
      'Calls on invoke and proxy, by route, connection type and HTTP status answered',
      ['route', 'auth_type', 'status'],
      registry,
    ),
    throttled: new Counter({
      name: 'gatehouse_throttled_total',
      help: 'Calls refused with 429 by the per-connection throttle',
      labelNames: ['route'],
      registers: [registry],
    }),
    inflight: new PerCallCounter('gatehouse_inflight_requests', 'Calls relayed to agents and not finished', [], registry, 'gauge').of(),
    agents: new Gauge({
      name: 'gatehouse_agents_online',
      help: 'Agent connections that completed the handshake',
      registers: [registry],
      collect() {
        this.set(agentsOnline());
      },
    }),
    // Labelled by gateway (one series per gateway with a session on this hub): a stream that outlives its call
    // (a leak, docs/security.md) shows here, per tenant.
    streams: new Gauge({
      name: 'gatehouse_agent_streams_open',
      help: 'Calls open on agent sessions of this hub (each holds a stream and its buffers), by gateway',
      labelNames: ['gateway'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [gateway, n] of streamsOpen()) this.set({ gateway }, n);
      },
    }),
    /** Set once the On-Behalf-Of client exists (hub-deps.ts): what it holds, for `gatehouse_obo_tokens_held`. */
    oboHeld,
    phaseOf: { invoke: phases('invoke'), proxy: phases('proxy') } as Record<RouteKind, ReturnType<typeof phases>>,
    requestBytes: bytes.of('request'),
    responseBytes: bytes.of('response'),
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;
