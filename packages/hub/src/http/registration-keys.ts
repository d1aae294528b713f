// Registration keys: one-time keys (`ghr_…`, valid 24 hours) that an owner issues through the gateways API and
// an agent spends on `register` or `join`. The hub keeps only their hash.
import { randomBytes } from 'node:crypto';
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { clientAddress } from './client-address.js';
import type { GatewayRecord } from '../store/store.js';
import { secretHash } from '../auth/secret-hash.js';
import type { Ctx } from './router.js';

export const REGISTRATION_KEY_TTL_MS = 24 * 3600_000;

/** Unused registration keys a gateway holds at most: issuing one more voids the oldest (red team, session 17: a
 *  caller issued 47,620 in 40 s, and each reload of the agent limiter's known keys read them all). */
export const LIVE_REGISTRATION_KEYS = 20;

export async function newRegistrationKey(deps: HubDeps, gatewayId: string): Promise<string> {
  const key = `ghr_${randomBytes(32).toString('base64url')}`;
  const now = deps.now().getTime();
  await deps.store.addRegistrationKey(secretHash(key), gatewayId, now + REGISTRATION_KEY_TTL_MS, LIVE_REGISTRATION_KEYS, now);
  // Its registration must get through even while the agent's address is over the failure limit (agents/auth-guard.ts):
  // the newest key issued for a gateway is known (here at once; other hubs load it from the store).
  deps.agentAuth.known.remember(`gateway:${gatewayId}`, secretHash(key));
  return key;
}

/** The gateway a registration key opens; `consume` uses the key up (one registration per key). Failures count
 *  toward the agent authentication limits (per address and gateway id), checked before the lookup; the gateway's
 *  newest key passes them (agents/known-credentials.ts). */
export async function gatewayForKey(deps: HubDeps, ctx: Ctx, gatewayId: string, key: string, consume: boolean): Promise<GatewayRecord> {
  const address = clientAddress(ctx.req, deps.config.trustedProxies);
  const limited = await deps.agentAuth.refusal(address, `gateway:${gatewayId}`, key);
  if (limited) throw limited;
  const refused = () => {
    deps.agentAuth.failure(address, `gateway:${gatewayId}`, 'registration');
    return new GatehouseError('Unauthorized', 'agent -> hub: the registration key is unknown, used, expired or for another gateway');
  };
  const g = await deps.store.getGateway(gatewayId);
  if (!g) throw refused();
  const ok = consume
    ? (await deps.store.consumeRegistrationKey(secretHash(key), deps.now().getTime())) === gatewayId
    : await deps.store.registrationKeyValid(secretHash(key), gatewayId, deps.now().getTime());
  if (!ok) throw refused();
  return g;
}
