// The agent credential, `<memberId>.<secret>`, sent as `Authorization: GatehouseAgent <credential>` on the
// WebSocket upgrade (agents/agent-upgrade.ts) and on the agent routes (http/agent-api.ts); the hub keeps only
// its hash. The one place that reads it from a request and checks it: failures are limited before any lookup
// (agents/auth-guard.ts) and counted after one.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AGENT_AUTH_SCHEME, GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { MemberRecord, Store } from '../store/store.js';
import { secretHash } from '../auth/secret-hash.js';
import type { AuthPlace } from './auth-guard.js';
import type { KnownCredentials } from './known-credentials.js';

const PREFIX = `${AGENT_AUTH_SCHEME} `;

/** The credential an Authorization value carries (`GatehouseAgent <credential>`), or undefined when it has none. */
export function agentCredentialOf(authorization: string | undefined): string | undefined {
  const auth = authorization ?? '';
  return auth.startsWith(PREFIX) ? auth.slice(PREFIX.length).trim() : undefined;
}

/** The member id a credential (`<memberId>.<secret>`) names, when it has the form of one; read without a lookup. */
export function credentialMemberId(credential: string): string | undefined {
  const id = credential.split('.')[0] ?? '';
  return /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

/** A new member's credential, and the hash the store keeps of it. */
export function newAgentCredential(memberId: string): { credential: string; hash: string } {
  const credential = `${memberId}.${randomBytes(32).toString('base64url')}`;
  return { credential, hash: secretHash(credential) };
}

/**
 * The member whose credential the Authorization value carries, or the coded refusal to answer with: 429 when this
 * address (or this member from it) failed too often lately, 401 when the credential is missing or unknown (and the
 * failure counted, at `place`). Errors of the store itself are thrown.
 */
export async function authenticateAgent(
  deps: HubDeps,
  address: string | undefined,
  authorization: string | undefined,
  place: AuthPlace,
): Promise<MemberRecord | GatehouseError> {
  const credential = agentCredentialOf(authorization);
  const memberKey = credential === undefined ? undefined : credentialMemberId(credential);
  const limited = await deps.agentAuth.refusal(address, memberKey, credential);
  if (limited) return limited;
  const member = credential === undefined ? undefined : await verifyAgentCredential(deps.store, deps.agentAuth.known, credential);
  if (!member) {
    deps.agentAuth.failure(address, memberKey, place);
    return new GatehouseError('Unauthorized', 'agent -> hub: the agent credential is missing or invalid');
  }
  return member;
}

async function verifyAgentCredential(store: Store, known: KnownCredentials, credential: string): Promise<MemberRecord | undefined> {
  const memberId = credentialMemberId(credential);
  if (!memberId) return undefined;
  const m = await store.getMember(memberId);
  // A disabled member may connect (so enabling it takes effect at once); it is given no calls.
  if (!m) {
    known.forget(memberId);
    return undefined;
  }
  known.remember(m.id, m.credentialHash);
  const a = Buffer.from(secretHash(credential), 'hex');
  const b = Buffer.from(m.credentialHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? m : undefined;
}
