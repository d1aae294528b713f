// The cluster's live hubs, for agents (issue 23): each hub lists itself in Redis with the URL agents dial it at
// (GATEHOUSE_AGENT_ADVERTISE_URL), refreshes its entry, reads the list back, and tells its agents (HUBS,
// protocol version 4) when they connect and whenever the list changes. An agent then keeps a tunnel to every
// hub, and a call that lands on any hub finds the agent there: the hub-to-hub relay is only the fallback.
import type { Redis } from 'ioredis';
import { MAX_LISTED_HUBS, type HubAddress, type HubsMessage } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { checkedEntry, signedEntry } from './hub-entry.js';

/** One sorted set: members are signed `{"id","url","exp","sig"}` JSON (hub-entry.ts), scores their expiry. */
const KEY = 'gh:hubs';
/** An entry lives this long after its hub's last refresh, so a hub that dies leaves the list within it. */
export const HUB_ENTRY_TTL_MS = 10_000;
/** How often a hub refreshes its own entry and reads the list. */
export const HUB_LIST_POLL_MS = 2_000;
/** Most entries a hub reads from the list each time (signed or not), so filling the set costs a hub no more. */
const MAX_ENTRIES_READ = 4 * MAX_LISTED_HUBS;

export interface HubDirectory {
  /** What HUBS says now: this hub's id and the live hubs agents may dial. */
  current(): HubsMessage;
  /** Takes this hub off the list (at stop, so agents drop their tunnels to it soon) and stops refreshing. */
  close(): Promise<void>;
}

/** `agentUrl` undefined: this hub is not listed (agents reach it only through their --hub addresses). `secret`:
 *  GATEHOUSE_CLUSTER_SECRET, which signs this hub's entry and checks the others'. `onChange`: called with the new
 *  message whenever the list changes. Resolves after the first read. */
export async function startHubDirectory(
  redis: Redis,
  hubId: string,
  agentUrl: string | undefined,
  secret: string,
  log: Logger,
  onChange: (msg: HubsMessage) => void,
): Promise<HubDirectory> {
  let hubs: HubAddress[] = [];
  let seen = '[]';
  let failing = false;
  /** This hub's own entries that may still be in Redis (each refresh writes a new one, with its new expiry). */
  let mine: Array<{ member: string; exp: number }> = [];
  /** The entries refused at the last read: each is logged when first refused, not at every read. */
  let refused = new Set<string>();
  const message = (): HubsMessage => ({ hubId, hubs });
  const tick = async () => {
    const now = Date.now();
    const tx = redis.multi();
    const exp = now + HUB_ENTRY_TTL_MS;
    const own = agentUrl === undefined ? undefined : { exp, member: signedEntry(secret, hubId, agentUrl, exp) };
    if (own) {
      if (mine.length) tx.zrem(KEY, ...mine.map((m) => m.member));
      tx.zadd(KEY, own.exp, own.member);
      mine = [...mine.filter((m) => m.exp > now), own];
    }
    tx.zremrangebyscore(KEY, '-inf', now).zrangebyscore(KEY, `(${now}`, '+inf', 'LIMIT', 0, MAX_ENTRIES_READ);
    const results = await tx.exec();
    if (own) mine = [own];
    const members = (results?.at(-1)?.[1] ?? []) as string[];
    const byId = new Map<string, { hub: HubAddress; exp: number }>();
    const refusedNow = new Set<string>();
    for (const m of members) {
      const c = checkedEntry(secret, m, now);
      if ('refused' in c) {
        refusedNow.add(m);
        if (!refused.has(m)) log.warn({ reason: c.refused, claimedId: c.id, claimedUrl: c.url }, 'hub list: entry in Redis refused, agents are not told of it');
        continue;
      }
      // a refresh that failed midway may leave a hub's previous entry: the later one counts
      if ((byId.get(c.hub.id)?.exp ?? -1) < c.exp) byId.set(c.hub.id, c);
    }
    refused = refusedNow;
    const next = [...byId.values()]
      .map((c) => c.hub)
      .sort((a, b) => a.id.localeCompare(b.id))
      .slice(0, MAX_LISTED_HUBS);
    const text = JSON.stringify(next);
    if (text === seen) return;
    seen = text;
    hubs = next;
    log.info({ hubs: next.length }, 'the list of hubs agents dial changed');
    onChange(message());
  };
  const run = () =>
    tick().then(
      () => {
        if (failing) log.info('hub list readable in Redis again');
        failing = false;
      },
      (err: Error) => {
        // The last list read stays in force: agents keep their tunnels while Redis is away.
        if (!failing) log.warn({ err: err.message }, 'cannot refresh the hub list in Redis');
        failing = true;
      },
    );
  // a refresh still under way at close would list this hub again after it took itself off
  let running = run();
  await running;
  const timer = setInterval(() => {
    running = run();
  }, HUB_LIST_POLL_MS);
  timer.unref();
  return {
    current: message,
    async close() {
      clearInterval(timer);
      await Promise.race([running, new Promise((r) => setTimeout(r, HUB_LIST_POLL_MS).unref())]);
      if (mine.length) await redis.zrem(KEY, ...mine.map((m) => m.member)).catch(() => {});
    },
  };
}
