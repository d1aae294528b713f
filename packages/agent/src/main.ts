#!/usr/bin/env node
// gatehouse-agent: process entry only.
import { existsSync, readFileSync, watchFile } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AgentConfigError, DEFAULT_CONFIG_PATH, editAllow, readAgentConfig, writeAgentConfig } from './config.js';
import { rotateKey } from './key-sync.js';
import { doctor } from './doctor.js';
import { type SettingTable, flagRules, parseFlags, pickSettings, readSettings, settingsHelp } from '@gatehouse/shared';
import { AGENT_SETTINGS, COMMAND_SETTINGS } from './settings.js';
import { loadRunConfig } from './run-config.js';
import { manageService } from './service/install.js';
import { fileURLToPath } from 'node:url';
import { createAgent } from './agent.js';
import { createLogger } from './log.js';
import { guardProcess } from './last-resort.js';
import { join as joinGateway, register } from './register.js';
import { createAgentMetrics, serveMetrics } from './metrics.js';

/** How often a running agent looks at its config file for allow-list changes. */
const CONFIG_POLL_MS = 2000;
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const FLAG_KEYS = (Object.keys(AGENT_SETTINGS) as Array<keyof typeof AGENT_SETTINGS>).filter((k) => AGENT_SETTINGS[k].flag);
const ENV_KEYS = (Object.keys(AGENT_SETTINGS) as Array<keyof typeof AGENT_SETTINGS>).filter((k) => !AGENT_SETTINGS[k].flag);

const HELP = `gatehouse-agent: runs inside the corporate network, dials the hub, calls intranet services

Usage:
  gatehouse-agent register --hub URL [--hub URL...] --gateway ID --key KEY --allow URL-PREFIX [--allow ...]
                           [--name NAME] [--recovery-key SECRET] [--config PATH]
      Makes this machine the first member of a gateway: trades the one-time registration key for a member
      credential, creates the gateway key pair (connection credentials are sealed to it; only agents can open
      them), uploads the private key sealed under the recovery key (generated and printed once if not given),
      and writes the config with owner-only permissions.
  gatehouse-agent run [--config PATH] [--drain-timeout DURATION] [--metrics-listen HOST:PORT] [--keytab PATH]
      Connects to every hub in the config and serves relayed calls. SIGTERM/SIGINT: stop taking new calls,
      finish those in flight (at most --drain-timeout), exit. --metrics-listen serves
      Prometheus metrics at http://HOST:PORT/metrics (default: off; use a loopback address). --keytab: the
      Kerberos identity for WindowsGateway connections that carry no password (docs/windows-auth.md).
  gatehouse-agent status [--config PATH]
      Says whether a running agent is connected (exit 0 when connected to at least one hub, 1 otherwise).
  gatehouse-agent join --hub URL [--hub URL...] --gateway ID --key KEY --recovery-key SECRET --allow URL-PREFIX...
                       [--name NAME] [--config PATH]
      Adds this machine as another member of a gateway (up to 10): the recovery key opens the gateway key
      (checked before anything is registered); the key comes from POST /v1/gateways/{id}/registration-keys.
  gatehouse-agent doctor [--config PATH]
      Checks each link in order, for every hub: DNS, TCP (to the proxy if one is set), the proxy's CONNECT,
      TLS, the WebSocket upgrade, the agent's credential; then that each --allow service answers. Prints
      which link fails and why; exit 1 when one does.
  gatehouse-agent rotate-key --recovery-key SECRET [--config PATH]
      Replaces the gateway key pair: every connection's credentials are re-sealed to the new key here (nobody
      re-enters a password), the new key is sealed under the recovery key for \`join\`, and the other members
      take it up from a hand-off sealed to the old key when they reconnect. Credentials the old key cannot open
      either (sealed wrongly by a client) are kept as they were, and the command names their connections.
  gatehouse-agent allow [--add URL-PREFIX]... [--remove URL-PREFIX]... [--config PATH]
      Lists the URL prefixes this agent calls; --add and --remove change them (checked as at register; the
      list cannot become empty). A running agent applies the change within 2 s, without a restart, or at
      once on SIGHUP (systemctl reload gatehouse-agent).
  gatehouse-agent install-service [--config PATH] [--user gatehouse] [--drain-timeout DURATION] [--print]
                                  [--platform linux|windows] [--winsw PATH]
  gatehouse-agent uninstall-service [--print] [--platform linux|windows] [--winsw PATH]
      Linux: a hardened systemd unit running as a dedicated system user (created if missing), enabled and
      started. Windows: a WinSW service definition (--winsw names the WinSW executable). --print shows the
      unit or XML and every command without changing anything. The config file is never overwritten.
      It works only on a directory that is the agent's own (default /etc/gatehouse), accepted only as
      /etc/gatehouse*, /opt/NAME, /srv/NAME, /var/lib/NAME, /var/opt/NAME or below (after .. and symlinks are
      resolved; no name starting with ., not in a home directory), holding only the agent's files (config,
      status file, agent.env, agent.keytab, kerberos-ccache/; no symlink or hard link). Anything else, a
      --config with whitespace, %, quotes, backslashes or control characters, or a --user outside
      [a-z_][a-z0-9_-]*[$]? (at most 32), is refused with exit code 2 before anything changes; only the
      directory and the agent's own files are handed to the service user.

The agent calls only URLs under its --allow prefixes, whatever the hub asks.
Flags and variables (a duration is 600s, 10m, 1500ms, or bare seconds):
${settingsHelp(pickSettings(AGENT_SETTINGS, FLAG_KEYS))}
${settingsHelp(pickSettings(AGENT_SETTINGS, ENV_KEYS))}

Config default: ${DEFAULT_CONFIG_PATH}. Environment: HTTPS_PROXY /
HTTP_PROXY / NO_PROXY for the way to the hub (proxy credentials in the URL; NO_PROXY takes names, .suffixes,
addresses with an optional :port, CIDR networks, *); NODE_EXTRA_CA_CERTS for an
internal CA (intranet services or the hub); KRB5_CONFIG for Kerberos. The systemd unit reads them from
agent.env beside the config, if it exists.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return 0;
  }
  if (command === '--version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const table: SettingTable | undefined = Object.hasOwn(COMMAND_SETTINGS, command) ? COMMAND_SETTINGS[command as keyof typeof COMMAND_SETTINGS] : undefined;
  if (!table) throw new AgentConfigError(`unknown command ${command} (try --help)`);
  const flags = parseFlags(rest, flagRules(table)).all;
  // `run` checks its settings together with the config file (run-config.ts); the other commands here.
  if (command !== 'run') {
    const { problems } = readSettings(table, { flags, env: process.env });
    if (problems.length > 0) throw new AgentConfigError(problems.join('; '));
  }
  const s = readSettings(AGENT_SETTINGS, { flags, env: process.env }).values;
  const configPath = s.config ?? DEFAULT_CONFIG_PATH;
  switch (command) {
    case 'register': {
      const r = await register({
        hubs: [...s.hub],
        gatewayId: s.gateway ?? '',
        key: s.key ?? '',
        allow: [...s.allow],
        name: s.name,
        configPath,
        recoveryKey: s.recoveryKey,
        version: VERSION,
      });
      process.stdout.write(`registered member ${r.config.memberId} of gateway ${r.config.gatewayId}; config written to ${configPath}\n`);
      if (r.generatedRecoveryKey) {
        process.stdout.write(`recovery key (shown once; needed to add members with \`join\`; the hub cannot recover it):\n  ${r.generatedRecoveryKey}\n`);
      }
      return 0;
    }
    case 'run': {
      const rc = loadRunConfig(flags, process.env);
      const { config, metricsListen: mm, keytab } = rc;
      const ml = mm && `${mm.host.includes(':') ? `[${mm.host}]` : mm.host}:${mm.port}`;
      const log = createLogger(rc.logLevel);
      guardProcess(log);
      let agentRef: ReturnType<typeof createAgent> | undefined;
      const metrics =
        mm &&
        createAgentMetrics(() => ({
          connected: agentRef?.tunnels().filter((t) => t.state === 'connected').length ?? 0,
          inflight: agentRef?.tunnels().reduce((n, t) => n + t.inFlight, 0) ?? 0,
        }));
      const agent = createAgent(config, {
        log,
        version: VERSION,
        statusPath: `${configPath}.status.json`,
        metrics,
        keytab,
        kerberosCacheDir: join(dirname(configPath), 'kerberos-ccache'),
        saveConfig: (c) => writeAgentConfig(configPath, c),
      });
      agentRef = agent;
      if (mm && metrics) {
        await serveMetrics(metrics, mm.host, mm.port).catch((err: Error) => {
          throw new AgentConfigError(`--metrics-listen ${ml}: ${err.message}`);
        });
        log.info({ metrics: `http://${ml}/metrics` }, 'serving metrics');
      }
      log.info({ hubs: config.hubs, gateway: config.gatewayId, member: config.memberId, allow: config.allow }, 'agent starting');
      // `gatehouse-agent allow` (or an edit of the file) changes the allow-list of the running agent; other
      // changes to the config take effect at the next start.
      // SIGHUP (systemctl reload) reads it at once.
      const reloadAllow = (by: 'file' | 'SIGHUP') => {
        try {
          const allow = readAgentConfig(configPath).allow;
          if (agent.setAllow(allow)) log.info({ allow, by }, 'allow-list changed');
        } catch (err) {
          log.warn({ why: (err as Error).message, by }, 'config change not applied: keeping the allow-list');
        }
      };
      watchFile(configPath, { persistent: false, interval: CONFIG_POLL_MS }, (now, before) => {
        if (now.mtimeMs !== before.mtimeMs || now.size !== before.size) reloadAllow('file');
      });
      if (process.platform !== 'win32') process.on('SIGHUP', () => reloadAllow('SIGHUP'));
      return await new Promise<number>((resolve) => {
        let draining = false;
        const onSignal = (sig: string) => {
          if (draining) {
            log.warn('second signal: exiting now');
            resolve(1);
            return;
          }
          draining = true;
          log.info({ signal: sig }, 'draining: finishing in-flight calls');
          void agent.drain(rc.drainTimeoutMs).then(() => {
            log.info('drained; exiting');
            resolve(0);
          });
        };
        process.on('SIGTERM', () => onSignal('SIGTERM'));
        process.on('SIGINT', () => onSignal('SIGINT'));
        void agent.stopped.then(() => {
          if (draining) return;
          const why = agent
            .tunnels()
            .map((t) => `${t.hubUrl}: ${t.fatal ?? 'stopped'}`)
            .join('; ');
          process.stderr.write(`gatehouse-agent: no hub left to serve (${why})\n`);
          resolve(1);
        });
      });
    }
    case 'status': {
      const statusPath = `${configPath}.status.json`;
      if (!existsSync(statusPath)) {
        process.stdout.write(`not running (no status at ${statusPath})\n`);
        return 1;
      }
      const s = JSON.parse(readFileSync(statusPath, 'utf8')) as {
        pid: number;
        gatewayId: string;
        memberId: string;
        hubs: Array<{
          url: string;
          state: string;
          since: string;
          rttMs?: number | null;
          inFlight?: number;
          lastError: string | null;
          hubId?: string | null;
          listed?: boolean;
        }>;
      };
      let alive = true;
      try {
        process.kill(s.pid, 0);
      } catch {
        alive = false;
      }
      if (!alive) {
        process.stdout.write(`not running (last pid ${s.pid} is gone)\n`);
        return 1;
      }
      process.stdout.write(`agent pid ${s.pid}, gateway ${s.gatewayId}, member ${s.memberId}\n`);
      for (const h of s.hubs) {
        const extra = h.state === 'connected' ? `, round trip ${h.rttMs ?? '?'} ms, ${h.inFlight ?? 0} in flight` : '';
        const which = `${h.listed ? ' (listed by the cluster)' : ''}${h.hubId ? `, hub ${h.hubId}` : ''}`;
        process.stdout.write(`  ${h.url}${which}: ${h.state} since ${h.since}${extra}${h.lastError ? `, last error: ${h.lastError}` : ''}\n`);
      }
      return s.hubs.some((h) => h.state === 'connected') ? 0 : 1;
    }
    case 'join': {
      const c = await joinGateway({
        hubs: [...s.hub],
        gatewayId: s.gateway ?? '',
        key: s.key ?? '',
        allow: [...s.allow],
        name: s.name,
        configPath,
        recoveryKey: s.recoveryKey ?? '',
        version: VERSION,
      });
      process.stdout.write(`joined gateway ${c.gatewayId} as member ${c.memberId}; config written to ${configPath}\n`);
      return 0;
    }
    case 'doctor': {
      const ok = await doctor(readAgentConfig(configPath), (l) => process.stdout.write(`${l}\n`));
      return ok ? 0 : 1;
    }
    case 'rotate-key': {
      const recovery = s.recoveryKey;
      if (!recovery) throw new AgentConfigError('--recovery-key (or GATEHOUSE_RECOVERY_KEY) is required (the new key is sealed under it for `join`)');
      const config = readAgentConfig(configPath);
      const r = await rotateKey(config, recovery);
      writeAgentConfig(configPath, { ...config, privateKeyPem: r.privateKeyPem });
      process.stdout.write(
        `rotated the key of gateway ${config.gatewayId}: ${r.resealed} connection credential(s) re-sealed; every member takes up the new key when it reconnects\n`,
      );
      if (r.unopenable.length) {
        process.stdout.write(
          `${r.unopenable.length} connection(s) had credentials the old key could not open either, kept as they were (set their credentials again): ${r.unopenable.join(', ')}\n`,
        );
      }
      return 0;
    }
    case 'allow': {
      const config = readAgentConfig(configPath);
      const add = s.add;
      const remove = s.remove;
      let allow = config.allow;
      if (add.length || remove.length) {
        allow = editAllow(config.allow, [...add], [...remove]);
        writeAgentConfig(configPath, { ...config, allow });
      }
      for (const p of allow) process.stdout.write(`${p}\n`);
      if (add.length || remove.length) process.stdout.write(`(written to ${configPath}; a running agent applies it within ${CONFIG_POLL_MS / 1000} s)\n`);
      return 0;
    }
    case 'install-service':
    case 'uninstall-service': {
      const platform = s.platform ?? (process.platform === 'win32' ? 'windows' : 'linux');
      // The service definition passes it on in seconds.
      if (s.drainTimeoutMs % 1000 !== 0) throw new AgentConfigError('--drain-timeout must be whole seconds for a service definition');
      const drain = s.drainTimeoutMs / 1000;
      manageService({
        platform,
        print: s.print === true,
        uninstall: command === 'uninstall-service',
        winsw: s.winsw,
        spec: {
          nodePath: process.execPath,
          mainPath: fileURLToPath(import.meta.url),
          configPath: platform === 'windows' ? configPath : resolve(configPath),
          user: s.user,
          drainSeconds: drain,
        },
        out: (l) => process.stdout.write(`${l}\n`),
        testRoot: process.env.GATEHOUSE_TEST_INSTALL_ROOT,
      });
      return 0;
    }
    default:
      throw new AgentConfigError(`command ${command} has no handler`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`gatehouse-agent: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
