// Entra ID sign-in with MSAL Browser: authorization code with PKCE against the hub's app registration, the hub's
// scope, tokens in session storage (gone when the tab closes). The redirect URI is this page, /console/.
import { InteractionRequiredAuthError, PublicClientApplication, type AccountInfo } from '@azure/msal-browser';
import type { Session } from './session.js';

export interface EntraSettings {
  clientId: string;
  authority: string;
  scopes: string[];
}

/** Sign-in hosts MSAL knows itself. Another (GATEHOUSE_AUTHORITY_HOST pointing elsewhere) is named a known
 *  authority, so MSAL asks that host for its metadata instead of asking login.microsoftonline.com to discover it
 *  (which the console's CSP would refuse: connect-src names only the hub and the configured host). */
const MICROSOFT_HOSTS = [
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.windows.net',
  'login.partner.microsoftonline.cn',
];

/** The session, or undefined when nobody is signed in yet (then `signIn` starts the redirect). */
export async function msalSession(s: EntraSettings): Promise<{ session?: Session; signIn(): Promise<void> }> {
  const app = new PublicClientApplication({
    auth: {
      clientId: s.clientId,
      authority: s.authority,
      knownAuthorities: MICROSOFT_HOSTS.includes(new URL(s.authority).host) ? [] : [new URL(s.authority).host],
      redirectUri: `${location.origin}/console/`,
      postLogoutRedirectUri: `${location.origin}/console/`,
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
  await app.initialize();
  const back = await app.handleRedirectPromise();
  const account: AccountInfo | undefined = back?.account ?? app.getAllAccounts()[0];
  const signIn = () => app.loginRedirect({ scopes: s.scopes });
  if (!account) return { signIn };
  app.setActiveAccount(account);
  const token = async () => {
    try {
      return (await app.acquireTokenSilent({ scopes: s.scopes, account })).accessToken;
    } catch (err) {
      if (err instanceof InteractionRequiredAuthError) await app.acquireTokenRedirect({ scopes: s.scopes, account });
      throw err;
    }
  };
  const oid = typeof account.idTokenClaims?.oid === 'string' ? account.idTokenClaims.oid : account.localAccountId;
  return { session: { who: account.name ?? account.username, oid, token, signOut: () => app.logoutRedirect({ account }) }, signIn };
}
