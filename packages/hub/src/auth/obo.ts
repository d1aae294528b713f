// On-Behalf-Of (SPEC section 7): the hub trades the caller's token for one to the connection's resource,
// with @azure/msal-node against {authorityHost}/{tid}. Tokens are cached per (tid, oid, resource) until
// shortly before they expire; a consent refusal drops the entry at once, so a grant made afterwards works on
// the very next call. Entra's errors become the hub's coded errors.
import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { GatehouseError } from '@gatehouse/shared';
import type { Caller } from './caller-auth.js';
import { KNOWN_LOGIN_HOSTS } from './clouds.js';
import type { Logger } from '../log.js';

export interface OboOptions {
  authorityHost: string;
  clientId: string;
  clientSecret: string | undefined;
  clientCertificate: { thumbprintSha256: string; privateKey: string; x5c?: string } | undefined;
  /** Audiences a caller token must carry to be redeemed (the hub's client id and App ID URI). */
  audiences: string[];
  /** Refresh this long before expiry. Default 5 minutes. */
  refreshMarginMs?: number;
  log: Logger;
  now?: () => number;
}

export interface OboClient {
  token(caller: Caller, resourceUri: string): Promise<string>;
  /** Counts for metrics and tests: token requests sent to Entra ID. */
  readonly requests: number;
  /** Tokens held: the hub's own cache (at most OBO_CACHE_MAX), and what msal's caches hold (kept at 0). */
  held(): { hub: number; msal: number };
}

/** The most On-Behalf-Of tokens the hub keeps, one per (tenant, user, resource); past it the oldest goes. */
export const OBO_CACHE_MAX = 10_000;
/** The most tenants with an msal client of their own (one authority each); past it the least recently used goes. */
export const OBO_TENANTS_MAX = 1_000;

interface MsalError {
  errorCode?: string;
  subError?: string;
  errorNo?: string | number;
  errorMessage?: string;
  claims?: string;
  message?: string;
}

function aadCode(e: MsalError): string | undefined {
  if (e.errorNo !== undefined && e.errorNo !== '') return String(e.errorNo);
  return /AADSTS(\d+)/.exec(e.errorMessage ?? e.message ?? '')?.[1];
}

export function createOboClient(o: OboOptions): OboClient {
  const margin = o.refreshMarginMs ?? 5 * 60_000;
  const now = o.now ?? Date.now;
  const apps = new Map<string, ConfidentialClientApplication>();
  const cache = new Map<string, { token: string; refreshAt: number }>();
  const host = new URL(o.authorityHost).host;
  let requests = 0;

  const app = (tid: string) => {
    let a = apps.get(tid);
    // Least recently used first in the Map's order, for the bound below.
    if (a) apps.delete(tid);
    else {
      const config: Configuration = {
        auth: {
          clientId: o.clientId,
          authority: `${o.authorityHost}/${tid}`,
          ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
          ...(o.clientCertificate ? { clientCertificate: o.clientCertificate } : {}),
          // A host msal does not know (GATEHOUSE_AUTHORITY_HOST) must be listed, with its port.
          ...(KNOWN_LOGIN_HOSTS.has(host) ? {} : { knownAuthorities: [host] }),
        },
        system: {
          loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: (_l, m) => o.log.warn({ msal: m.slice(0, 500) }, 'msal') },
        },
      };
      a = new ConfidentialClientApplication(config);
      if (apps.size >= OBO_TENANTS_MAX) apps.delete(apps.keys().next().value!);
    }
    apps.set(tid, a);
    return a;
  };

  function mapError(e: MsalError, caller: Caller, resourceUri: string): GatehouseError {
    const code = aadCode(e);
    if (code === '65001' || e.subError === 'consent_required') {
      const url = `${o.authorityHost}/${caller.tid}/adminconsent?client_id=${o.clientId}`;
      return new GatehouseError(
        'ConsentRequired',
        `hub -> Entra ID: the hub app ${o.clientId} has no consent to call ${resourceUri} (${resourceUri}/.default) for users of tenant ${caller.tid} (AADSTS65001). ` +
          `An administrator can grant it at ${url} or with \`gatehouse-hub grant\`.`,
      );
    }
    if ((code === '50076' || code === '50079' || e.errorCode === 'interaction_required') && e.claims) {
      const claims = Buffer.from(e.claims).toString('base64');
      return new GatehouseError(
        'Unauthorized',
        `hub -> Entra ID: Entra ID needs more from the user (AADSTS${code ?? '50076'}, for example multi-factor authentication): get a new token with the claims challenge in WWW-Authenticate`,
        { 'www-authenticate': `Bearer error="insufficient_claims", client_id="${o.clientId}", claims="${claims}"` },
      );
    }
    if (code === '500133') {
      return new GatehouseError('Unauthorized', 'hub -> Entra ID: the caller token is no longer valid for On-Behalf-Of (AADSTS500133): sign in again', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    if (code) return new GatehouseError('BadGateway', `hub -> Entra ID: the token request for ${resourceUri} failed with AADSTS${code}`);
    return new GatehouseError('BadGateway', `hub -> Entra ID: the token request for ${resourceUri} failed (${e.errorCode ?? 'no answer'})`);
  }

  return {
    get requests() {
      return requests;
    },
    held() {
      let msal = 0;
      // Every entry but the authority's metadata, which msal keeps on purpose (one per tenant) and clearCache leaves.
      for (const a of apps.values()) msal += Object.keys(a.getTokenCache().getKVStore()).filter((k) => !k.includes('authority-metadata')).length;
      return { hub: cache.size, msal };
    },
    async token(caller, resourceUri) {
      // On-Behalf-Of trades a user's token; an app-only token has no user to act for.
      if (caller.kind === 'app')
        throw new GatehouseError(
          'Forbidden',
          'caller -> hub: EntraAuth connections call on behalf of a signed-in user (On-Behalf-Of); an app-only token has none: call with a delegated user token',
        );
      // Never redeem a token that is not addressed to the hub (validated already; checked again here).
      const aud = decodeJwt(caller.token).aud;
      if (typeof aud !== 'string' || !o.audiences.includes(aud))
        throw new GatehouseError('Unauthorized', 'caller -> hub: the access token is not for this hub');
      const key = `${caller.tid}|${caller.oid}|${resourceUri}`;
      const hit = cache.get(key);
      if (hit && now() < hit.refreshAt) return hit.token;
      cache.delete(key);
      requests += 1;
      let result;
      const client = app(caller.tid);
      try {
        result = await client.acquireTokenOnBehalfOf({ oboAssertion: caller.token, scopes: [`${resourceUri}/.default`], skipCache: true });
      } catch (err) {
        const mapped = mapError(err as MsalError, caller, resourceUri);
        o.log.info({ code: mapped.code, aad: aadCode(err as MsalError), tid: caller.tid, resource: resourceUri }, 'on-behalf-of refused');
        throw mapped;
      } finally {
        // `skipCache` only skips msal's lookup: msal still saves every token (with its account and id token) in its
        // own in-memory cache, which nothing bounds, and each save grew slower with what it held. A tenant's users,
        // each a first On-Behalf-Of, took the hub's RSS from 107 to 221 MB and another tenant's p50 from 2.5 to 201
        // ms (red team, session 18). The hub keeps its own bounded cache (above), so msal's is emptied after each
        // request (authority metadata stays).
        client.clearCache();
      }
      if (!result?.accessToken) throw new GatehouseError('BadGateway', `hub -> Entra ID: no token for ${resourceUri}`);
      const expires = result.expiresOn ? result.expiresOn.getTime() : now() + 3600_000;
      if (cache.size >= OBO_CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(key, { token: result.accessToken, refreshAt: Math.max(now(), expires - margin) });
      return result.accessToken;
    },
  };
}
