#!/usr/bin/env node
// gatehouse-hub: process entry only. Parses the command line, builds the hub, starts it.
import { readFileSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { ConfigError, loadConfig } from './config.js';
import { HUB_SETTINGS } from './settings.js';
import { createHub } from './hub.js';
import { createLogger } from './log.js';
import { guardProcess } from './last-resort.js';
import { runDev } from './dev.js';
import { mintDevToken } from './auth/dev-identity.js';
import { GRANT_HELP, runGrant } from './grant/command.js';
import { CONNECTOR_HELP, ConnectorError, runConnectorDefinition } from './connector/command.js';
import { flagRules, parseFlags, readSettings, settingsHelp, type SettingTable, type SettingValues } from '@gatehouse/shared';
import { DEV_SETTINGS, TOKEN_SETTINGS } from './dev-settings.js';

const HELP = `gatehouse-hub: the Gatehouse cloud service

Usage:
  gatehouse-hub serve [flags]      run the hub (Entra ID callers, agent endpoint, API)
  gatehouse-hub dev [--listen 127.0.0.1:8080] [--dir .gatehouse-dev]
                                   quick start on loopback: hub with a development identity, a sample
                                   Basic-auth intranet service, an agent, a printed invoke command, and
                                   the web console at /console/ signed in as the development identity
  gatehouse-hub token [--dir .gatehouse-dev] [--ttl 3600] [--oid ID]
                                   print a caller token of the development identity (dev only;
                                   --oid: another user of the development tenant, to try ownership)
  gatehouse-hub grant [list|scopes|create|delete] --resource R [...]
                                   manage the delegated permission grants the hub needs (grant --help)
  gatehouse-hub connector-definition --hub https://hub.example.com [--out DIR] [--force]
                                   write a Power Platform custom connector for the hub
                                   (connector-definition --help)
  gatehouse-hub --help | --version

dev and token flags:
${settingsHelp({ ...DEV_SETTINGS, ...TOKEN_SETTINGS })}

serve flags (each also an environment variable; NAME_FILE reads a secret from a file):
${settingsHelp(HUB_SETTINGS)}
`;

/** A command's flags (and variables) read with its settings table; every problem in one error. */
function commandSettings<S extends SettingTable>(table: S, args: string[]): SettingValues<S> {
  const { values, problems } = readSettings(table, { flags: parseFlags(args, flagRules(table)).all, env: process.env, nameBy: 'flag' });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return values;
}

const hubVersion = (): string => (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'grant' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(GRANT_HELP);
    return;
  }
  if (command === 'connector-definition' && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(CONNECTOR_HELP);
    return;
  }
  if (!command || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return;
  }
  if (command === '--version') {
    process.stdout.write(`${hubVersion()}\n`);
    return;
  }
  switch (command) {
    case 'serve': {
      const config = loadConfig(process.env, parseFlags(rest, flagRules(HUB_SETTINGS)).all);
      const log = createLogger(config.logLevel);
      guardProcess(log);
      const hub = await createHub(config, { log });
      await hub.start();
      // The first signal drains (GATEHOUSE_DRAIN_TIMEOUT); a second one exits at once.
      let stopping = false;
      const stop = () => {
        if (stopping) process.exit(1);
        stopping = true;
        void hub.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      return;
    }
    case 'dev':
      await runDev(commandSettings(DEV_SETTINGS, rest), process.env);
      return;
    case 'token': {
      const flags = commandSettings(TOKEN_SETTINGS, rest);
      const dir = resolve(flags.dir);
      let key;
      try {
        key = JSON.parse(readFileSync(join(dir, 'dev-identity.json'), 'utf8'));
      } catch {
        throw new Error(`no development identity in ${dir}: start \`gatehouse-hub dev\` (npm start) first`);
      }
      process.stdout.write(`${await mintDevToken(key, { ttlSec: flags.ttlSec, oid: flags.oid })}\n`);
      return;
    }
    case 'grant':
      await runGrant(
        rest,
        process.env,
        (l) => process.stdout.write(`${l}\n`),
        (l) => process.stderr.write(`${l}\n`),
      );
      return;
    case 'connector-definition':
      for (const line of runConnectorDefinition(rest, process.env, hubVersion())) process.stdout.write(`${line}\n`);
      return;
    default:
      throw new Error(`unknown command ${command} (try --help)`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const msg = err instanceof ConfigError ? `configuration: ${err.problems.join('; ')}` : (err as Error).message;
  process.stderr.write(`gatehouse-hub: ${msg}\n`);
  // connector-definition tells its failures apart (CONNECTOR_HELP); every other failure exits 2.
  process.exit(err instanceof ConnectorError ? err.exitCode : 2);
});
