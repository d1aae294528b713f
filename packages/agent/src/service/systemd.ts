// Linux service: a hardened systemd unit for `gatehouse-agent run`, a dedicated system user, and the
// commands that install it. `install-service --print` shows all of it without changing anything.
import { NODE_FLAGS } from '@gatehouse/shared';
import { AgentConfigError } from '../config.js';
import type { ConfigDir } from './config-dir.js';

export interface ServiceSpec {
  nodePath: string;
  mainPath: string;
  configPath: string;
  user: string;
  /** Drain time the agent gets on stop (run --drain-timeout), in seconds. */
  drainSeconds: number;
}

export const UNIT_NAME = 'gatehouse-agent.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;

/**
 * One ExecStart word per systemd.unit(5): `%` doubled (specifier expansion), `$` doubled (variable expansion),
 * quoted with `"` and `\` escaped when it holds whitespace, quotes or backslashes. A control character
 * (a newline would start a new unit line) is refused. --config and --user never get here with any of these
 * (checkConfigValue, checkUser); node's and the agent's own paths might.
 */
export function execWord(s: string): string {
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new AgentConfigError(`${JSON.stringify(s)} holds a control character and cannot go into a systemd unit`);
  const e = s.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /[\s"'\\]/.test(e) ? `"${e.replace(/(["\\])/g, '\\$1')}"` : e;
}
const q = execWord;

/** The optional environment file the unit reads: beside the config, e.g. /etc/gatehouse/agent.env. */
export function envFilePath(configPath: string): string {
  return `${configPath.slice(0, configPath.lastIndexOf('/')) || ''}/agent.env`;
}

export function systemdUnit(s: ServiceSpec): string {
  const configDir = s.configPath.slice(0, s.configPath.lastIndexOf('/')) || '/';
  return `[Unit]
Description=Gatehouse agent (relays calls from the Gatehouse hub to intranet services)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${s.user}
Group=${s.user}
# Optional NAME=value lines for the agent's environment: HTTPS_PROXY / NO_PROXY (the way to the hub),
# NODE_EXTRA_CA_CERTS (an internal CA for intranet services or the hub), KRB5_CONFIG, GATEHOUSE_LOG_LEVEL.
EnvironmentFile=-${envFilePath(s.configPath)}
ExecStart=${q(s.nodePath)} ${NODE_FLAGS.join(' ')} ${q(s.mainPath)} run --config ${q(s.configPath)} --drain-timeout ${s.drainSeconds}
# reload: the agent reads its allow-list again (gatehouse-agent allow changes it; it is also polled every 2 s).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=${s.drainSeconds + 20}
UMask=0077
# The config (credential, gateway key), the status file and Kerberos caches live in one directory, the
# agent's own (install-service refuses a system, shared or home directory, or one holding other files).
ReadWritePaths=${configDir}
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}

/** One step of install-service: a command, a file written, or a note to the operator. */
export type InstallStep = { run: string[] } | { write: string; text: string; mode: number } | { note: string };

/**
 * What install-service does, in order: the same list is carried out, or printed by --print. The config's
 * directory (checked by checkConfigDir: the agent's own) is created or set 0700 and given to the service user;
 * then each of the agent's files in it, named one by one (never a recursive chown), is given to that user and
 * made 0600 (the Kerberos cache directory 0700).
 */
export function linuxInstallPlan(s: ServiceSpec, cd: ConfigDir, o: { userExists: boolean; systemdRunning: boolean }): InstallStep[] {
  const owner = `${s.user}:${s.user}`;
  const files = cd.files.filter((f) => f.kind === 'file').map((f) => f.path);
  const dirs = cd.files.filter((f) => f.kind === 'dir').map((f) => f.path);
  const steps: InstallStep[] = [];
  if (!o.userExists) steps.push({ run: ['useradd', '--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', s.user] });
  steps.push({ run: ['install', '-d', '-m', '0700', '-o', s.user, '-g', s.user, cd.dir] });
  if (cd.files.length > 0) steps.push({ run: ['chown', '--no-dereference', owner, ...cd.files.map((f) => f.path)] });
  if (dirs.length > 0) steps.push({ run: ['chmod', '0700', ...dirs] });
  if (files.length > 0) steps.push({ run: ['chmod', '0600', ...files] });
  steps.push({ write: UNIT_PATH, text: systemdUnit(s), mode: 0o644 });
  if (!o.systemdRunning) {
    steps.push({
      note: 'systemd is not running on this machine: the unit is written; enable it with `systemctl enable --now gatehouse-agent` where systemd runs',
    });
    return steps;
  }
  steps.push({ run: ['systemctl', 'daemon-reload'] }, { run: ['systemctl', 'enable', '--now', UNIT_NAME] });
  return steps;
}

export function linuxUninstallSteps(): string[][] {
  return [
    ['systemctl', 'disable', '--now', UNIT_NAME],
    ['rm', '-f', UNIT_PATH],
    ['systemctl', 'daemon-reload'],
  ];
}
