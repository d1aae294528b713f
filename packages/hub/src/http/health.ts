// The hub's own GET routes for orchestrators and scrapers: /healthz (the process answers), /readyz (it can serve:
// not stopping, its database and Redis reachable), /metrics (Prometheus text). Answered by the front door before
// the route table, so no other method is "allowed" on them (POST /healthz: 404 as for any unknown route).
// /metrics names every connected gateway of every tenant and costs a few ms to build: on the main port it answers
// only a connection from this machine that no proxy forwarded (red team, session 17, F5: four strangers scraping
// it took another tenant's p50 from 4 to 41 ms and learnt other tenants' gateway ids); with
// GATEHOUSE_METRICS_LISTEN it is served on that address instead (metricsServer), and not on the main port at all.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { GatehouseError } from '@gatehouse/shared';
import type { HubMetrics } from '../metrics.js';
import { HUB_MARKER_HEADER } from '../relay/direct-networks.js';
import type { Store } from '../store/store.js';
import type { InFlight } from './in-flight.js';
import { sendError, sendJson } from './respond.js';

export interface HealthOptions {
  store: Store;
  /** When several hubs share state. */
  redis: Redis | undefined;
  metrics: HubMetrics;
  inFlight: InFlight;
  /** This hub's marker, sent with /metrics (relay/direct-networks.ts, HUB_MARKER_HEADER). */
  marker: string;
  /** GATEHOUSE_METRICS_LISTEN is set: /metrics is served there, never on the main port. */
  metricsElsewhere: boolean;
}

/** Answers one of the three routes (the promise settles once it is answered, or rejects with a coded error for the
 *  front door to send), or returns undefined for any other request: one comparison per request, no allocation. */
export type HealthAnswer = (req: IncomingMessage, path: string, res: ServerResponse) => Promise<void> | undefined;

/** Headers a proxy adds when it forwards a request (any `x-forwarded-*` counts too): their presence on a loopback
 *  connection means a proxy on this machine forwarded someone else's request. */
const PROXY_HEADERS = [
  'forwarded',
  'via',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'cf-connecting-ip',
  'true-client-ip',
  'fastly-client-ip',
  'x-original-forwarded-for',
];

/** A connection from this machine (loopback) carrying no proxy's forwarding header: a local scraper or operator.
 *  (A proxy on this machine that forwards without any such header, a plain TCP proxy, cannot be told from a local
 *  client: docs/operations.md says to set GATEHOUSE_METRICS_LISTEN then.) */
export function fromThisMachine(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  const loopback = a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
  if (!loopback) return false;
  for (const name of Object.keys(req.headers)) if (name.startsWith('x-forwarded-') || PROXY_HEADERS.includes(name)) return false;
  return true;
}

/** Prometheus text of the hub's registry. */
export async function scrape(metrics: HubMetrics, res: ServerResponse, marker: string): Promise<void> {
  const text = await metrics.registry.metrics();
  // The hub's marker: its own EntraAuth calls refuse an answer that carries it (relay/direct-networks.ts).
  res.writeHead(200, { 'content-type': metrics.registry.contentType, [HUB_MARKER_HEADER]: marker }).end(text);
}

/** The GATEHOUSE_METRICS_LISTEN server: GET /metrics, and a coded 404 for anything else. */
export function metricsServer(metrics: HubMetrics, marker: string): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      scrape(metrics, res, marker).catch(() => res.destroy());
      return;
    }
    sendError(res, new GatehouseError('NotFound', 'caller -> hub: this address serves GET /metrics only'), randomUUID());
  });
}

export function healthRoutes(o: HealthOptions): HealthAnswer {
  async function ready(res: ServerResponse): Promise<void> {
    if (o.inFlight.stopping) throw new GatehouseError('ServiceUnavailable', 'hub: shutting down');
    try {
      await o.store.ping();
    } catch {
      throw new GatehouseError('ServiceUnavailable', 'hub -> store: the database is unreachable');
    }
    if (o.redis) {
      try {
        await o.redis.ping();
      } catch {
        throw new GatehouseError('ServiceUnavailable', 'hub -> Redis: shared state is unreachable');
      }
    }
    sendJson(res, 200, { status: 'ready' });
  }
  return (req, path, res) => {
    if (req.method !== 'GET') return undefined;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return ANSWERED;
    }
    if (path === '/readyz') return ready(res);
    // Anyone else gets what an unknown route gets (the front door's 404).
    if (path === '/metrics' && !o.metricsElsewhere && fromThisMachine(req)) return scrape(o.metrics, res, o.marker);
    return undefined;
  };
}

const ANSWERED = Promise.resolve();
