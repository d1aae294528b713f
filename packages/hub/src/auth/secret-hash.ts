// What the store keeps of a secret the hub must recognise but never needs to read back (agent credentials,
// registration keys): its SHA-256, hex. The secrets are 256 random bits, so no salt or stretching is needed.
import { createHash } from 'node:crypto';

export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
