// install-service / uninstall-service: carries out (or, with --print, shows) the platform's steps.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AgentConfigError } from '../config.js';
import { UNIT_PATH, linuxInstallSteps, linuxUninstallSteps, systemdUnit, type ServiceSpec } from './systemd.js';
import { WINDOWS_SERVICE_ID, windowsInstallSteps, windowsUninstallSteps, winswXml } from './windows.js';

export interface ServiceOptions {
  platform: 'linux' | 'windows';
  print: boolean;
  uninstall: boolean;
  spec: ServiceSpec;
  /** Windows: the WinSW executable the service runs under. */
  winsw: string | undefined;
  out: (s: string) => void;
}

const show = (cmd: string[]) => cmd.map((c) => (/[\s"]/.test(c) ? JSON.stringify(c) : c)).join(' ');

function run(cmd: string[], out: (s: string) => void): void {
  out(`+ ${show(cmd)}`);
  execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
}

export function manageService(o: ServiceOptions): void {
  if (o.platform === 'linux') return linux(o);
  return windows(o);
}

function linux(o: ServiceOptions): void {
  const unit = systemdUnit(o.spec);
  if (o.uninstall) {
    if (o.print) { for (const c of linuxUninstallSteps()) o.out(show(c)); return; }
    requireRoot();
    for (const c of linuxUninstallSteps()) runTolerant(c, o.out);
    return;
  }
  if (o.print) {
    o.out(`# ${UNIT_PATH}`);
    o.out(unit);
    o.out('# then:');
    for (const c of linuxInstallSteps(o.spec)) o.out(show(c));
    return;
  }
  requireRoot();
  if (!existsSync(o.spec.configPath)) throw new AgentConfigError(`${o.spec.configPath} does not exist: run \`gatehouse-agent register\` first`);
  const steps = linuxInstallSteps(o.spec);
  let exists = true;
  try { execFileSync('id', [o.spec.user], { stdio: 'ignore' }); } catch { exists = false; }
  if (!exists) run(steps[0]!, o.out);
  run(steps[1]!, o.out);
  run(steps[2]!, o.out);
  writeFileSync(UNIT_PATH, unit, { mode: 0o644 });
  o.out(`wrote ${UNIT_PATH}`);
  if (!existsSync('/run/systemd/system')) {
    o.out('systemd is not running on this machine: the unit is written; enable it with `systemctl enable --now gatehouse-agent` where systemd runs');
    return;
  }
  run(steps[3]!, o.out);
  run(steps[4]!, o.out);
}

function windows(o: ServiceOptions): void {
  const winsw = o.winsw ?? 'gatehouse-agent-service.exe';
  const xmlPath = resolve(dirname(winsw), `${WINDOWS_SERVICE_ID}-service.xml`);
  const xml = winswXml({ ...o.spec, logDir: dirname(o.spec.configPath) });
  if (o.print) {
    o.out(o.uninstall ? '' : `# ${xmlPath} (next to WinSW, renamed to match: ${winsw.replace(/\.exe$/i, '')}.xml)`);
    if (!o.uninstall) o.out(xml);
    for (const c of o.uninstall ? windowsUninstallSteps(winsw) : windowsInstallSteps(winsw, o.spec.configPath)) o.out(show(c));
    return;
  }
  if (process.platform !== 'win32') throw new AgentConfigError('a Windows service can only be installed on Windows (use --print to see it)');
  if (!o.winsw || !existsSync(o.winsw)) throw new AgentConfigError('--winsw PATH must name the WinSW executable (https://github.com/winsw/winsw/releases)');
  if (o.uninstall) { for (const c of windowsUninstallSteps(o.winsw)) runTolerant(c, o.out); rmSync(o.winsw.replace(/\.exe$/i, '.xml'), { force: true }); return; }
  mkdirSync(dirname(o.winsw), { recursive: true });
  writeFileSync(o.winsw.replace(/\.exe$/i, '.xml'), xml);
  for (const c of windowsInstallSteps(o.winsw, o.spec.configPath)) run(c, o.out);
}

function runTolerant(cmd: string[], out: (s: string) => void): void {
  try { run(cmd, out); } catch { out(`(ignored: ${show(cmd)} failed)`); }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new AgentConfigError('installing a system service needs root (sudo), or use --print to see what would be installed');
}
