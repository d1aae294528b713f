// install-service: the systemd unit passes systemd-analyze (verify and the offline security review), the
// WinSW definition is well-formed and names the right paths, a real install/uninstall as root writes and
// removes the unit, the service user and the ownership of the agent's files (and of nothing else), and a config
// directory that is not the agent's own is refused before anything changes (finding 5 of issue 21).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MAIN, startProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';
import { NODE_FLAGS } from '@gatehouse/shared';

/** The Node flags every shipped launch line carries, as a regular expression. */
const FLAGS = NODE_FLAGS.join(' ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function print(...args: string[]): Promise<string> {
  const p = startProc([AGENT_MAIN, 'install-service', '--print', ...args], {});
  expect(await p.exited).toBe(0);
  return p.lines.join('\n');
}

afterAll(() => { cleanupTempDirs(); });

/** The agent binary run to its end, stdout and stderr apart. */
function agent(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [AGENT_MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** A refusal: exit 2, nothing on stdout (no plan), one line on stderr matching `why`. */
function expectRefused(r: ReturnType<typeof agent>, why: RegExp): void {
  expect(r.status, r.stderr + r.stdout).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(why);
}

const mode = (p: string) => statSync(p).mode & 0o777;

/** Element names must nest and close properly (enough to catch a broken definition). */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.replace(/<\?xml[^>]*\?>/, '').matchAll(/<(\/?)([A-Za-z][\w-]*)([^>]*?)(\/?)>/g)) {
    if (m[4]) continue;
    if (m[1]) { if (stack.pop() !== m[2]) return false; } else stack.push(m[2]!);
  }
  return stack.length === 0;
}

describe('systemd unit', () => {
  it('passes systemd-analyze verify with an empty stderr and rates OK in the offline security review', async () => {
    const out = await print('--config', '/etc/gatehouse/agent.json');
    const unit = out.slice(out.indexOf('[Unit]'), out.indexOf('# then:')).trim();
    expect(unit).toMatch(/^User=gatehouse$/m);
    for (const line of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'Restart=on-failure', 'ReadWritePaths=/etc/gatehouse']) expect(unit).toContain(line);
    expect(unit).toMatch(new RegExp(`^ExecStart=\\S+node ${FLAGS} \\S+main\\.js run --config /etc/gatehouse/agent\\.json --drain-timeout 600$`, 'm'));
    // the optional environment file beside the config (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, ...): '-' = may be absent
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/gatehouse\/agent\.env$/m);
    const file = join(tempDir(), 'gatehouse-agent.service');
    writeFileSync(file, `${unit}\n`);
    const verify = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    expect(verify.stderr).toBe('');
    expect(verify.status).toBe(0);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', file], { encoding: 'utf8' });
    const level = /Overall exposure level for [^:]+: ([\d.]+) (\w+)/.exec(security.stdout);
    expect(level, security.stdout.slice(-500)).not.toBeNull();
    expect(Number(level![1])).toBeLessThan(4.5);
    // the same plan the real run carries out: here systemd is not running, so it writes the unit and says so
    if (existsSync('/run/systemd/system')) expect(out).toContain('systemctl enable --now gatehouse-agent.service');
    else expect(out).toContain('# systemd is not running on this machine');
  });

  it.runIf(process.getuid?.() === 0)('install and uninstall as root: unit written, service user created, the agent\'s files (and nothing else) owned by it', async () => {
    const user = 'gatehouse-test';
    // a temporary root: ROOT/etc holds another file, ROOT/etc/gatehouse the agent's
    const root = tempDir();
    const etc = join(root, 'etc');
    const dir = join(etc, 'gatehouse');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const config = join(dir, 'agent.json');
    writeFileSync(config, '{}', { mode: 0o644 });
    writeFileSync(join(dir, 'agent.env'), 'GATEHOUSE_LOG_LEVEL=info\n', { mode: 0o644 });
    writeFileSync(join(etc, 'other.conf'), 'not the agent\'s\n', { mode: 0o644 });
    try {
      const p = startProc([AGENT_MAIN, 'install-service', '--config', config, '--user', user], {});
      expect(await p.exited, p.lines.join('\n')).toBe(0);
      expect(p.lines.join('\n')).not.toMatch(/chown -R|chmod -R/);
      const unit = readFileSync('/etc/systemd/system/gatehouse-agent.service', 'utf8');
      expect(unit).toContain(`User=${user}`);
      expect(unit).toContain(`--config ${config}`);
      expect(unit).toMatch(new RegExp(`^ReadWritePaths=${dir}$`, 'm'));
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      for (const f of [config, join(dir, 'agent.env')]) {
        expect(statSync(f).uid, f).toBe(uid);
        expect(mode(f), f).toBe(0o600);
      }
      expect(statSync(dir).uid).toBe(uid);
      expect(mode(dir)).toBe(0o700);
      // what is not the agent's keeps its owner and mode
      for (const f of [etc, join(etc, 'other.conf'), root]) expect(statSync(f).uid, f).toBe(0);
      expect(mode(etc)).toBe(0o755);
      expect(mode(join(etc, 'other.conf'))).toBe(0o644);
      const u = startProc([AGENT_MAIN, 'uninstall-service'], {});
      expect(await u.exited).toBe(0);
      expect(existsSync('/etc/systemd/system/gatehouse-agent.service')).toBe(false);
    } finally {
      spawnSync('userdel', [user]);
    }
  });

  it('refuses to install without root or a config, with one line', async () => {
    const p = startProc([AGENT_MAIN, 'install-service', '--config', '/nonexistent/agent.json'], {});
    expect(await p.exited).toBe(2);
    expect(p.lines).toHaveLength(1);
  });
});

describe('finding 5: install-service touches only what is the agent\'s', () => {
  it('refuses / and every system or shared directory, with one line and no plan', () => {
    const shared = ['/', '/etc', '/root', '/home', '/tmp', '/var', '/usr', '/opt', '/srv', '/boot', '/bin', '/sbin', '/lib', '/lib64',
      '/dev', '/proc', '/sys', '/run', '/mnt', '/media', '/var/lib', '/var/tmp', '/usr/local', '/usr/lib/x86_64-linux-gnu', '/etc/systemd/system'];
    for (const dir of shared) {
      const config = `${dir === '/' ? '' : dir}/agent.json`;
      expectRefused(agent('install-service', '--print', '--config', config), /is the root directory|is a system or shared directory/);
    }
    // the real run refuses alike, before it needs root or changes anything
    for (const config of ['/agent.json', '/etc/agent.json', '/tmp/agent.json']) {
      expectRefused(agent('install-service', '--config', config), /is the root directory|is a system or shared directory/);
    }
  }, 180_000);

  it('refuses a home directory: any /home/NAME, one /etc/passwd names, the current user\'s', () => {
    expectRefused(agent('install-service', '--print', '--config', '/home/somebody/agent.json'), /\/home\/somebody is a home directory/);
    const passwdHome = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')[5])
      .find((h) => h && h.split('/').length > 2 && !h.startsWith('/home/') && h !== '/nonexistent');
    if (passwdHome) expectRefused(agent('install-service', '--print', '--config', `${passwdHome}/agent.json`), /is a home directory|is a system or shared directory/);
    const home = tempDir();
    const r = spawnSync(process.execPath, [AGENT_MAIN, 'install-service', '--print', '--config', join(home, 'agent.json')], { encoding: 'utf8', env: { ...process.env, HOME: home } });
    expectRefused(r, new RegExp(`${home} is a home directory`));
  });

  it('resolves .. and symlinks before deciding', () => {
    expectRefused(agent('install-service', '--print', '--config', '/etc/gatehouse/../agent.json'), /\/etc is a system or shared directory/);
    const t = tempDir();
    symlinkSync('/etc', join(t, 'looks-dedicated'));
    expectRefused(agent('install-service', '--print', '--config', join(t, 'looks-dedicated', 'agent.json')), new RegExp(`/etc is a system or shared directory \\(${t}/looks-dedicated resolves to it\\)`));
    const inner = join(t, 'a', 'b');
    mkdirSync(inner, { recursive: true });
    symlinkSync('/var', join(inner, 'up'));
    expectRefused(agent('install-service', '--print', '--config', join(inner, 'up', 'x', '..', 'agent.json')), /\/var is a system or shared directory/);
  });

  it('refuses a directory holding files that are not the agent\'s, and changes none of them', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.json'), '{}', { mode: 0o600 });
    writeFileSync(join(dir, 'notes.txt'), 'mine\n', { mode: 0o644 });
    expectRefused(agent('install-service', '--print', '--config', join(dir, 'agent.json')), /holds files that are not the agent's \(notes\.txt\)/);
    expectRefused(agent('install-service', '--config', join(dir, 'agent.json'), '--user', 'gatehouse-never'), /holds files that are not the agent's \(notes\.txt\)/);
    expect(mode(join(dir, 'notes.txt'))).toBe(0o644);
    expect(mode(dir)).toBe(0o700);
    expect(statSync(dir).uid).toBe(process.getuid!());
    expect(spawnSync('id', ['gatehouse-never']).status).not.toBe(0);
  });

  it('refuses an agent file that is a symlink (agent.env -> /etc/shadow is never handed over)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.json'), '{}', { mode: 0o600 });
    symlinkSync('/etc/shadow', join(dir, 'agent.env'));
    expectRefused(agent('install-service', '--print', '--config', join(dir, 'agent.json')), /agent\.env is not a regular file/);
    const k = tempDir();
    writeFileSync(join(k, 'agent.json'), '{}', { mode: 0o600 });
    mkdirSync(join(k, 'kerberos-ccache'));
    symlinkSync('/etc/passwd', join(k, 'kerberos-ccache', 'cc_0'));
    expectRefused(agent('install-service', '--print', '--config', join(k, 'agent.json')), /kerberos-ccache holds entries that are not Kerberos caches \(cc_0\)/);
  });

  it('a dedicated directory: the plan names the agent\'s files one by one, never a recursive chown, and ReadWritePaths is that directory', () => {
    const dir = tempDir();
    const files = ['agent.json', 'agent.json.status.json', 'agent.env', 'agent.keytab'];
    for (const f of files) writeFileSync(join(dir, f), 'x', { mode: 0o600 });
    mkdirSync(join(dir, 'kerberos-ccache'));
    writeFileSync(join(dir, 'kerberos-ccache', 'cc_ab12'), 'x');
    const r = agent('install-service', '--print', '--config', join(dir, 'agent.json'), '--user', 'gatehouse-never');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/-R\b/);
    expect(r.stdout).toContain(`\ninstall -d -m 0700 -o gatehouse-never -g gatehouse-never ${dir}\n`);
    const chown = r.stdout.split('\n').find((l) => l.startsWith('chown '))!;
    expect(chown.split(' ').slice(3).sort()).toEqual([...files, 'kerberos-ccache', 'kerberos-ccache/cc_ab12'].map((f) => join(dir, f)).sort());
    expect(r.stdout).toContain(`\nchmod 0700 ${join(dir, 'kerberos-ccache')}\n`);
    expect(r.stdout).toMatch(new RegExp(`^ReadWritePaths=${dir}$`, 'm'));
    expect(r.stdout).toMatch(/^useradd .* gatehouse-never$/m);
  });

  it('Windows: the ACL step is refused for a drive root, a system, shared or home directory', async () => {
    for (const [config, why] of [
      ['C:\\agent.json', /drive or share root/], ['C:\\Windows\\System32\\agent.json', /system or shared/],
      ['C:\\ProgramData\\agent.json', /system or shared/], ['C:\\Program Files\\agent.json', /system or shared/],
      ['C:\\Users\\bob\\agent.json', /home directory/], ['C:\\ProgramData\\Gatehouse\\..\\agent.json', /system or shared/],
    ] as const) {
      expectRefused(agent('install-service', '--print', '--platform', 'windows', '--winsw', 'C:\\Gatehouse\\gatehouse-agent-service.exe', '--config', config), why);
    }
    const out = await print('--platform', 'windows', '--winsw', 'C:\\Gatehouse\\gatehouse-agent-service.exe', '--config', 'C:\\ProgramData\\Gatehouse\\agent.json');
    expect(out).toMatch(/^icacls C:\\ProgramData\\Gatehouse \/inheritance:r/m);
  });
});

describe('Windows service (WinSW)', () => {
  it('the definition is well-formed and names node, the agent, the config and a service account', async () => {
    const out = await print('--platform', 'windows', '--winsw', 'C:\\Gatehouse\\gatehouse-agent-service.exe', '--config', 'C:\\ProgramData\\Gatehouse\\agent.json');
    const xml = out.slice(out.indexOf('<?xml'), out.indexOf('</service>') + '</service>'.length);
    expect(wellFormed(xml)).toBe(true);
    expect(xml).toContain('<id>gatehouse-agent</id>');
    expect(xml).toMatch(/<executable>[^<]*node[^<]*<\/executable>/);
    expect(xml).toMatch(new RegExp(`<arguments>${FLAGS} \\S*main\\.js run --config C:\\\\ProgramData\\\\Gatehouse\\\\agent\\.json --drain-timeout 600</arguments>`));
    expect(xml).toContain('<username>NT AUTHORITY\\LocalService</username>');
    expect(xml).toContain('<stoptimeout>620 sec</stoptimeout>');
    expect(xml).toContain('<onfailure action="restart" delay="10 sec"/>');
    expect(out).toContain('C:\\Gatehouse\\gatehouse-agent-service.exe install');
    expect(out).toMatch(/icacls C:\\ProgramData\\Gatehouse \/inheritance:r/);
  });
});
