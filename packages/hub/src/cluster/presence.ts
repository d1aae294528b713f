// Which hub holds which agent member. Single node: the local registry. Several hubs: Redis, with entries that
// expire 30 s after their hub stops refreshing them (every 10 s), so a hub that dies is forgotten.
import type { Redis } from 'ioredis';
import { GatehouseError } from '@gatehouse/shared';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSession } from '../agents/session.js';
import type { Logger } from '../log.js';

export interface PresenceEntry {
  memberId: string;
  hubId: string;
  /** Where other hubs relay calls for this member (GATEHOUSE_ADVERTISE_URL of its hub). */
  hubUrl: string;
  connectedAt: string;
  lastSeenAt: string;
  hostname: string;
  version: string;
  available: boolean;
}

export interface Presence {
  readonly hubId: string;
  /** Every live entry of a gateway's members, on any hub. */
  entries(gatewayId: string): Promise<PresenceEntry[]>;
  announce(s: AgentSession): void;
  withdraw(s: AgentSession): void;
  close(): void;
}

const entryOf = (s: AgentSession, hubId: string, hubUrl: string): PresenceEntry => ({
  memberId: s.member.memberId, hubId, hubUrl, connectedAt: s.connectedAt.toISOString(), lastSeenAt: s.lastSeenAt.toISOString(),
  hostname: s.hello?.hostname ?? '', version: s.hello?.agentVersion ?? '', available: s.isAvailable,
});

export function localPresence(registry: AgentRegistry, hubId: string): Presence {
  return {
    hubId,
    async entries(gatewayId) { return registry.sessions(gatewayId).filter((s) => s.isOpen).map((s) => entryOf(s, hubId, '')); },
    announce() {},
    withdraw() {},
    close() {},
  };
}

const TTL_MS = 30_000;
const REFRESH_MS = 10_000;

export function redisPresence(redis: Redis, registry: AgentRegistry, hubId: string, hubUrl: string, log: Logger): Presence {
  const zkey = (gw: string) => `gh:p:${gw}`;
  const ikey = (member: string) => `gh:pi:${member}|${hubId}`;
  const write = async (s: AgentSession) => {
    const e = entryOf(s, hubId, hubUrl);
    await redis.multi()
      .zadd(zkey(s.member.gatewayId), Date.now() + TTL_MS, `${e.memberId}|${hubId}`)
      .set(ikey(e.memberId), JSON.stringify(e), 'PX', TTL_MS)
      .zremrangebyscore(zkey(s.member.gatewayId), '-inf', Date.now())
      .exec();
  };
  const timer = setInterval(() => {
    for (const s of registry.all()) if (s.isOpen) write(s).catch((err: Error) => log.warn({ err: err.message }, 'cannot refresh agent presence in Redis'));
  }, REFRESH_MS);
  timer.unref();
  return {
    hubId,
    async entries(gatewayId) {
      try {
        const ids = await redis.zrangebyscore(zkey(gatewayId), Date.now(), '+inf');
        if (ids.length === 0) return [];
        const infos = await redis.mget(ids.map((id) => `gh:pi:${id}`));
        return infos.filter((x): x is string => x !== null).map((x) => JSON.parse(x) as PresenceEntry);
      } catch {
        throw new GatehouseError('ServiceUnavailable', 'hub -> Redis: agent presence is unreachable');
      }
    },
    announce(s) { write(s).catch((err: Error) => log.warn({ err: err.message }, 'cannot announce agent presence in Redis')); },
    withdraw(s) {
      redis.multi().zrem(zkey(s.member.gatewayId), `${s.member.memberId}|${hubId}`).del(ikey(s.member.memberId)).exec()
        .catch((err: Error) => log.warn({ err: err.message }, 'cannot withdraw agent presence from Redis'));
    },
    close() { clearInterval(timer); },
  };
}
