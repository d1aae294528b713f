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
const INFO_PREFIX = 'gh:pi:';
const REFRESH_MS = 10_000;

/** A gateway's live entries in one round trip (a call relayed to another hub asks this every time): the ids
 *  whose expiry lies ahead, then their entries (false for one that expired in between). */
const ENTRIES_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
if #ids == 0 then return {} end
for i, id in ipairs(ids) do ids[i] = ARGV[2] .. id end
return redis.call('MGET', unpack(ids))
`;

export function redisPresence(redis: Redis, registry: AgentRegistry, hubId: string, hubUrl: string, log: Logger): Presence {
  const zkey = (gw: string) => `gh:p:${gw}`;
  const ikey = (member: string) => `${INFO_PREFIX}${member}|${hubId}`;
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
        const infos = await redis.eval(ENTRIES_SCRIPT, 1, zkey(gatewayId), String(Date.now()), INFO_PREFIX) as Array<string | null>;
        return infos.filter((x): x is string => typeof x === 'string').map((x) => JSON.parse(x) as PresenceEntry);
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
