// What the hubs of a cluster sign for each other in Redis: an HMAC-SHA256 under GATEHOUSE_CLUSTER_SECRET over a
// JSON list that starts with a domain label, so a signature made for one use (a hub-list entry, a presence entry,
// a relay's answer) is never taken for another. JSON of a list is unambiguous whatever the fields hold.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const macOf = (secret: string, domain: string, fields: readonly unknown[]): Buffer =>
  createHmac('sha256', secret)
    .update(JSON.stringify([domain, ...fields]))
    .digest();

/** The signature as stored or sent (base64url). */
export const signatureOf = (secret: string, domain: string, fields: readonly unknown[]): string => macOf(secret, domain, fields).toString('base64url');

/** Whether `sig` (as read, of any type) is the signature of these fields (compared in constant time). */
export function signatureChecks(secret: string, domain: string, fields: readonly unknown[], sig: unknown): boolean {
  if (typeof sig !== 'string') return false;
  const given = Buffer.from(sig, 'base64url');
  const want = macOf(secret, domain, fields);
  return given.length === want.length && timingSafeEqual(given, want);
}
