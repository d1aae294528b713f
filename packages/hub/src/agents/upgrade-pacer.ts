// The Retry-After of an agent upgrade refused in a reconnect storm (agents/pending-hellos.ts): instead of telling
// every refused agent "1 s" (so they all come back together and most are refused again), each refusal is given
// the next free slot at the rate the hub has lately been taking agents in (HELLOs a second, at least
// MIN_ADMIT_RATE), so the refused fleet comes back spread out, as the paced fill does. Bound: at most
// MAX_RETRY_AFTER_S (the agent's own longest backoff step); at least 1 s. No timers: the rate is counted per
// one-second window as HELLOs and refusals arrive.
// The slots are handed out fairly between keys (the caller names the key: the refused member's tenant when the hub
// knows it, else its network, networkKey): each key has its own cursor, which a refusal moves on by one slot for
// every key with slots still to come. One key refused alone is paced exactly at the rate; n keys refused together
// come back at the rate between them; and a key refused without end pushes only its own cursor to the cap, other
// keys' by one slot each (red team session 19, F1: with one cursor for the hub, one tenant's 137,506 refused
// upgrades in 30 s gave every other tenant's refused agents a Retry-After of 30 s; alone they were back within
// 2 s). Networks cost nothing to have many of (no credential): for a tenant's key all of them count as one key
// together (pass 7, F2: a stranger refused from 1,500 addresses took three tenants' fleets from 3.6-4.5 s back to
// 6.4-9.4 s); only the members the hub has not seen lately (after a restart, every one) share slots with them.

import { addressKey } from '../http/address-connections.js';

/** The admission rate assumed before any HELLO was counted, and the least ever assumed, per second. */
export const MIN_ADMIT_RATE = 200;
/** The longest Retry-After handed out, in seconds (the agent's last backoff step). */
export const MAX_RETRY_AFTER_S = 30;
/** Keys with slots to come held at once; past it, new keys share one cursor. */
export const MAX_PACED_KEYS = 100_000;

/** The key of a refusal whose member's tenant the hub does not know: its network, a /24 of IPv4 or a /48 of IPv6
 *  (what one holder usually has), with NETWORK_PREFIX. */
export const NETWORK_PREFIX = 'net:';
export function networkKey(address: string | undefined): string {
  if (address === undefined) return `${NETWORK_PREFIX}?`;
  const key = addressKey(address);
  if (key.endsWith('::/64')) return `${NETWORK_PREFIX}${key.split(':').slice(0, 3).join(':')}::/48`;
  return `${NETWORK_PREFIX}${key.split('.').slice(0, 3).join('.')}.0/24`;
}

/** The key that new keys share past MAX_PACED_KEYS (a network's, so it counts as one for the tenants). */
const SHARED_KEY = `${NETWORK_PREFIX}*`;

export class UpgradePacer {
  /** When each key's last slot handed out falls (performance.now() ms); a key whose slots are all past is dropped
   *  within a second. */
  private readonly cursors = new Map<string, number>();
  /** Of those, the networks' (NETWORK_PREFIX). */
  private networks = 0;
  private sweptAt = performance.now();
  private windowStart = performance.now();
  private windowHellos = 0;
  private rate = MIN_ADMIT_RATE;

  /** An agent's HELLO arrived: one more taken in. */
  hello(now = performance.now()): void {
    this.roll(now);
    this.windowHellos++;
  }

  /** The Retry-After, in whole seconds, for an upgrade of `key` refused now: its next free slot. */
  retryAfterS(key: string, now = performance.now()): number {
    this.roll(now);
    this.sweep(now);
    if (!this.cursors.has(key) && this.cursors.size >= MAX_PACED_KEYS) key = SHARED_KEY;
    const network = key.startsWith(NETWORK_PREFIX);
    if (!this.cursors.has(key)) {
      this.cursors.set(key, 0);
      if (network) this.networks++;
    }
    // Every key with slots to come for a network's; for a tenant's, the networks all as one.
    const keys = network ? this.cursors.size : this.cursors.size - this.networks + Math.min(1, this.networks);
    const cursor = Math.min(Math.max(this.cursors.get(key) ?? 0, now) + (keys * 1000) / this.rate, now + MAX_RETRY_AFTER_S * 1000);
    this.cursors.set(key, cursor);
    // (less a rounding allowance: the slots are summed in floating point, and 1000.0000001 ms is still 1 s)
    return Math.max(1, Math.ceil((cursor - now) / 1000 - 1e-6));
  }

  /** Keys with slots still to come (as of the last sweep, at most a second ago). */
  get keys(): number {
    return this.cursors.size;
  }

  /** Once a second: the keys whose slots are all past are dropped. */
  private sweep(now: number): void {
    if (now - this.sweptAt < 1000) return;
    this.sweptAt = now;
    for (const [key, cursor] of this.cursors) {
      if (cursor > now) continue;
      this.cursors.delete(key);
      if (key.startsWith(NETWORK_PREFIX)) this.networks--;
    }
  }

  /** Ends the one-second window when it is over: its HELLOs a second become the rate. */
  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed < 1000) return;
    this.rate = Math.max(MIN_ADMIT_RATE, (this.windowHellos * 1000) / elapsed);
    this.windowStart = now;
    this.windowHellos = 0;
  }
}
