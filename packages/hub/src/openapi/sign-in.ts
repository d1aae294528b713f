// Where callers get a token for the hub (SPEC section 2): the sign-in host of the configured cloud (or
// GATEHOUSE_AUTHORITY_HOST), the tenant, and the hub's scopes. GET /openapi.json's security scheme and the custom
// connector's apiProperties.json (connector/) both describe it from here.

export interface SignIn {
  /** https://login.microsoftonline.com, or the configured cloud's / authority host. */
  authorityHost: string;
  /** 'common' (any tenant), or the one allowed tenant. */
  tenant: string;
  /** The hub's App ID URI (GATEHOUSE_APP_ID_URI, default api://{client id}): the token's audience. */
  appIdUri: string;
  /** The delegated scope callers need in scp (GATEHOUSE_SCOPE). */
  scope: string;
}

export function signInOf(o: { authorityHost: string; allowedTenants: 'common' | readonly string[]; appIdUri: string; scope: string }): SignIn {
  const tenant = o.allowedTenants !== 'common' && o.allowedTenants.length === 1 ? o.allowedTenants[0]! : 'common';
  return { authorityHost: o.authorityHost.replace(/\/+$/, ''), tenant, appIdUri: o.appIdUri.replace(/\/+$/, ''), scope: o.scope };
}

export const authorizationUrl = (s: SignIn): string => `${s.authorityHost}/${s.tenant}/oauth2/v2.0/authorize`;
export const tokenUrl = (s: SignIn): string => `${s.authorityHost}/${s.tenant}/oauth2/v2.0/token`;
/** The scope a signed-in user's token needs (delegated). */
export const delegatedScope = (s: SignIn): string => `${s.appIdUri}/${s.scope}`;
/** What an app (a managed identity, a service principal) asks for: its app roles come in the token's roles. */
export const appScope = (s: SignIn): string => `${s.appIdUri}/.default`;
