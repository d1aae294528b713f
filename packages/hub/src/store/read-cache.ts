// A short-lived read cache for the two lookups every relayed call makes (its connection and gateway).
// Writes through this store invalidate at once; the TTL bounds staleness when another process writes.
import type { Store } from './store.js';

export function withReadCache(store: Store, ttlMs: number, now: () => number = Date.now): Store {
  const connections = new Map<string, { at: number; value: Awaited<ReturnType<Store['getConnection']>> }>();
  const gateways = new Map<string, { at: number; value: Awaited<ReturnType<Store['getGateway']>> }>();
  const MAX = 10_000;
  const remember = <T>(m: Map<string, { at: number; value: T }>, id: string, value: T) => {
    if (m.size >= MAX) m.delete(m.keys().next().value!);
    m.set(id, { at: now(), value });
  };
  return {
    ...store,
    async getConnection(id) {
      const hit = connections.get(id);
      if (hit && now() - hit.at < ttlMs) return hit.value;
      const value = await store.getConnection(id);
      remember(connections, id, value);
      return value;
    },
    async getGateway(id) {
      const hit = gateways.get(id);
      if (hit && now() - hit.at < ttlMs) return hit.value;
      const value = await store.getGateway(id);
      remember(gateways, id, value);
      return value;
    },
    async createConnection(c) { connections.delete(c.id); await store.createConnection(c); },
    async updateConnection(c) { connections.delete(c.id); await store.updateConnection(c); },
    async deleteConnection(id) { connections.delete(id); await store.deleteConnection(id); },
    async createGateway(g) { gateways.delete(g.id); await store.createGateway(g); },
    async setGatewayKeys(id, pub, sealed) { gateways.delete(id); await store.setGatewayKeys(id, pub, sealed); },
    async setGatewayRouting(id, routing) { gateways.delete(id); await store.setGatewayRouting(id, routing); },
    async rotateGatewayKey(id, keys, resealed) {
      gateways.delete(id);
      for (const r of resealed) connections.delete(r.connectionId);
      await store.rotateGatewayKey(id, keys, resealed);
    },
  };
}
