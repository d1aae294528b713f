// The credential hashes of members this hub has read from the store lately, kept so that the agent authentication
// limiter (agents/auth-guard.ts) can tell a valid credential from a guess without a lookup: while an address or a
// member id is over its failure limit, a credential whose hash matches the member's known one still goes on to the
// real check (the store stays the judge: a member deleted since is refused there), anything else gets 429 as
// before. Filled by every lookup of a member (a guess at a real member id loads that member's hash too, so a
// member-id lockout attempt never keeps its real agent out) and by each registration; the newest registration key
// this hub issued for a gateway is kept under `gateway:ID` likewise. Bounded, the oldest dropped first.
import { timingSafeEqual } from 'node:crypto';
import { secretHash } from '../auth/secret-hash.js';

export class KnownCredentials {
  private readonly hashes = new Map<string, Buffer>();

  constructor(private readonly maxMembers: number) {}

  /** Remembers the hash the store holds for this member (called after each lookup that found it). */
  remember(memberId: string, credentialHash: string): void {
    this.hashes.delete(memberId);
    if (this.hashes.size >= this.maxMembers) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(memberId, Buffer.from(credentialHash, 'hex'));
  }

  /** Forgets a member the store no longer has. */
  forget(memberId: string): void {
    this.hashes.delete(memberId);
  }

  /** Whether `credential` hashes to the known hash of `memberId` (false when this hub knows none). */
  vouches(memberId: string, credential: string): boolean {
    const known = this.hashes.get(memberId);
    if (!known) return false;
    const presented = Buffer.from(secretHash(credential), 'hex');
    return presented.length === known.length && timingSafeEqual(presented, known);
  }

  get size(): number {
    return this.hashes.size;
  }
}
