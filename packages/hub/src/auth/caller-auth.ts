// Caller authentication (SPEC section 2): Entra ID access tokens for the hub's app, validated the way
// Microsoft documents for a multi-tenant API. Reasons for a refusal are logged, never returned to the caller.
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { GatehouseError } from '@gatehouse/shared';
import type { KeySource, TokenVersion } from './key-source.js';

export type { KeySource } from './key-source.js';
export { openIdKeySource } from './key-source.js';

/** A caller is a principal: a signed-in user, or an app (a service principal or managed identity) calling with
 *  an app-only token. Either is identified by `(tid, oid)`; `groups` are the token's `groups` claim. */
export interface Caller {
  kind: 'user' | 'app';
  tid: string;
  oid: string;
  name: string | undefined;
  /** Group object ids from the token's `groups` claim (lower case). Empty when the token has none, or when Entra ID
   *  left them out for too many (groups overage: `_claim_names.groups` or `hasgroups`); see `groupsOverage`. */
  groups: readonly string[];
  /** The token said the caller is in more groups than it lists (overage): group roles and shares do not apply to
   *  this caller (the hub does not ask Microsoft Graph); docs/operations.md "Groups". */
  groupsOverage: boolean;
  /** The caller's own access token: the assertion for On-Behalf-Of. Never logged, never forwarded. */
  token: string;
}

export interface CallerAuthOptions {
  audiences: string[];
  scope: string;
  /** The app role an app-only token needs in `roles` to be let in (GATEHOUSE_APP_ROLE, default Gatehouse.Invoke). */
  appRole: string;
  allowedTenants: 'common' | readonly string[];
  /** exp/nbf tolerance; SPEC: at most 5 minutes. */
  clockToleranceSec: number;
}

/** Why a token was refused, for the hub's log (never the caller's answer). Cut to MAX_REASON characters: parts of
 *  it come from the token, which anyone can write. */
export class AuthFailure extends Error {
  readonly reason: string;
  constructor(reason: string) {
    const cut = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}...` : reason;
    super(cut);
    this.reason = cut;
  }
}

/** The longest refusal reason logged. */
export const MAX_REASON = 200;

/** Verified tokens, so a caller's every call does not pay an RSA verification. Keyed by the Authorization value's
 *  last characters (the token's signature) and matched on the whole value: a 1 KB header arrives as a new string
 *  on every request, and hashing all of it for a Map lookup was about 1.7 % of the hub's time per relayed call. */
const CACHE_MAX = 10_000;
const KEY_CHARS = 48;

export function createCallerAuth(source: KeySource, opts: CallerAuthOptions, now: () => number = Date.now) {
  const tenants = opts.allowedTenants === 'common' ? undefined : new Set(opts.allowedTenants);
  const cache = new Map<string, { authorization: string; caller: Caller; until: number }>();

  async function verify(token: string): Promise<Caller> {
    let claims;
    let header;
    try {
      claims = decodeJwt(token);
      header = decodeProtectedHeader(token);
    } catch {
      throw new AuthFailure('token does not decode');
    }
    const tid = typeof claims.tid === 'string' ? claims.tid.toLowerCase() : undefined;
    if (!tid || !/^[0-9a-f-]{36}$/.test(tid)) throw new AuthFailure('token has no valid tid');
    if (tenants && !tenants.has(tid)) throw new AuthFailure(`tenant ${tid} is not allowed`);
    // The token's own `ver` picks the metadata (v1 issuer https://sts.windows.net/{tid}/, v2 {authority}/{tid}/v2.0).
    const version: TokenVersion = claims.ver === '1.0' ? '1.0' : '2.0';
    if (header.alg !== 'RS256') throw new AuthFailure(`alg ${JSON.stringify(String(header.alg).slice(0, 32))} is not allowed`);
    if (typeof header.kid !== 'string') throw new AuthFailure('token has no kid');
    const signing = await source.key(version, header.kid);
    if (!signing) throw new AuthFailure(`unknown signing key ${header.kid.slice(0, 64)}`);
    const issuer = await source.issuerFor(version, tid);
    if (signing.issuer !== undefined && signing.issuer.replace('{tenantid}', tid) !== issuer) {
      throw new AuthFailure('the signing key may not sign for this issuer');
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, signing.key, {
        algorithms: ['RS256'],
        audience: opts.audiences,
        issuer,
        clockTolerance: opts.clockToleranceSec,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new AuthFailure(`${err.code}: ${err.message}`);
      throw err;
    }
    if (typeof payload.oid !== 'string' || !payload.oid) throw new AuthFailure('token has no oid');
    const scp = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    // App-only (client credentials, a managed identity): no `scp`; Entra ID sets `idtyp: app` when asked to, and
    // `roles` holds the app roles the service principal was assigned.
    const kind = scp.length === 0 && (payload.idtyp === 'app' || Array.isArray(payload.roles)) ? 'app' : 'user';
    if (kind === 'app' && !roles.includes(opts.appRole)) {
      throw new GatehouseError(
        'Forbidden',
        `caller -> hub: app-only tokens (client credentials) need the app role ${opts.appRole} (GATEHOUSE_APP_ROLE) assigned to the app; otherwise call with a delegated user token`,
      );
    }
    if (kind === 'user' && !scp.includes(opts.scope)) throw new AuthFailure(`scp lacks ${opts.scope}`);
    return {
      kind,
      tid,
      oid: payload.oid.toLowerCase(),
      name: typeof payload.name === 'string' ? payload.name : undefined,
      ...groupsOf(payload),
      token,
    };
  }

  return async function authenticate(authorization: string | undefined): Promise<Caller> {
    // A caller seen before costs one lookup (its header's last characters, then the whole value compared), not
    // the pattern below (about 3 µs on a 1 KB header, every call).
    const key = authorization?.slice(-KEY_CHARS);
    const hit = key === undefined ? undefined : cache.get(key);
    if (hit && hit.authorization === authorization) {
      if (now() < hit.until) return hit.caller;
      cache.delete(key!);
    }
    const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)\s*$/i.exec(authorization ?? '');
    if (!m) throw new AuthFailure(authorization ? 'authorization is not a Bearer JWT' : 'no bearer token');
    const token = m[1]!;
    const caller = await verify(token);
    const exp = decodeJwt(token).exp!;
    // Valid until the token itself expires (with the same tolerance), re-verified at least every 5 minutes.
    const until = Math.min((exp + opts.clockToleranceSec) * 1000, now() + 5 * 60_000);
    cache.delete(key!); // (another token with the same last characters: replaced)
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(key!, { authorization: authorization!, caller, until });
    return caller;
  };
}

/** Most groups kept from one token: Entra ID itself puts at most 200 in a JWT (then it signals overage instead). */
const MAX_GROUPS = 200;

/** The `groups` claim, or overage: a token whose `_claim_names` names `groups` (v1 and v2) or with `hasgroups`
 *  (implicit flow) carries no list; the caller then counts as in no group. */
function groupsOf(payload: Record<string, unknown>): { groups: readonly string[]; groupsOverage: boolean } {
  const names = payload._claim_names as Record<string, unknown> | undefined;
  const overage = payload.hasgroups === true || (typeof names === 'object' && names !== null && 'groups' in names);
  const list = Array.isArray(payload.groups) ? payload.groups : [];
  const groups = list
    .filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 64)
    .slice(0, MAX_GROUPS)
    .map((g) => g.toLowerCase());
  return { groups: Object.freeze(groups), groupsOverage: overage };
}

export type Authenticate = ReturnType<typeof createCallerAuth>;

export function unauthorized(hadToken: boolean): GatehouseError {
  return new GatehouseError('Unauthorized', 'caller -> hub: the access token is missing or invalid', {
    'www-authenticate': hadToken ? 'Bearer error="invalid_token"' : 'Bearer',
  });
}
