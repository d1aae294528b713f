// One hub's entry in the Redis list of hubs agents dial (cluster/hubs.ts), signed by the hub that wrote it.
// Agents send their credential to every listed hub, so an entry is believed only when its HMAC-SHA256 under
// GATEHOUSE_CLUSTER_SECRET checks: whoever can write to Redis without that secret cannot list a host of theirs.
// The signature covers the hub id, the agent URL and the entry's expiry, under its own domain label (the same
// secret signs hub-to-hub relays), so an entry cannot be moved to another URL, kept alive, or taken for a relay.
import type { HubAddress } from '@gatehouse/shared';
import { signatureChecks, signatureOf } from './signing.js';

const DOMAIN = 'gatehouse-hubs-v1';
/** How far past its expiry may lie ahead of the reading hub's clock: the entry's lifetime plus clock skew. */
const MAX_AHEAD_MS = 70_000;

/** As stored (a sorted-set member): `exp` is when the entry expires (ms since the epoch, also its score). */
interface StoredEntry {
  id: string;
  url: string;
  exp: number;
  sig: string;
}

/** The member a hub writes for itself. */
export function signedEntry(secret: string, id: string, url: string, exp: number): string {
  const entry: StoredEntry = { id, url, exp, sig: signatureOf(secret, DOMAIN, [id, url, exp]) };
  return JSON.stringify(entry);
}

/** A member read back: the hub it lists, or why it is refused (the reason names no secret or signature). */
export function checkedEntry(secret: string, member: string, now: number): { hub: HubAddress; exp: number } | { refused: string; id?: string; url?: string } {
  let e: Partial<StoredEntry>;
  try {
    e = JSON.parse(member) as Partial<StoredEntry>;
  } catch {
    return { refused: 'not JSON' };
  }
  if (typeof e !== 'object' || e === null) return { refused: 'not an entry' };
  const shown = { id: typeof e.id === 'string' ? e.id.slice(0, 100) : undefined, url: typeof e.url === 'string' ? e.url.slice(0, 200) : undefined };
  if (typeof e.id !== 'string' || typeof e.url !== 'string' || typeof e.exp !== 'number' || !Number.isSafeInteger(e.exp) || typeof e.sig !== 'string') {
    return { refused: 'not signed (fields id, url, exp, sig)', ...shown };
  }
  if (!signatureChecks(secret, DOMAIN, [e.id, e.url, e.exp], e.sig)) return { refused: 'bad signature', ...shown };
  if (e.exp <= now) return { refused: 'expired', ...shown };
  if (e.exp - now > MAX_AHEAD_MS) return { refused: 'expiry too far ahead', ...shown };
  return { hub: { id: e.id, url: e.url }, exp: e.exp };
}
