// Command line of `gatehouse-hub grant`: flags for everything (no prompts), device-code sign-in or a token.
import { PublicClientApplication, LogLevel } from '@azure/msal-node';
import { CLOUDS, KNOWN_LOGIN_HOSTS } from '../auth/clouds.js';
import { createGraph, GraphError } from './graph.js';
import { FlagError, flagRules, parseFlags, pickSettings, readSettings, settingsHelp, type SettingValues } from '@gatehouse/shared';
import { GENERAL, GRANT_SETTINGS, SIGN_IN } from './settings.js';
import { GrantError, createGrant, delegatedScopes, deleteGrants, findServicePrincipal, listGrants, userId } from './grant.js';

export { DEFAULT_ADMIN_CLIENT_ID } from './settings.js';

export const GRANT_HELP = `gatehouse-hub grant: manage the delegated permissions (oAuth2PermissionGrants) the hub's app needs
to call a resource on behalf of users: the cross-platform ManagePermissionGrant.ps1.

Usage:
  gatehouse-hub grant scopes --resource R [sign-in flags]            the resource's delegated scopes
  gatehouse-hub grant list   --resource R [sign-in flags]            grants from the hub's app to R
  gatehouse-hub grant create --resource R --scopes "A B" [--consent-type AllPrincipals|Principal] [--user UPN|ID] [--replace]
  gatehouse-hub grant delete --resource R [--grant-id ID | --consent-type T [--user UPN|ID]]

${settingsHelp(pickSettings(GRANT_SETTINGS, GENERAL))}

Sign-in (an administrator who may manage grants, e.g. Global Administrator or Privileged Role Administrator):
${settingsHelp(pickSettings(GRANT_SETTINGS, SIGN_IN))}
`;

type Settings = SettingValues<typeof GRANT_SETTINGS>;

/** The action and the settings (flags over GATEHOUSE_* variables), every problem in one GrantError. */
export function parseGrantArgs(args: string[], env: Record<string, string | undefined> = {}): { action: string; flags: Settings } {
  let parsed;
  try {
    parsed = parseFlags(args, flagRules(GRANT_SETTINGS, { positional: 1, hint: '(see gatehouse-hub grant --help)' }));
  } catch (err) {
    throw err instanceof FlagError ? new GrantError(err.message) : err;
  }
  const action = parsed.positional[0] ?? 'list';
  if (!['list', 'scopes', 'create', 'delete'].includes(action)) throw new GrantError(`unknown action ${action}: list, scopes, create or delete`);
  const { values, problems } = readSettings(GRANT_SETTINGS, { flags: parsed.all, env, nameBy: 'flag' });
  if (problems.length > 0) throw new GrantError(problems.join('; '));
  return { action, flags: values };
}

async function signIn(flags: Settings, authorityHost: string, graphHost: string, log: (s: string) => void): Promise<string> {
  const given = flags.token;
  if (given) return given;
  if (!flags.tenant) throw new GrantError('--tenant is required to sign in (or pass --token)');
  const host = new URL(authorityHost).host;
  const app = new PublicClientApplication({
    auth: {
      clientId: flags.adminClientId,
      authority: `${authorityHost}/${flags.tenant}`,
      ...(KNOWN_LOGIN_HOSTS.has(host) ? {} : { knownAuthorities: [host] }),
    },
    system: { loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => {} } },
  });
  const result = await app
    .acquireTokenByDeviceCode({
      scopes: [`${graphHost}/DelegatedPermissionGrant.ReadWrite.All`, `${graphHost}/Application.Read.All`, `${graphHost}/User.ReadBasic.All`],
      deviceCodeCallback: (r) => log(r.message),
    })
    .catch((err: { errorCode?: string; errorMessage?: string; message?: string }) => {
      throw new GrantError(`sign-in failed: ${err.errorMessage ?? err.message ?? err.errorCode}`);
    });
  if (!result?.accessToken) throw new GrantError('sign-in returned no token');
  return result.accessToken;
}

export async function runGrant(args: string[], env: Record<string, string | undefined>, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const { action, flags } = parseGrantArgs(args, env);
  const cloud = flags.cloud;
  const authorityHost = (flags.authorityHost ?? CLOUDS[cloud].login).replace(/\/+$/, '');
  const graphHost = (flags.graphHost ?? CLOUDS[cloud].graph).replace(/\/+$/, '');
  const clientAppId = flags.clientId;
  if (!clientAppId) throw new GrantError('--client-id (the hub app id) is required');
  if (!flags.resource) throw new GrantError('--resource is required');
  const consentType = flags.consentType ?? (flags.user ? 'Principal' : 'AllPrincipals');
  if (consentType === 'Principal' && !flags.user && action === 'create') throw new GrantError('--consent-type Principal needs --user');
  const scopes = flags.scopes ?? [];
  if (action === 'create' && scopes.length === 0) throw new GrantError('--scopes is required for create');

  const token = await signIn(flags, authorityHost, graphHost, err);
  const g = createGraph(graphHost, token, { dryRun: flags.dryRun === true, print: out });
  const json = flags.json === true;
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
        if (json) {
          out(JSON.stringify(grants));
          return;
        }
        if (grants.length === 0) {
          out(`no grants from ${client.displayName} to ${resource.displayName}`);
          return;
        }
        for (const x of grants) out(`${x.id}  ${x.consentType}${x.principalId ? ` ${x.principalId}` : ''}  ${x.scope.trim()}`);
        return;
      }
      case 'create': {
        const principalId = consentType === 'Principal' ? await userId(g, flags.user!) : null;
        const r = await createGrant(g, client, resource, { scopes, consentType, principalId, replace: flags.replace === true });
        if (json) {
          out(JSON.stringify(r));
          return;
        }
        for (const id of r.deleted) out(`${flags.dryRun ? 'would delete' : 'deleted'} ${id}`);
        out(r.created ? `created ${r.created.id}  ${r.created.consentType}  ${r.created.scope}` : 'nothing created (dry run)');
        return;
      }
      case 'delete': {
        const principalId = flags.user ? await userId(g, flags.user) : undefined;
        const ids = await deleteGrants(g, client, resource, { grantId: flags.grantId, consentType: flags.consentType ? consentType : undefined, principalId });
        out(json ? JSON.stringify(ids) : ids.length ? ids.map((id) => `${flags.dryRun ? 'would delete' : 'deleted'} ${id}`).join('\n') : 'no matching grants');
        return;
      }
    }
  } catch (e) {
    if (e instanceof GraphError) throw new GrantError(e.message);
    throw e;
  }
}
