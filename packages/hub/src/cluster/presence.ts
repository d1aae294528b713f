// Which hub holds which agent member. Single node: the local registry. Several hubs: Redis, with entries that
// expire 30 s after their hub stops refreshing them (every 10 s), so a hub that dies is forgotten. Each entry is
// signed by the hub that wrote it (presence-entry.ts): a call is relayed only to a hub an entry that checks names.
import type { Redis } from 'ioredis';
import { AgentBounds, GatehouseError, MAX_LISTED_HUBS } from '@gatehouse/shared';
import type { AgentRegistry } from '../agents/registry.js';
import type { AgentSession } from '../agents/session.js';
import type { Logger } from '../log.js';
import { BAD_SIGNATURE, checkedPresence, signedPresence, type PresenceEntry } from './presence-entry.js';

export type { PresenceEntry };

/** A gateway's live entries as read, and whether the entries that did not verify say this hub's cluster secret
 *  is not the one the other hubs sign with. */
export interface PresenceRead {
  entries: PresenceEntry[];
  /** How many entries were listed when none verified and every one was refused for its signature alone (signed,
   *  well formed, under another key): what a hub whose GATEHOUSE_CLUSTER_SECRET differs from the others' sees.
   *  0 whenever an entry verified, or one was refused for anything else (not signed, expiry too far ahead). */
  foreignSigned: number;
}

export interface Presence {
  readonly hubId: string;
  /** Every live entry of a gateway's members, on any hub. */
  entries(gatewayId: string): Promise<PresenceEntry[]>;
  /** The same, with what the refused entries say (relay/gateway-call.ts names a secret mismatch to the caller). */
  read(gatewayId: string): Promise<PresenceRead>;
  announce(s: AgentSession): void;
  withdraw(s: AgentSession): void;
  close(): void;
}

const entryOf = (s: AgentSession, hubId: string, hubUrl: string): PresenceEntry => ({
  memberId: s.member.memberId,
  hubId,
  hubUrl,
  connectedAt: s.connectedAt.toISOString(),
  lastSeenAt: s.lastSeenAt.toISOString(),
  hostname: s.hello?.hostname ?? '',
  version: s.hello?.agentVersion ?? '',
  available: s.isAvailable,
});

export function localPresence(registry: AgentRegistry, hubId: string): Presence {
  const entries = async (gatewayId: string) =>
    registry
      .sessions(gatewayId)
      .filter((s) => s.isOpen)
      .map((s) => entryOf(s, hubId, ''));
  return {
    hubId,
    entries,
    read: async (gatewayId) => ({ entries: await entries(gatewayId), foreignSigned: 0 }),
    announce() {},
    withdraw() {},
    close() {},
  };
}

const TTL_MS = 30_000;
const INFO_PREFIX = 'gh:pi:';
const REFRESH_MS = 10_000;
/** Most entries a hub reads for a gateway (signed or not): each member on each listed hub, so a sorted set
 *  filled by someone else costs a call no more than this many signature checks. */
const MAX_ENTRIES_READ = AgentBounds.membersPerGateway * MAX_LISTED_HUBS;
/** Refused entries remembered so each is logged once (forgotten all at once past this many). */
const MAX_REFUSED_REMEMBERED = 1000;

/** A gateway's live entries in one round trip (a call relayed to another hub asks this every time): the ids
 *  whose expiry lies ahead (at most ARGV[3]), then their entries (false for one that expired in between). */
const ENTRIES_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[3]))
if #ids == 0 then return {} end
for i, id in ipairs(ids) do ids[i] = ARGV[2] .. id end
return redis.call('MGET', unpack(ids))
`;

/** `secret`: GATEHOUSE_CLUSTER_SECRET, which signs this hub's entries and checks the others'. */
export function redisPresence(redis: Redis, registry: AgentRegistry, hubId: string, hubUrl: string, secret: string, log: Logger): Presence {
  const zkey = (gw: string) => `gh:p:${gw}`;
  const ikey = (member: string) => `${INFO_PREFIX}${member}|${hubId}`;
  let refused = new Set<string>();
  const write = async (s: AgentSession) => {
    const e = entryOf(s, hubId, hubUrl);
    const exp = Date.now() + TTL_MS;
    await redis
      .multi()
      .zadd(zkey(s.member.gatewayId), exp, `${e.memberId}|${hubId}`)
      .set(ikey(e.memberId), signedPresence(secret, s.member.gatewayId, e, exp), 'PX', TTL_MS)
      .zremrangebyscore(zkey(s.member.gatewayId), '-inf', Date.now())
      .exec();
  };
  const timer = setInterval(() => {
    for (const s of registry.all()) if (s.isOpen) write(s).catch((err: Error) => log.warn({ err: err.message }, 'cannot refresh agent presence in Redis'));
  }, REFRESH_MS);
  timer.unref();
  const read = async (gatewayId: string): Promise<PresenceRead> => {
    let infos: Array<string | null>;
    try {
      infos = (await redis.eval(ENTRIES_SCRIPT, 1, zkey(gatewayId), String(Date.now()), INFO_PREFIX, String(MAX_ENTRIES_READ))) as Array<string | null>;
    } catch {
      throw new GatehouseError('ServiceUnavailable', 'hub -> Redis: agent presence is unreachable');
    }
    const now = Date.now();
    const entries: PresenceEntry[] = [];
    let badSignature = 0;
    let otherwise = 0;
    for (const text of infos) {
      if (typeof text !== 'string') continue;
      const c = checkedPresence(secret, gatewayId, text, now, TTL_MS);
      if ('entry' in c) {
        entries.push(c.entry);
        continue;
      }
      // an expired one only ever turns up in the moment before Redis drops it: it says nothing
      if (c.refused === 'expired') continue;
      if (c.refused === BAD_SIGNATURE) badSignature++;
      else otherwise++;
      // logged once per entry
      const seen = `${gatewayId}\n${text.length}\n${text.slice(0, 300)}`;
      if (refused.has(seen)) continue;
      if (refused.size >= MAX_REFUSED_REMEMBERED) refused = new Set();
      refused.add(seen);
      log.warn(
        { gateway: gatewayId, reason: c.refused, claimedMember: c.memberId, claimedHub: c.hubId, claimedUrl: c.hubUrl },
        'agent presence: entry in Redis refused, no call is relayed by it',
      );
    }
    return { entries, foreignSigned: entries.length === 0 && otherwise === 0 ? badSignature : 0 };
  };
  return {
    hubId,
    read,
    entries: async (gatewayId) => (await read(gatewayId)).entries,
    announce(s) {
      write(s).catch((err: Error) => log.warn({ err: err.message }, 'cannot announce agent presence in Redis'));
    },
    withdraw(s) {
      redis
        .multi()
        .zrem(zkey(s.member.gatewayId), `${s.member.memberId}|${hubId}`)
        .del(ikey(s.member.memberId))
        .exec()
        .catch((err: Error) => log.warn({ err: err.message }, 'cannot withdraw agent presence from Redis'));
    },
    close() {
      clearInterval(timer);
    },
  };
}
