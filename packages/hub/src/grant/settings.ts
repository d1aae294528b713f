// The flags of `gatehouse-hub grant`, declared once (flag, variable, default, parser, help): `grant --help`
// prints them, command.ts reads them. A new flag is one entry here (and in GENERAL or SIGN_IN for --help).
import { boolean, list, oneOf, setting, text, type SettingTable } from '@gatehouse/shared';
import { CLOUDS, type Cloud } from '../auth/clouds.js';

/** Microsoft Graph Command Line Tools: a public client every tenant can sign in to with device code. */
export const DEFAULT_ADMIN_CLIENT_ID = '14d82eec-204b-4c2f-b7e8-296a70dab67e';

export const GRANT_SETTINGS = {
  resource: setting({
    flag: 'resource',
    arg: 'R',
    parse: text(),
    help: "the resource's app id or service principal name (https://graph.microsoft.com, api://…)",
  }),
  clientId: setting({ flag: 'client-id', arg: 'ID', env: 'GATEHOUSE_CLIENT_ID', parse: text(), help: "the hub's app id" }),
  scopes: setting({
    flag: 'scopes',
    arg: '"A B"',
    parse: list(text(), { separator: /[\s,]+/ }),
    help: 'create: the delegated scopes to grant, separated by spaces or commas',
  }),
  consentType: setting({
    flag: 'consent-type',
    arg: 'T',
    shownDefault: 'AllPrincipals, or Principal with --user',
    parse: oneOf(['AllPrincipals', 'Principal'] as const),
    help: 'AllPrincipals (every user of the tenant) or Principal (one user, --user)',
  }),
  user: setting({ flag: 'user', arg: 'UPN|ID', parse: text(), help: 'the user of a Principal grant' }),
  grantId: setting({ flag: 'grant-id', arg: 'ID', parse: text(), help: 'delete: the grant to delete' }),
  replace: setting({ flag: 'replace', boolean: true, parse: boolean(), help: 'replace an existing grant of the same kind instead of refusing' }),
  dryRun: setting({ flag: 'dry-run', boolean: true, parse: boolean(), help: 'send only reads; print the POST/DELETE requests instead of sending them' }),
  json: setting({ flag: 'json', boolean: true, parse: boolean(), help: 'print JSON' }),
  tenant: setting({ flag: 'tenant', arg: 'T', parse: text(), help: 'tenant id or domain (required for device-code sign-in)' }),
  token: setting({
    flag: 'token',
    arg: 'TOKEN',
    env: 'GATEHOUSE_GRAPH_TOKEN',
    parse: text(),
    help: 'use this Microsoft Graph access token instead of signing in; unattended',
  }),
  cloud: setting({
    flag: 'cloud',
    arg: 'C',
    env: 'GATEHOUSE_CLOUD',
    default: 'AzurePublic',
    parse: oneOf(Object.keys(CLOUDS) as Cloud[]),
    help: 'AzurePublic | AzureUSGovernment | AzureUSGovernmentDoD | AzureChina',
  }),
  authorityHost: setting({
    flag: 'authority-host',
    arg: 'U',
    env: 'GATEHOUSE_AUTHORITY_HOST',
    shownDefault: "the cloud's",
    parse: text(),
    help: 'sign-in host override',
  }),
  graphHost: setting({ flag: 'graph-host', arg: 'U', shownDefault: "the cloud's", parse: text(), help: 'Microsoft Graph host override' }),
  adminClientId: setting({
    flag: 'admin-client-id',
    arg: 'ID',
    default: DEFAULT_ADMIN_CLIENT_ID,
    parse: text(),
    help: 'public client used for device-code sign-in',
  }),
} satisfies SettingTable;

/** How `grant --help` groups the flags: what to do, and how to sign in. */
export const GENERAL = ['resource', 'clientId', 'scopes', 'consentType', 'user', 'grantId', 'replace', 'dryRun', 'json'] as const;
export const SIGN_IN = ['tenant', 'token', 'cloud', 'authorityHost', 'graphHost', 'adminClientId'] as const;
