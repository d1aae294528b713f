// The flags of `gatehouse-hub connector-definition`, declared once (flag, variable, default, parser, help): its
// --help prints them, command.ts reads them. The sign-in ones take the hub's own variables, so on the hub's machine
// the files describe the hub as it is configured.
import { boolean, oneOf, setting, text, type SettingTable } from '@gatehouse/shared';
import { CLOUDS, type Cloud } from '../auth/clouds.js';

export const CONNECTOR_SETTINGS = {
  hub: setting({ flag: 'hub', arg: 'URL', parse: text(), help: "the hub's public https address, as Power Platform will call it (required)" }),
  out: setting({ flag: 'out', arg: 'DIR', default: '.', parse: text(), help: 'the folder to write the two files to (made if missing)' }),
  force: setting({ flag: 'force', boolean: true, parse: boolean(), help: 'replace the files if they are there (default: refuse, exit 3)' }),
  connectorClientId: setting({
    flag: 'connector-client-id',
    arg: 'ID',
    shownDefault: 'a placeholder to replace',
    parse: text(),
    help: "the connector's own Entra app (client) id (not the hub's)",
  }),
  clientId: setting({ env: 'GATEHOUSE_CLIENT_ID', flag: 'client-id', arg: 'ID', parse: text(), help: "the hub's Entra app (client) id" }),
  appIdUri: setting({
    env: 'GATEHOUSE_APP_ID_URI',
    flag: 'app-id-uri',
    arg: 'URI',
    shownDefault: 'api://{client id}',
    parse: text(),
    help: "the hub's App ID URI: the token audience (--client-id or this is required)",
  }),
  scope: setting({
    env: 'GATEHOUSE_SCOPE',
    flag: 'scope',
    arg: 'S',
    default: 'user_impersonation',
    parse: text(),
    help: 'the delegated scope the hub asks for',
  }),
  cloud: setting({
    env: 'GATEHOUSE_CLOUD',
    flag: 'cloud',
    arg: 'C',
    default: 'AzurePublic',
    parse: oneOf(Object.keys(CLOUDS) as Cloud[]),
    help: 'AzurePublic | AzureUSGovernment | AzureUSGovernmentDoD | AzureChina: its sign-in host',
  }),
  authorityHost: setting({
    env: 'GATEHOUSE_AUTHORITY_HOST',
    flag: 'authority-host',
    arg: 'U',
    shownDefault: "the cloud's",
    parse: text(),
    help: 'sign-in host override (https)',
  }),
  tenant: setting({ flag: 'tenant', arg: 'T', default: 'common', parse: text(), help: 'the tenant users sign in to: common (any), or a tenant id or domain' }),
} satisfies SettingTable;
