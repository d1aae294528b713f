// Every flag and variable of `gatehouse-agent`, declared once: flag, variable, default, parser, help. `--help`
// prints this table, each command reads the ones it takes (COMMAND_SETTINGS), and a test checks
// docs/operations.md against it. A new setting is one entry here, its key in COMMAND_SETTINGS, and its row in
// docs/operations.md.
import { boolean, duration, hostPort, oneOf, pickSettings, repeatedSetting, setting, text, type SettingTable } from '@gatehouse/shared';

export const AGENT_SETTINGS = {
  config: setting({ flag: 'config', arg: 'PATH', shownDefault: "the platform's, below", parse: text({ nonEmpty: true }), help: 'the agent config file' }),
  hub: repeatedSetting({
    flag: 'hub',
    arg: 'URL',
    parse: text({ nonEmpty: true }),
    help: 'register, join: a hub to dial (repeat for several hubs), https:// (http:// only on the same machine or container network)',
  }),
  gateway: setting({ flag: 'gateway', arg: 'ID', parse: text(), help: 'register, join: the gateway id' }),
  key: setting({ flag: 'key', arg: 'KEY', parse: text(), help: 'register, join: the one-time registration key' }),
  allow: repeatedSetting({
    flag: 'allow',
    arg: 'URL-PREFIX',
    parse: text({ nonEmpty: true }),
    help: 'register, join: a URL prefix the agent may call (repeat; at least one)',
  }),
  name: setting({ flag: 'name', arg: 'NAME', default: 'agent', parse: text(), help: "register, join: this member's name" }),
  recoveryKey: setting({
    flag: 'recovery-key',
    env: 'GATEHOUSE_RECOVERY_KEY',
    arg: 'SECRET',
    parse: text(),
    help: 'register (generated if not given), join, rotate-key: the secret the gateway key is sealed under (the variable keeps it out of the process list and shell history)',
  }),
  add: repeatedSetting({ flag: 'add', arg: 'URL-PREFIX', parse: text({ nonEmpty: true }), help: 'allow: add a URL prefix (repeat)' }),
  remove: repeatedSetting({ flag: 'remove', arg: 'URL-PREFIX', parse: text({ nonEmpty: true }), help: 'allow: remove a URL prefix (repeat)' }),
  drainTimeoutMs: setting({
    flag: 'drain-timeout',
    arg: 'DURATION',
    default: '600s',
    parse: duration({ expected: 'a duration like 600s, 10m or 1500ms (a bare number: seconds)' }),
    help: 'run, install-service: on SIGTERM, how long calls in flight may take to finish',
  }),
  metricsListen: setting({
    flag: 'metrics-listen',
    arg: 'HOST:PORT',
    parse: hostPort(),
    help: 'run: serve Prometheus metrics at http://HOST:PORT/metrics (use a loopback address); default off',
  }),
  keytab: setting({
    flag: 'keytab',
    arg: 'PATH',
    parse: text({ nonEmpty: true }),
    help: 'run: the Kerberos identity for WindowsGateway connections without a password',
  }),
  print: setting({ flag: 'print', boolean: true, parse: boolean(), help: 'install-service, uninstall-service: show what would be done, change nothing' }),
  platform: setting({
    flag: 'platform',
    arg: 'linux|windows',
    shownDefault: "this machine's",
    parse: oneOf(['linux', 'windows'] as const),
    help: 'install-service, uninstall-service: the service manager',
  }),
  user: setting({ flag: 'user', arg: 'USER', default: 'gatehouse', parse: text(), help: 'install-service: the system user the service runs as' }),
  winsw: setting({ flag: 'winsw', arg: 'PATH', parse: text(), help: 'install-service, uninstall-service (Windows): the WinSW executable' }),
  logLevel: setting({
    env: 'GATEHOUSE_LOG_LEVEL',
    default: 'info',
    parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    help: 'run: log level',
  }),
} satisfies SettingTable;

export type AgentSettingKey = keyof typeof AGENT_SETTINGS;

const SERVICE = ['config', 'print', 'platform', 'user', 'winsw', 'drainTimeoutMs'] as const;
/** The settings each command takes. */
export const COMMAND_SETTINGS = {
  register: pickSettings(AGENT_SETTINGS, ['hub', 'gateway', 'key', 'allow', 'name', 'recoveryKey', 'config']),
  join: pickSettings(AGENT_SETTINGS, ['hub', 'gateway', 'key', 'allow', 'name', 'recoveryKey', 'config']),
  run: pickSettings(AGENT_SETTINGS, ['config', 'drainTimeoutMs', 'metricsListen', 'keytab', 'logLevel']),
  status: pickSettings(AGENT_SETTINGS, ['config']),
  doctor: pickSettings(AGENT_SETTINGS, ['config']),
  'rotate-key': pickSettings(AGENT_SETTINGS, ['config', 'recoveryKey']),
  allow: pickSettings(AGENT_SETTINGS, ['config', 'add', 'remove']),
  'install-service': pickSettings(AGENT_SETTINGS, SERVICE),
  'uninstall-service': pickSettings(AGENT_SETTINGS, SERVICE),
} as const;
