// One agent member's presence entry in Redis (cluster/presence.ts), signed by the hub that holds the member. A hub
// relays a caller's request to the URL an entry names, so an entry is believed only when its HMAC-SHA256 under
// GATEHOUSE_CLUSTER_SECRET checks: whoever can write to Redis without that secret cannot send calls to a host of
// theirs. The signature covers every field, the gateway the entry is listed under and its expiry, under its own
// domain label, so an entry cannot be moved to another gateway or URL, kept alive, or taken for another signature.
import { signatureChecks, signatureOf } from './signing.js';

/** What a hub records of an agent member it holds (cluster/presence.ts). */
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

const DOMAIN = 'gatehouse-presence-v1';
/** How far past its expiry may lie ahead of the reading hub's clock: the entry's lifetime plus clock skew. */
const MAX_SKEW_MS = 60_000;

/** The refusal of a well-formed entry signed under another key (or over other fields): all a hub whose cluster
 *  secret differs from the other hubs' reads (cluster/presence.ts tells its callers so). */
export const BAD_SIGNATURE = 'bad signature';

/** As stored: the entry, when it expires (ms since the epoch) and its signature. */
type StoredEntry = PresenceEntry & { exp: number; sig: string };

const fieldsOf = (gatewayId: string, e: PresenceEntry, exp: number): unknown[] => [
  gatewayId,
  e.memberId,
  e.hubId,
  e.hubUrl,
  e.available,
  exp,
  e.connectedAt,
  e.lastSeenAt,
  e.hostname,
  e.version,
];

/** What a hub writes for a member of `gatewayId` it holds. */
export function signedPresence(secret: string, gatewayId: string, e: PresenceEntry, exp: number): string {
  const stored: StoredEntry = { ...e, exp, sig: signatureOf(secret, DOMAIN, fieldsOf(gatewayId, e, exp)) };
  return JSON.stringify(stored);
}

/** An entry read back for `gatewayId`: the entry, or why it is refused (the reason names no secret or signature;
 *  the claimed ids and URL are cut short, for a log line). `ttlMs`: the lifetime the hubs give an entry. */
export function checkedPresence(
  secret: string,
  gatewayId: string,
  text: string,
  now: number,
  ttlMs: number,
): { entry: PresenceEntry } | { refused: string; memberId?: string; hubId?: string; hubUrl?: string } {
  let e: Partial<StoredEntry>;
  try {
    e = JSON.parse(text) as Partial<StoredEntry>;
  } catch {
    return { refused: 'not JSON' };
  }
  if (typeof e !== 'object' || e === null) return { refused: 'not an entry' };
  const cut = (v: unknown, n: number) => (typeof v === 'string' ? v.slice(0, n) : undefined);
  const shown = { memberId: cut(e.memberId, 100), hubId: cut(e.hubId, 100), hubUrl: cut(e.hubUrl, 200) };
  const strings = [e.memberId, e.hubId, e.hubUrl, e.connectedAt, e.lastSeenAt, e.hostname, e.version];
  if (
    strings.some((v) => typeof v !== 'string') ||
    typeof e.available !== 'boolean' ||
    typeof e.exp !== 'number' ||
    !Number.isSafeInteger(e.exp) ||
    typeof e.sig !== 'string'
  ) {
    return { refused: 'not signed (fields of an entry, exp, sig)', ...shown };
  }
  const entry: PresenceEntry = {
    memberId: e.memberId!,
    hubId: e.hubId!,
    hubUrl: e.hubUrl!,
    connectedAt: e.connectedAt!,
    lastSeenAt: e.lastSeenAt!,
    hostname: e.hostname!,
    version: e.version!,
    available: e.available,
  };
  if (!signatureChecks(secret, DOMAIN, fieldsOf(gatewayId, entry, e.exp), e.sig)) return { refused: BAD_SIGNATURE, ...shown };
  if (e.exp <= now) return { refused: 'expired', ...shown };
  if (e.exp - now > ttlMs + MAX_SKEW_MS) return { refused: 'expiry too far ahead', ...shown };
  return { entry };
}
