// Command line of `gatehouse-hub grant`: flags for everything (no prompts), device-code sign-in or a token.
import { PublicClientApplication, LogLevel } from '@azure/msal-node';
import { CLOUDS, KNOWN_LOGIN_HOSTS, type Cloud } from '../auth/clouds.js';
import { createGraph, GraphError } from './graph.js';
import { FlagError, parseFlags } from '@gatehouse/shared';
import { GrantError, createGrant, delegatedScopes, deleteGrants, findServicePrincipal, listGrants, userId } from './grant.js';

/** Microsoft Graph Command Line Tools: a public client every tenant can sign in to with device code. */
export const DEFAULT_ADMIN_CLIENT_ID = '14d82eec-204b-4c2f-b7e8-296a70dab67e';

export const GRANT_HELP = `gatehouse-hub grant: manage the delegated permissions (oAuth2PermissionGrants) the hub's app needs
to call a resource on behalf of users: the cross-platform ManagePermissionGrant.ps1.

Usage:
  gatehouse-hub grant scopes --resource R [sign-in flags]            the resource's delegated scopes
  gatehouse-hub grant list   --resource R [sign-in flags]            grants from the hub's app to R
  gatehouse-hub grant create --resource R --scopes "A B" [--consent-type AllPrincipals|Principal] [--user UPN|ID] [--replace]
  gatehouse-hub grant delete --resource R [--grant-id ID | --consent-type T [--user UPN|ID]]

  --resource R        the resource's app id or service principal name (https://graph.microsoft.com, api://…)
  --client-id ID      the hub's app id (default: GATEHOUSE_CLIENT_ID)
  --consent-type T    AllPrincipals (default: every user of the tenant) or Principal (one user, --user)
  --replace           replace an existing grant of the same kind instead of refusing
  --dry-run           send only reads; print the POST/DELETE requests instead of sending them
  --json              print JSON

Sign-in (an administrator who may manage grants, e.g. Global Administrator or Privileged Role Administrator):
  --tenant T          tenant id or domain (required for device-code sign-in)
  --token TOKEN       use this Microsoft Graph access token instead (also GATEHOUSE_GRAPH_TOKEN); unattended
  --cloud C           AzurePublic | AzureUSGovernment | AzureUSGovernmentDoD | AzureChina (default GATEHOUSE_CLOUD or AzurePublic)
  --authority-host U  sign-in host override (default: the cloud's)
  --graph-host U      Microsoft Graph host override (default: the cloud's)
  --admin-client-id ID  public client used for device-code sign-in (default ${DEFAULT_ADMIN_CLIENT_ID})
`;

type Flags = Record<string, string | undefined>;
const GRANT_FLAGS = ['resource', 'client-id', 'scopes', 'consent-type', 'user', 'replace', 'grant-id', 'dry-run', 'json', 'tenant', 'token', 'cloud', 'authority-host', 'graph-host', 'admin-client-id'];

export function parseGrantArgs(args: string[]): { action: string; flags: Flags } {
  let parsed;
  try {
    parsed = parseFlags(args, { known: GRANT_FLAGS, booleans: ['replace', 'dry-run', 'json'], positional: 1, hint: '(see gatehouse-hub grant --help)' });
  } catch (err) {
    throw err instanceof FlagError ? new GrantError(err.message) : err;
  }
  const action = parsed.positional[0] ?? 'list';
  if (!['list', 'scopes', 'create', 'delete'].includes(action)) throw new GrantError(`unknown action ${action}: list, scopes, create or delete`);
  return { action, flags: parsed.one };
}

async function signIn(flags: Flags, env: Flags, authorityHost: string, graphHost: string, log: (s: string) => void): Promise<string> {
  const given = flags.token ?? env.GATEHOUSE_GRAPH_TOKEN;
  if (given) return given;
  if (!flags.tenant) throw new GrantError('--tenant is required to sign in (or pass --token)');
  const host = new URL(authorityHost).host;
  const app = new PublicClientApplication({
    auth: { clientId: flags['admin-client-id'] ?? DEFAULT_ADMIN_CLIENT_ID, authority: `${authorityHost}/${flags.tenant}`, ...(KNOWN_LOGIN_HOSTS.has(host) ? {} : { knownAuthorities: [host] }) },
    system: { loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => {} } },
  });
  const result = await app.acquireTokenByDeviceCode({
    scopes: [`${graphHost}/DelegatedPermissionGrant.ReadWrite.All`, `${graphHost}/Application.Read.All`, `${graphHost}/User.ReadBasic.All`],
    deviceCodeCallback: (r) => log(r.message),
  }).catch((err: { errorCode?: string; errorMessage?: string; message?: string }) => {
    throw new GrantError(`sign-in failed: ${err.errorMessage ?? err.message ?? err.errorCode}`);
  });
  if (!result?.accessToken) throw new GrantError('sign-in returned no token');
  return result.accessToken;
}

export async function runGrant(args: string[], env: Flags, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const { action, flags } = parseGrantArgs(args);
  const cloud = (flags.cloud ?? env.GATEHOUSE_CLOUD ?? 'AzurePublic') as Cloud;
  if (!(cloud in CLOUDS)) throw new GrantError(`--cloud must be one of ${Object.keys(CLOUDS).join(', ')}`);
  const authorityHost = (flags['authority-host'] ?? env.GATEHOUSE_AUTHORITY_HOST ?? CLOUDS[cloud].login).replace(/\/+$/, '');
  const graphHost = (flags['graph-host'] ?? CLOUDS[cloud].graph).replace(/\/+$/, '');
  const clientAppId = flags['client-id'] ?? env.GATEHOUSE_CLIENT_ID;
  if (!clientAppId) throw new GrantError('--client-id (the hub app id) is required');
  if (!flags.resource) throw new GrantError('--resource is required');
  const consentType = (flags['consent-type'] ?? (flags.user ? 'Principal' : 'AllPrincipals')) as 'AllPrincipals' | 'Principal';
  if (consentType !== 'AllPrincipals' && consentType !== 'Principal') throw new GrantError('--consent-type must be AllPrincipals or Principal');
  if (consentType === 'Principal' && !flags.user && action === 'create') throw new GrantError('--consent-type Principal needs --user');
  const scopes = (flags.scopes ?? '').split(/[\s,]+/).filter(Boolean);
  if (action === 'create' && scopes.length === 0) throw new GrantError('--scopes is required for create');

  const token = await signIn(flags, env, authorityHost, graphHost, err);
  const g = createGraph(graphHost, token, { dryRun: flags['dry-run'] === 'true', print: out });
  const json = flags.json === 'true';
  try {
    const client = await findServicePrincipal(g, clientAppId, 'the hub app');
    const resource = await findServicePrincipal(g, flags.resource, 'the resource');
    switch (action) {
      case 'scopes': {
        const s = delegatedScopes(resource);
        out(json ? JSON.stringify(s) : s.join('\n'));
        return;
      }
      case 'list': {
        const grants = await listGrants(g, client, resource);
        if (json) { out(JSON.stringify(grants)); return; }
        if (grants.length === 0) { out(`no grants from ${client.displayName} to ${resource.displayName}`); return; }
        for (const x of grants) out(`${x.id}  ${x.consentType}${x.principalId ? ` ${x.principalId}` : ''}  ${x.scope.trim()}`);
        return;
      }
      case 'create': {
        const principalId = consentType === 'Principal' ? await userId(g, flags.user!) : null;
        const r = await createGrant(g, client, resource, { scopes, consentType, principalId, replace: flags.replace === 'true' });
        if (json) { out(JSON.stringify(r)); return; }
        for (const id of r.deleted) out(`${flags['dry-run'] ? 'would delete' : 'deleted'} ${id}`);
        out(r.created ? `created ${r.created.id}  ${r.created.consentType}  ${r.created.scope}` : 'nothing created (dry run)');
        return;
      }
      case 'delete': {
        const principalId = flags.user ? await userId(g, flags.user) : undefined;
        const ids = await deleteGrants(g, client, resource, { grantId: flags['grant-id'], consentType: flags['consent-type'] ? consentType : undefined, principalId });
        out(json ? JSON.stringify(ids) : ids.length ? ids.map((id) => `${flags['dry-run'] ? 'would delete' : 'deleted'} ${id}`).join('\n') : 'no matching grants');
        return;
      }
    }
  } catch (e) {
    if (e instanceof GraphError) throw new GrantError(e.message);
    throw e;
  }
}
