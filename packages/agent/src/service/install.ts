// install-service / uninstall-service: carries out (or, with --print, shows) the platform's steps.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AgentConfigError } from '../config.js';
import { checkConfigDir } from './config-dir.js';
import { checkConfigValue, checkUser } from './values.js';
import { linuxInstallPlan, linuxUninstallSteps, type ServiceSpec } from './systemd.js';
import { WINDOWS_SERVICE_ID, windowsInstallSteps, windowsUninstallSteps, winswXml } from './windows.js';

export interface ServiceOptions {
  platform: 'linux' | 'windows';
  print: boolean;
  uninstall: boolean;
  spec: ServiceSpec;
  /** Windows: the WinSW executable the service runs under. */
  winsw: string | undefined;
  out: (s: string) => void;
  /** Tests only: GATEHOUSE_TEST_INSTALL_ROOT, a directory the Linux path rule treats as `/`. */
  testRoot?: string;
}

const show = (cmd: string[]) => cmd.map((c) => (/[\s"]/.test(c) ? JSON.stringify(c) : c)).join(' ');

function run(cmd: string[], out: (s: string) => void): void {
  out(`+ ${show(cmd)}`);
  execFileSync(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
}

export function manageService(o: ServiceOptions): void {
  if (!o.uninstall) {
    // values written into the unit or the WinSW XML: refused before anything else (no injected lines)
    checkConfigValue(o.spec.configPath, o.platform);
    if (o.platform === 'linux') checkUser(o.spec.user);
  }
  if (o.platform === 'linux') linux(o);
  else windows(o);
}

function linux(o: ServiceOptions): void {
  if (o.uninstall) {
    if (o.print) {
      for (const c of linuxUninstallSteps()) o.out(show(c));
      return;
    }
    requireRoot();
    for (const c of linuxUninstallSteps()) runTolerant(c, o.out);
    return;
  }
  // The same plan for --print and the real run: the refusals (exit 2) come first, before root is even needed.
  const cd = checkConfigDir(o.spec.configPath, 'linux', { inspect: true, testRoot: o.testRoot });
  const spec = { ...o.spec, configPath: cd.configPath };
  let userExists = true;
  try {
    execFileSync('id', [spec.user], { stdio: 'ignore' });
  } catch {
    userExists = false;
  }
  const steps = linuxInstallPlan(spec, cd, { userExists, systemdRunning: existsSync('/run/systemd/system') });
  const configMissing = !cd.files.some((f) => f.path === cd.configPath);
  if (o.print) {
    if (configMissing) o.out(`# ${cd.configPath} does not exist yet: install-service refuses until \`gatehouse-agent register\` has written it`);
    for (const step of steps) {
      if ('run' in step) o.out(show(step.run));
      else if ('write' in step) {
        o.out(`# ${step.write}`);
        o.out(step.text);
        o.out('# then:');
      } else o.out(`# ${step.note}`);
    }
    return;
  }
  requireRoot();
  if (configMissing) throw new AgentConfigError(`${cd.configPath} does not exist: run \`gatehouse-agent register\` first`);
  for (const step of steps) {
    if ('run' in step) run(step.run, o.out);
    else if ('write' in step) {
      writeFileSync(step.write, step.text, { mode: step.mode });
      o.out(`wrote ${step.write}`);
    } else o.out(step.note);
  }
}

function windows(o: ServiceOptions): void {
  const winsw = o.winsw ?? 'gatehouse-agent-service.exe';
  const xmlPath = resolve(dirname(winsw), `${WINDOWS_SERVICE_ID}-service.xml`);
  // The ACL step hands the config's directory to the service account: only a directory of the agent's own. The
  // WinSW executable, its XML and its logs may sit beside the config.
  const exe = winsw
    .slice(Math.max(winsw.lastIndexOf('\\'), winsw.lastIndexOf('/')) + 1)
    .replace(/\.exe$/i, '')
    .toLowerCase();
  const cd = o.uninstall
    ? undefined
    : checkConfigDir(o.spec.configPath, 'windows', {
        inspect: process.platform === 'win32',
        extra: (n) => n.toLowerCase().startsWith(exe) && /\.(exe|xml|log)$/i.test(n),
      });
  const xml = winswXml({ ...o.spec, logDir: dirname(o.spec.configPath) });
  if (o.print) {
    o.out(o.uninstall ? '' : `# ${xmlPath} (next to WinSW, renamed to match: ${winsw.replace(/\.exe$/i, '')}.xml)`);
    if (!o.uninstall) o.out(xml);
    for (const c of o.uninstall ? windowsUninstallSteps(winsw) : windowsInstallSteps(winsw, cd!.dir)) o.out(show(c));
    return;
  }
  if (process.platform !== 'win32') throw new AgentConfigError('a Windows service can only be installed on Windows (use --print to see it)');
  if (!o.winsw || !existsSync(o.winsw)) throw new AgentConfigError('--winsw PATH must name the WinSW executable (https://github.com/winsw/winsw/releases)');
  if (o.uninstall) {
    for (const c of windowsUninstallSteps(o.winsw)) runTolerant(c, o.out);
    rmSync(o.winsw.replace(/\.exe$/i, '.xml'), { force: true });
    return;
  }
  mkdirSync(dirname(o.winsw), { recursive: true });
  writeFileSync(o.winsw.replace(/\.exe$/i, '.xml'), xml);
  for (const c of windowsInstallSteps(o.winsw, cd!.dir)) run(c, o.out);
}

function runTolerant(cmd: string[], out: (s: string) => void): void {
  try {
    run(cmd, out);
  } catch {
    out(`(ignored: ${show(cmd)} failed)`);
  }
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new AgentConfigError('installing a system service needs root (sudo), or use --print to see what would be installed');
}
