// Caller authentication (SPEC section 2): Entra ID access tokens for the hub's app, validated the way
// Microsoft documents for a multi-tenant API. Reasons for a refusal are logged, never returned to the caller.
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { GatehouseError } from '@gatehouse/shared';

export interface Caller { tid: string; oid: string; name: string | undefined }

/** Where signing keys and the issuer template come from: Entra's OpenID metadata, or the dev identity. */
export interface KeySource {
  keys(): Promise<JWTVerifyGetKey>;
  /** The issuer a token of tenant `tid` must carry. */
  issuerFor(tid: string): Promise<string>;
}

export interface CallerAuthOptions {
  audiences: string[];
  scope: string;
  allowedTenants: 'common' | readonly string[];
  /** exp/nbf tolerance; SPEC: at most 5 minutes. */
  clockToleranceSec: number;
}

/** Reads `{authorityHost}/common/v2.0/.well-known/openid-configuration` once, then its JWKS (refetched on unknown kid). */
export function openIdKeySource(authorityHost: string): KeySource {
  let meta: Promise<{ issuer: string; jwks: JWTVerifyGetKey }> | undefined;
  const load = () => {
    meta ??= (async () => {
      const url = `${authorityHost}/common/v2.0/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`OpenID metadata ${url} answered ${res.status}`);
      const doc = await res.json() as { issuer?: unknown; jwks_uri?: unknown };
      if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string') throw new Error(`OpenID metadata ${url} lacks issuer or jwks_uri`);
      // cooldownDuration limits refetches on unknown kid, so a flood of bogus kids cannot hammer the authority.
      return { issuer: doc.issuer, jwks: createRemoteJWKSet(new URL(doc.jwks_uri), { cooldownDuration: 30_000, cacheMaxAge: 24 * 3600_000 }) };
    })();
    meta.catch(() => { meta = undefined; }); // a failed fetch is retried on the next call
    return meta;
  };
  return {
    keys: async () => (await load()).jwks,
    issuerFor: async (tid) => (await load()).issuer.replace('{tenantid}', tid),
  };
}

export class AuthFailure extends Error {
  constructor(readonly reason: string) { super(reason); }
}

/** Verified tokens, so a caller's every call does not pay an RSA verification. Keyed by the whole token. */
const CACHE_MAX = 10_000;

export function createCallerAuth(source: KeySource, opts: CallerAuthOptions, now: () => number = Date.now) {
  const tenants = opts.allowedTenants === 'common' ? undefined : new Set(opts.allowedTenants);
  const cache = new Map<string, { caller: Caller; until: number }>();
  return async function authenticate(authorization: string | undefined): Promise<Caller> {
    const m = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)\s*$/i.exec(authorization ?? '');
    if (!m) throw new AuthFailure(authorization ? 'authorization is not a Bearer JWT' : 'no bearer token');
    const token = m[1]!;
    const hit = cache.get(token);
    if (hit) {
      if (now() < hit.until) return hit.caller;
      cache.delete(token);
    }
    const caller = await verify(token);
    return caller;
  };

  async function verify(token: string): Promise<Caller> {
    let claims;
    try { claims = decodeJwt(token); } catch { throw new AuthFailure('token does not decode'); }
    const tid = typeof claims.tid === 'string' ? claims.tid.toLowerCase() : undefined;
    if (!tid || !/^[0-9a-f-]{36}$/.test(tid)) throw new AuthFailure('token has no valid tid');
    if (tenants && !tenants.has(tid)) throw new AuthFailure(`tenant ${tid} is not allowed`);
    let payload;
    try {
      ({ payload } = await jwtVerify(token, await source.keys(), {
        algorithms: ['RS256'],
        audience: opts.audiences,
        issuer: await source.issuerFor(tid),
        clockTolerance: opts.clockToleranceSec,
        requiredClaims: ['exp', 'iat'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new AuthFailure(`${err.code}: ${err.message}`);
      throw err; // metadata/JWKS unreachable: not the caller's fault
    }
    if (typeof payload.oid !== 'string' || !payload.oid) throw new AuthFailure('token has no oid');
    const scp = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    if (!scp.includes(opts.scope)) throw new AuthFailure(`scp lacks ${opts.scope}`);
    const caller = { tid, oid: payload.oid.toLowerCase(), name: typeof payload.name === 'string' ? payload.name : undefined };
    // Valid until the token itself expires (with the same tolerance), re-verified at least every 5 minutes.
    const until = Math.min((payload.exp! + opts.clockToleranceSec) * 1000, now() + 5 * 60_000);
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(token, { caller, until });
    return caller;
  }
}

export type Authenticate = ReturnType<typeof createCallerAuth>;

export function unauthorized(hadToken: boolean): GatehouseError {
  return new GatehouseError('Unauthorized', 'caller -> hub: the access token is missing or invalid', {
    'www-authenticate': hadToken ? 'Bearer error="invalid_token"' : 'Bearer',
  });
}
