// The hub's own GET routes for orchestrators and scrapers: /healthz (the process answers), /readyz (it can serve:
// not stopping, its database and Redis reachable), /metrics (Prometheus text). Answered by the front door before
// the route table, so no other method is "allowed" on them (POST /healthz: 404 as for any unknown route).
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { GatehouseError } from '@gatehouse/shared';
import type { HubMetrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { InFlight } from './in-flight.js';
import { sendJson } from './respond.js';

export interface HealthOptions {
  store: Store;
  /** When several hubs share state. */
  redis: Redis | undefined;
  metrics: HubMetrics;
  inFlight: InFlight;
}

/** Answers one of the three routes (the promise settles once it is answered, or rejects with a coded error for the
 *  front door to send), or returns undefined for any other request: one comparison per request, no allocation. */
export type HealthAnswer = (method: string | undefined, path: string, res: ServerResponse) => Promise<void> | undefined;

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
  async function scrape(res: ServerResponse): Promise<void> {
    const text = await o.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': o.metrics.registry.contentType }).end(text);
  }
  return (method, path, res) => {
    if (method !== 'GET') return undefined;
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok' });
      return ANSWERED;
    }
    if (path === '/readyz') return ready(res);
    if (path === '/metrics') return scrape(res);
    return undefined;
  };
}

const ANSWERED = Promise.resolve();
