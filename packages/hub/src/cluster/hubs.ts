// The cluster's live hubs, for agents (issue 23): each hub lists itself in Redis with the URL agents dial it at
// (GATEHOUSE_AGENT_ADVERTISE_URL), refreshes its entry, reads the list back, and tells its agents (HUBS,
// protocol version 4) when they connect and whenever the list changes. An agent then keeps a tunnel to every
// hub, and a call that lands on any hub finds the agent there: the hub-to-hub relay is only the fallback.
import type { Redis } from 'ioredis';
import { MAX_LISTED_HUBS, type HubAddress, type HubsMessage } from '@gatehouse/shared';
import type { Logger } from '../log.js';

/** One sorted set: members are `{"id","url"}` JSON, scores the time each expires. */
const KEY = 'gh:hubs';
/** An entry lives this long after its hub's last refresh, so a hub that dies leaves the list within it. */
export const HUB_ENTRY_TTL_MS = 10_000;
/** How often a hub refreshes its own entry and reads the list. */
export const HUB_LIST_POLL_MS = 2_000;

export interface HubDirectory {
  /** What HUBS says now: this hub's id and the live hubs agents may dial. */
  current(): HubsMessage;
  /** Takes this hub off the list (at stop, so agents drop their tunnels to it soon) and stops refreshing. */
  close(): Promise<void>;
}

/** `agentUrl` undefined: this hub is not listed (agents reach it only through their --hub addresses). `onChange`:
 *  called with the new message whenever the list changes. Resolves after the first read. */
export async function startHubDirectory(redis: Redis, hubId: string, agentUrl: string | undefined, log: Logger, onChange: (msg: HubsMessage) => void): Promise<HubDirectory> {
  const self = agentUrl === undefined ? undefined : JSON.stringify({ id: hubId, url: agentUrl });
  let hubs: HubAddress[] = [];
  let seen = '[]';
  let failing = false;
  const message = (): HubsMessage => ({ hubId, hubs });
  const tick = async () => {
    const now = Date.now();
    const tx = redis.multi();
    if (self) tx.zadd(KEY, now + HUB_ENTRY_TTL_MS, self);
    tx.zremrangebyscore(KEY, '-inf', now).zrangebyscore(KEY, now, '+inf');
    const results = await tx.exec();
    const members = (results?.at(-1)?.[1] ?? []) as string[];
    const next = members.flatMap((m): HubAddress[] => {
      try {
        const h = JSON.parse(m) as HubAddress;
        return typeof h.id === 'string' && typeof h.url === 'string' ? [{ id: h.id, url: h.url }] : [];
      } catch { return []; }
    }).sort((a, b) => a.id.localeCompare(b.id)).slice(0, MAX_LISTED_HUBS);
    const text = JSON.stringify(next);
    if (text === seen) return;
    seen = text;
    hubs = next;
    log.info({ hubs: next.length }, 'the list of hubs agents dial changed');
    onChange(message());
  };
  const run = () => tick().then(() => { if (failing) log.info('hub list readable in Redis again'); failing = false; }, (err: Error) => {
    // The last list read stays in force: agents keep their tunnels while Redis is away.
    if (!failing) log.warn({ err: err.message }, 'cannot refresh the hub list in Redis');
    failing = true;
  });
  await run();
  const timer = setInterval(run, HUB_LIST_POLL_MS);
  timer.unref();
  return {
    current: message,
    async close() {
      clearInterval(timer);
      if (self) await redis.zrem(KEY, self).catch(() => {});
    },
  };
}
