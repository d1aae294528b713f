// The flags of `gatehouse-hub dev` and `gatehouse-hub token`, declared with the settings model (settings.ts
// holds serve's). A new flag is one entry here.
import { hostPort, integer, refine, setting, text, type SettingTable } from '@gatehouse/shared';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const dir = setting({
  flag: 'dir',
  arg: 'DIR',
  default: '.gatehouse-dev',
  parse: text({ nonEmpty: true }),
  help: 'where the development identity, database and agent config live',
});

export const DEV_SETTINGS = {
  listen: setting({
    env: 'GATEHOUSE_LISTEN',
    flag: 'listen',
    arg: 'HOST:PORT',
    default: '127.0.0.1:8080',
    parse: refine(hostPort(), (hp) => (LOOPBACK.has(hp.host) ? undefined : '127.0.0.1:PORT (dev binds to loopback only)')),
    help: 'host:port to listen on, loopback only',
  }),
  dir,
} satisfies SettingTable;

export const TOKEN_SETTINGS = {
  dir,
  ttlSec: setting({
    flag: 'ttl',
    arg: 'SECONDS',
    default: '3600',
    parse: integer({ min: 1, max: 86_400, expected: 'seconds from 1 to 86400' }),
    help: 'lifetime of the token',
  }),
  oid: setting({ flag: 'oid', arg: 'ID', parse: text(), help: 'another user of the development tenant, to try ownership' }),
} satisfies SettingTable;
