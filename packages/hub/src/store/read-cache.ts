// A short-lived read cache for the lookups every relayed call makes (its connection and gateway, the gateway's
// roles and the connection's shares that decide access, and the gateway's members when the call is relayed to
// another hub).
// Writes through this store invalidate at once; the TTL bounds staleness when another process writes.
import type { Store } from './store.js';

const MAX_ENTRIES = 10_000;

/** A lookup by id whose answers are kept for `ttlMs` (the oldest dropped past MAX_ENTRIES). */
function cachedLookup<T>(load: (id: string) => Promise<T>, ttlMs: number, now: () => number) {
  const entries = new Map<string, { at: number; value: T }>();
  const get = async (id: string): Promise<T> => {
    const hit = entries.get(id);
    if (hit && now() - hit.at < ttlMs) return hit.value;
    const value = await load(id);
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    entries.set(id, { at: now(), value });
    return value;
  };
  return {
    get,
    delete: (id: string) => {
      entries.delete(id);
    },
    clear: () => {
      entries.clear();
    },
  };
}

export function withReadCache(store: Store, ttlMs: number, now: () => number = Date.now): Store {
  const connections = cachedLookup((id) => store.getConnection(id), ttlMs, now);
  const gateways = cachedLookup((id) => store.getGateway(id), ttlMs, now);
  const members = cachedLookup((gatewayId) => store.listMembers(gatewayId), ttlMs, now);
  const roles = cachedLookup((gatewayId) => store.listGatewayRoles(gatewayId), ttlMs, now);
  const shares = cachedLookup((connectionId) => store.listShares(connectionId), ttlMs, now);
  // lint-allow: per-call (made once, when the hub starts)
  return {
    ...store,
    getConnection: connections.get,
    getGateway: gateways.get,
    listMembers: members.get,
    listGatewayRoles: roles.get,
    listShares: shares.get,
    // Roles and shares decide access: dropped before the write and again after it, so that a read that ran
    // during the write cannot keep the old list for the TTL.
    async setGatewayRole(r) {
      roles.delete(r.gatewayId);
      try {
        return await store.setGatewayRole(r);
      } finally {
        roles.delete(r.gatewayId);
      }
    },
    async deleteGatewayRole(gatewayId, tid, principalId) {
      roles.delete(gatewayId);
      try {
        return await store.deleteGatewayRole(gatewayId, tid, principalId);
      } finally {
        roles.delete(gatewayId);
      }
    },
    async putShare(share) {
      shares.delete(share.connectionId);
      try {
        await store.putShare(share);
      } finally {
        shares.delete(share.connectionId);
      }
    },
    async deleteShare(connectionId, tid, principalId) {
      shares.delete(connectionId);
      try {
        return await store.deleteShare(connectionId, tid, principalId);
      } finally {
        shares.delete(connectionId);
      }
    },
    async addMember(m, maxMembers) {
      members.delete(m.gatewayId);
      return store.addMember(m, maxMembers);
    },
    async setMemberEnabled(id, enabled) {
      members.clear();
      await store.setMemberEnabled(id, enabled);
    },
    async deleteMember(id) {
      members.clear();
      await store.deleteMember(id);
    },
    async touchMember(id, fields) {
      members.clear();
      await store.touchMember(id, fields);
    },
    async touchMembersSeen(seen) {
      members.clear();
      await store.touchMembersSeen(seen);
    },
    async createConnection(c) {
      connections.delete(c.id);
      await store.createConnection(c);
    },
    async updateConnection(c) {
      connections.delete(c.id);
      await store.updateConnection(c);
    },
    async deleteConnection(id) {
      connections.delete(id);
      shares.delete(id);
      await store.deleteConnection(id);
    },
    async createGateway(g, creatorType) {
      gateways.delete(g.id);
      roles.delete(g.id);
      await store.createGateway(g, creatorType);
    },
    async claimGatewayKeys(id, pub, sealed) {
      gateways.delete(id);
      return store.claimGatewayKeys(id, pub, sealed);
    },
    async setGatewayRouting(id, routing) {
      gateways.delete(id);
      await store.setGatewayRouting(id, routing);
    },
    async deleteGateway(id) {
      gateways.delete(id);
      members.delete(id);
      roles.delete(id);
      return store.deleteGateway(id);
    },
    async rotateGatewayKey(id, keys, resealed) {
      gateways.delete(id);
      for (const r of resealed) connections.delete(r.connectionId);
      await store.rotateGatewayKey(id, keys, resealed);
    },
  };
}
