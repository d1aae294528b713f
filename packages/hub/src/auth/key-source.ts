// Signing keys and issuers for caller tokens, from Entra ID's OpenID metadata: v2 tokens use
// {authority}/common/v2.0/.well-known/openid-configuration, v1 tokens {authority}/common/.well-known/...
// Keys are refetched when a token names an unknown kid, at most once per cooldown, so a flood of made-up
// kids cannot hammer the authority.
import { importJWK, type JWK } from 'jose';

/** How long a failed fetch of the signing keys stands, while the hub has none, before the next token tries again. */
export const FAILED_FETCH_RETRY_MS = 5_000;

export type TokenVersion = '1.0' | '2.0';
type Key = Awaited<ReturnType<typeof importJWK>>;

export interface SigningKey {
  key: Key;
  /** Entra's v2 keys carry the issuer template they may sign for; checked against the token's issuer. */
  issuer: string | undefined;
}

export interface KeySource {
  key(version: TokenVersion, kid: string): Promise<SigningKey | undefined>;
  /** The issuer a token of this version and tenant must carry. */
  issuerFor(version: TokenVersion, tid: string): Promise<string>;
}

interface Meta {
  issuer: string;
  jwksUri: string;
}

export interface OpenIdKeySourceOptions {
  /** Least time between two JWKS fetches caused by unknown kids. Default 30 s. */
  cooldownMs?: number;
  /** Keys are refetched at least this often. Default 24 h. */
  maxAgeMs?: number;
  now?: () => number;
}

export function openIdKeySource(authorityHost: string, o: OpenIdKeySourceOptions = {}): KeySource {
  const cooldownMs = o.cooldownMs ?? 30_000;
  const maxAgeMs = o.maxAgeMs ?? 24 * 3600_000;
  const now = o.now ?? Date.now;
  const metas = new Map<TokenVersion, Promise<Meta>>();
  const sets = new Map<TokenVersion, { keys: Map<string, SigningKey>; fetchedAt: number }>();

  const meta = (v: TokenVersion): Promise<Meta> => {
    let p = metas.get(v);
    if (!p) {
      p = (async () => {
        const url = v === '2.0' ? `${authorityHost}/common/v2.0/.well-known/openid-configuration` : `${authorityHost}/common/.well-known/openid-configuration`;
        const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`OpenID metadata ${url} answered ${res.status}`);
        const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
        if (typeof doc.issuer !== 'string' || typeof doc.jwks_uri !== 'string') throw new Error(`OpenID metadata ${url} lacks issuer or jwks_uri`);
        return { issuer: doc.issuer, jwksUri: doc.jwks_uri };
      })();
      metas.set(v, p);
      p.catch(() => metas.delete(v)); // retried on the next token
    }
    return p;
  };

  async function refresh(v: TokenVersion): Promise<void> {
    const m = await meta(v);
    const res = await fetch(m.jwksUri, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`JWKS ${m.jwksUri} answered ${res.status}`);
    const doc = (await res.json()) as { keys?: Array<JWK & { issuer?: string }> };
    const keys = new Map<string, SigningKey>();
    for (const jwk of doc.keys ?? []) {
      if (!jwk.kid || jwk.kty !== 'RSA' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      try {
        keys.set(jwk.kid, { key: await importJWK({ ...jwk, alg: 'RS256' }, 'RS256'), issuer: typeof jwk.issuer === 'string' ? jwk.issuer : undefined });
      } catch {
        /* skip a key we cannot use */
      }
    }
    sets.set(v, { keys, fetchedAt: now() });
  }

  const inflight = new Map<TokenVersion, Promise<void>>();
  const lastAttempt = new Map<TokenVersion, number>();
  // With no key set yet (Entra ID unreachable at start or since), a failed fetch is the answer for
  // FAILED_FETCH_RETRY_MS: a flood of tokens then costs no fetch each (red team, session 17).
  const failed = new Map<TokenVersion, { at: number; err: unknown }>();
  return {
    async key(v, kid) {
      const set = sets.get(v);
      const f = failed.get(v);
      if (!set && f && now() - f.at < FAILED_FETCH_RETRY_MS) throw f.err;
      const stale = !set || now() - set.fetchedAt > maxAgeMs;
      const unknown = !set?.keys.has(kid);
      const cooled = now() - (lastAttempt.get(v) ?? -Infinity) >= cooldownMs;
      if ((stale && (!set || cooled)) || (unknown && cooled)) {
        let p = inflight.get(v);
        if (!p) {
          lastAttempt.set(v, now());
          p = refresh(v)
            .then(
              () => void failed.delete(v),
              (err: unknown) => {
                failed.set(v, { at: now(), err });
                throw err;
              },
            )
            .finally(() => inflight.delete(v));
          inflight.set(v, p);
        }
        await p;
      }
      return sets.get(v)?.keys.get(kid);
    },
    async issuerFor(v, tid) {
      return (await meta(v)).issuer.replace('{tenantid}', tid);
    },
  };
}
