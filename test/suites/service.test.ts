// install-service: the systemd unit passes systemd-analyze (verify and the offline security review), the
// WinSW definition is well-formed and names the right paths, a real install/uninstall as root writes and
// removes the unit, the service user and the ownership of the agent's files (and of nothing else), and a config
// directory that is not the agent's own is refused before anything changes (finding 5 of issue 21).
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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

afterAll(() => {
  cleanupTempDirs();
});

/** The agent binary run to its end, stdout and stderr apart. */
function agent(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [AGENT_MAIN, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/** The same, with the Linux path rule judging paths relative to `root` (GATEHOUSE_TEST_INSTALL_ROOT). */
function agentIn(root: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [AGENT_MAIN, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, GATEHOUSE_TEST_INSTALL_ROOT: root } });
}

/** A temporary root with the agent's directory ROOT/etc/gatehouse (the rule accepts it) holding `agent.json`. */
function ownDir(): { root: string; dir: string; config: string } {
  const root = tempDir();
  const dir = join(root, 'etc', 'gatehouse');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = join(dir, 'agent.json');
  writeFileSync(config, '{}', { mode: 0o600 });
  return { root, dir, config };
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
    if (m[1]) {
      if (stack.pop() !== m[2]) return false;
    } else stack.push(m[2]!);
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

  it.runIf(process.getuid?.() === 0)(
    "install and uninstall as root: unit written, service user created, the agent's files (and nothing else) owned by it",
    async () => {
      const user = 'gatehouse-test';
      // a temporary root: ROOT/etc holds another file, ROOT/etc/gatehouse the agent's
      const root = tempDir();
      const etc = join(root, 'etc');
      const dir = join(etc, 'gatehouse');
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      const config = join(dir, 'agent.json');
      writeFileSync(config, '{}', { mode: 0o644 });
      writeFileSync(join(dir, 'agent.env'), 'GATEHOUSE_LOG_LEVEL=info\n', { mode: 0o644 });
      writeFileSync(join(etc, 'other.conf'), "not the agent's\n", { mode: 0o644 });
      try {
        const p = startProc([AGENT_MAIN, 'install-service', '--config', config, '--user', user], { GATEHOUSE_TEST_INSTALL_ROOT: root });
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
    },
  );

  it('refuses to install without root or a config, with one line', async () => {
    const p = startProc([AGENT_MAIN, 'install-service', '--config', '/nonexistent/agent.json'], {});
    expect(await p.exited).toBe(2);
    expect(p.lines).toHaveLength(1);
  });
});

describe("finding 5: install-service touches only what is the agent's", () => {
  it('refuses / and every system or shared directory, with one line and no plan', () => {
    const shared = [
      '/',
      '/etc',
      '/root',
      '/home',
      '/tmp',
      '/var',
      '/usr',
      '/opt',
      '/srv',
      '/boot',
      '/bin',
      '/sbin',
      '/lib',
      '/lib64',
      '/dev',
      '/proc',
      '/sys',
      '/run',
      '/mnt',
      '/media',
      '/var/lib',
      '/var/tmp',
      '/usr/local',
      '/usr/lib/x86_64-linux-gnu',
      '/etc/systemd/system',
    ];
    for (const dir of shared) {
      const config = `${dir === '/' ? '' : dir}/agent.json`;
      expectRefused(agent('install-service', '--print', '--config', config), /is the root directory|is a system or shared directory/);
    }
    // the real run refuses alike, before it needs root or changes anything
    for (const config of ['/agent.json', '/etc/agent.json', '/tmp/agent.json']) {
      expectRefused(agent('install-service', '--config', config), /is the root directory|is a system or shared directory/);
    }
  }, 180_000);

  it("refuses a home directory: any /home/NAME, one /etc/passwd names, the current user's", () => {
    expectRefused(agent('install-service', '--print', '--config', '/home/somebody/agent.json'), /\/home\/somebody is a home directory/);
    const passwdHome = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':')[5])
      .find((h) => h && h.split('/').length > 2 && !h.startsWith('/home/') && h !== '/nonexistent');
    if (passwdHome)
      expectRefused(agent('install-service', '--print', '--config', `${passwdHome}/agent.json`), /is a home directory|is a system or shared directory/);
    const root = tempDir();
    const home = join(root, 'srv', 'someone');
    mkdirSync(home, { recursive: true });
    const r = spawnSync(process.execPath, [AGENT_MAIN, 'install-service', '--print', '--config', join(home, 'agent.json')], {
      encoding: 'utf8',
      env: { ...process.env, HOME: home, GATEHOUSE_TEST_INSTALL_ROOT: root },
    });
    expectRefused(r, new RegExp(`${home} is a home directory`));
  });

  it('resolves .. and symlinks before deciding', () => {
    expectRefused(agent('install-service', '--print', '--config', '/etc/gatehouse/../agent.json'), /\/etc is a system or shared directory/);
    const t = tempDir();
    symlinkSync('/etc', join(t, 'looks-dedicated'));
    expectRefused(
      agent('install-service', '--print', '--config', join(t, 'looks-dedicated', 'agent.json')),
      new RegExp(`/etc is a system or shared directory \\(${t}/looks-dedicated resolves to it\\)`),
    );
    const inner = join(t, 'a', 'b');
    mkdirSync(inner, { recursive: true });
    symlinkSync('/var', join(inner, 'up'));
    expectRefused(agent('install-service', '--print', '--config', join(inner, 'up', 'x', '..', 'agent.json')), /\/var is a system or shared directory/);
  });

  it("refuses a directory holding files that are not the agent's, and changes none of them", () => {
    const { root, dir, config } = ownDir();
    writeFileSync(join(dir, 'notes.txt'), 'mine\n', { mode: 0o644 });
    expectRefused(agentIn(root, 'install-service', '--print', '--config', config), /holds files that are not the agent's \(notes\.txt\)/);
    expectRefused(agentIn(root, 'install-service', '--config', config, '--user', 'gatehouse-never'), /holds files that are not the agent's \(notes\.txt\)/);
    expect(mode(join(dir, 'notes.txt'))).toBe(0o644);
    expect(mode(dir)).toBe(0o700);
    expect(statSync(dir).uid).toBe(process.getuid!());
    expect(spawnSync('id', ['gatehouse-never']).status).not.toBe(0);
  });

  it('refuses an agent file that is a symlink (agent.env -> /etc/shadow is never handed over)', () => {
    const a = ownDir();
    symlinkSync('/etc/shadow', join(a.dir, 'agent.env'));
    expectRefused(agentIn(a.root, 'install-service', '--print', '--config', a.config), /agent\.env is not a regular file/);
    const k = ownDir();
    mkdirSync(join(k.dir, 'kerberos-ccache'));
    symlinkSync('/etc/passwd', join(k.dir, 'kerberos-ccache', 'cc_0'));
    expectRefused(agentIn(k.root, 'install-service', '--print', '--config', k.config), /kerberos-ccache holds entries that are not Kerberos caches \(cc_0\)/);
  });

  it("a dedicated directory: the plan names the agent's files one by one, never a recursive chown, and ReadWritePaths is that directory", () => {
    const { root, dir } = ownDir();
    const files = ['agent.json', 'agent.json.status.json', 'agent.env', 'agent.keytab'];
    for (const f of files) writeFileSync(join(dir, f), 'x', { mode: 0o600 });
    mkdirSync(join(dir, 'kerberos-ccache'));
    writeFileSync(join(dir, 'kerberos-ccache', 'cc_ab12'), 'x');
    const r = agentIn(root, 'install-service', '--print', '--config', join(dir, 'agent.json'), '--user', 'gatehouse-never');
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
      ['C:\\agent.json', /drive or share root/],
      ['C:\\Windows\\System32\\agent.json', /system or shared/],
      ['C:\\ProgramData\\agent.json', /system or shared/],
      ['C:\\Program Files\\agent.json', /system or shared/],
      ['C:\\Users\\bob\\agent.json', /home directory/],
      ['C:\\ProgramData\\Gatehouse\\..\\agent.json', /system or shared/],
    ] as const) {
      expectRefused(
        agent('install-service', '--print', '--platform', 'windows', '--winsw', 'C:\\Gatehouse\\gatehouse-agent-service.exe', '--config', config),
        why,
      );
    }
    const out = await print(
      '--platform',
      'windows',
      '--winsw',
      'C:\\Gatehouse\\gatehouse-agent-service.exe',
      '--config',
      'C:\\ProgramData\\Gatehouse\\agent.json',
    );
    expect(out).toMatch(/^icacls C:\\ProgramData\\Gatehouse \/inheritance:r/m);
  });
});

describe('Windows service (WinSW)', () => {
  it('the definition is well-formed and names node, the agent, the config and a service account', async () => {
    const out = await print(
      '--platform',
      'windows',
      '--winsw',
      'C:\\Gatehouse\\gatehouse-agent-service.exe',
      '--config',
      'C:\\ProgramData\\Gatehouse\\agent.json',
    );
    const xml = out.slice(out.indexOf('<?xml'), out.indexOf('</service>') + '</service>'.length);
    expect(wellFormed(xml)).toBe(true);
    expect(xml).toContain('<id>gatehouse-agent</id>');
    expect(xml).toMatch(/<executable>[^<]*node[^<]*<\/executable>/);
    expect(xml).toMatch(
      new RegExp(`<arguments>${FLAGS} \\S*main\\.js run --config C:\\\\ProgramData\\\\Gatehouse\\\\agent\\.json --drain-timeout 600</arguments>`),
    );
    expect(xml).toContain('<username>NT AUTHORITY\\LocalService</username>');
    expect(xml).toContain('<stoptimeout>620 sec</stoptimeout>');
    expect(xml).toContain('<onfailure action="restart" delay="10 sec"/>');
    expect(out).toContain('C:\\Gatehouse\\gatehouse-agent-service.exe install');
    expect(out).toMatch(/icacls C:\\ProgramData\\Gatehouse \/inheritance:r/);
  });
});

describe('issue 21, finding 5 follow-up: the installer gaps a red team found', () => {
  it("foreign keytabs: HTTP.service.keytab and hdfs.keytab beside the config make the directory not the agent's, and keep their owner and mode", () => {
    const { root, dir, config } = ownDir();
    writeFileSync(join(dir, 'agent.keytab'), 'k', { mode: 0o600 });
    for (const k of ['HTTP.service.keytab', 'hdfs.keytab']) writeFileSync(join(dir, k), 'k', { mode: 0o640 });
    expectRefused(
      agentIn(root, 'install-service', '--print', '--config', config),
      /holds files that are not the agent's \(HTTP\.service\.keytab, hdfs\.keytab\)/,
    );
    expectRefused(
      agentIn(root, 'install-service', '--config', config, '--user', 'gatehouse-never'),
      /holds files that are not the agent's \(HTTP\.service\.keytab, hdfs\.keytab\)/,
    );
    for (const k of ['HTTP.service.keytab', 'hdfs.keytab']) {
      expect(mode(join(dir, k))).toBe(0o640);
      expect(statSync(join(dir, k)).uid).toBe(process.getuid!());
    }
    expect(spawnSync('id', ['gatehouse-never']).status).not.toBe(0);
  });

  it('hard links: agent.env or a Kerberos cache hard-linked to a file outside is refused, and the outside file keeps its mode', () => {
    const { root, dir, config } = ownDir();
    const outside = join(root, 'outside.conf');
    writeFileSync(outside, 'secret=1\n', { mode: 0o644 });
    linkSync(outside, join(dir, 'agent.env'));
    expectRefused(agentIn(root, 'install-service', '--print', '--config', config), /agent\.env has 2 hard links.*more than one link/);
    expectRefused(agentIn(root, 'install-service', '--config', config, '--user', 'gatehouse-never'), /agent\.env has 2 hard links/);
    expect(mode(outside)).toBe(0o644);
    expect(statSync(outside).uid).toBe(process.getuid!());
    const k = ownDir();
    const cacheOutside = join(k.root, 'cc_elsewhere');
    writeFileSync(cacheOutside, 'x', { mode: 0o644 });
    mkdirSync(join(k.dir, 'kerberos-ccache'));
    linkSync(cacheOutside, join(k.dir, 'kerberos-ccache', 'cc_ab12'));
    expectRefused(agentIn(k.root, 'install-service', '--print', '--config', k.config), /kerberos-ccache holds hard-linked files \(cc_ab12\)/);
    expect(mode(cacheOutside)).toBe(0o644);
  });

  it("deny-list gaps: the red team's directories are refused even when they hold only a config; only the accepted places pass", () => {
    const root = tempDir();
    const refused = [
      '/usr/local/sbin',
      '/etc/profile.d',
      '/etc/sudoers.d',
      '/root/.ssh',
      '/etc/cron.daily',
      '/etc/ssh',
      '/etc/security/keytabs',
      '/tmp/gatehouse',
      '/var/tmp/gatehouse',
      '/run/gatehouse',
      '/snap/gatehouse',
      '/usr/share/gatehouse',
      '/lib/gatehouse',
      '/var/log/gatehouse',
      '/var/lib',
      '/var/opt',
      '/opt',
      '/srv',
      '/etc/gatehouse-x/sub',
      '/home/bob/gatehouse',
      '/data/gatehouse',
      '/mnt/gatehouse',
      '/opt/.hidden',
      '/var/lib/other/.git',
    ];
    const accepted = ['/etc/gatehouse', '/etc/gatehouse-test', '/opt/gatehouse', '/srv/gatehouse/agent', '/var/lib/gatehouse', '/var/opt/gatehouse'];
    for (const d of [...refused, ...accepted]) {
      mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, d, 'agent.json'), '{}', { mode: 0o600 });
    }
    for (const d of refused) {
      expectRefused(
        agentIn(root, 'install-service', '--print', '--config', join(root, d, 'agent.json')),
        /is a system or shared directory|has a name starting with '\.'|is a home directory/,
      );
    }
    for (const d of accepted) {
      const r = agentIn(root, 'install-service', '--print', '--config', join(root, d, 'agent.json'), '--user', 'gatehouse-never');
      expect(r.status, `${d}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^ReadWritePaths=${join(root, d)}$`, 'm'));
    }
    // the real paths, without a test root, alike
    for (const d of ['/usr/local/sbin', '/etc/profile.d', '/etc/sudoers.d', '/root/.ssh', '/etc/ssh', '/etc/security/keytabs', '/tmp/gatehouse']) {
      expectRefused(agent('install-service', '--print', '--config', `${d}/agent.json`), /is a system or shared directory|has a name starting with '\.'/);
    }
    // a test root is no way out: a config outside it is refused
    expectRefused(
      agentIn(join(root, 'opt'), 'install-service', '--print', '--config', join(root, 'etc', 'gatehouse', 'agent.json')),
      /is outside .*GATEHOUSE_TEST_INSTALL_ROOT/,
    );
    // and only a root under /tmp counts: GATEHOUSE_TEST_INSTALL_ROOT=/usr does not make /usr/opt/x acceptable
    expectRefused(
      agentIn('/usr', 'install-service', '--print', '--config', '/usr/opt/gatehouse/agent.json'),
      /is outside \/usr \(GATEHOUSE_TEST_INSTALL_ROOT, which must be a directory under \/tmp\)/,
    );
  }, 180_000);

  it('unit injection: a newline, whitespace, %, quote or backslash in --config, or a user name outside the portable set, is refused before any unit is shown', () => {
    const configs = [
      '/etc/gatehouse/agent.json\nExecStartPre=+/bin/sh -c id',
      '/etc/gate house/agent.json',
      '/etc/gatehouse%n/agent.json',
      '/etc/gatehouse"/agent.json',
      "/etc/gatehouse'/agent.json",
      '/etc/gate\\x20house/agent.json',
      '/etc/gatehouse\t/agent.json',
    ];
    for (const c of configs)
      expectRefused(
        agent('install-service', '--print', '--config', c),
        /^gatehouse-agent: --config must not contain control characters, whitespace, %, quotes or backslashes/,
      );
    const users = ['gatehouse\nExecStartPre=+/bin/true', 'gate house', 'gate%n', 'Gatehouse', '1gate', 'gate"x', `g${'a'.repeat(32)}`, ''];
    for (const u of users)
      expectRefused(
        agent('install-service', '--print', '--config', '/etc/gatehouse/agent.json', '--user', u),
        /^gatehouse-agent: --user must be a portable user name/,
      );
    const ok = agent('install-service', '--print', '--config', '/etc/gatehouse/agent.json', '--user', `_gate-house_1${'x'.repeat(18)}$`);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^User=_gate-house_1x{18}\$$/m);
    // Windows: a newline, " or % refused; every other value XML-escaped
    for (const c of [
      'C:\\ProgramData\\Gatehouse\\agent.json\r\n<executable>cmd</executable>',
      'C:\\ProgramData\\Gate"house\\agent.json',
      'C:\\ProgramData\\%TEMP%\\agent.json',
    ]) {
      expectRefused(
        agent('install-service', '--print', '--platform', 'windows', '--config', c),
        /^gatehouse-agent: --config must not contain control characters, " or %/,
      );
    }
    const w = agent(
      'install-service',
      '--print',
      '--platform',
      'windows',
      '--winsw',
      'C:\\Gatehouse\\gatehouse-agent-service.exe',
      '--config',
      "C:\\ProgramData\\A&B's <x>\\agent.json",
    );
    expect(w.status, w.stderr).toBe(0);
    const xml = w.stdout.slice(w.stdout.indexOf('<?xml'), w.stdout.indexOf('</service>') + '</service>'.length);
    expect(wellFormed(xml)).toBe(true);
    expect(xml).toContain('A&amp;B&apos;s &lt;x&gt;');
    expect(xml).not.toMatch(/A&B|<x>/);
  }, 180_000);

  it('Windows: device and verbatim prefixes, names ending in a dot or space, and 8.3 short names are refused', () => {
    for (const [config, why] of [
      ['\\\\?\\C:\\Windows\\agent.json', /device or verbatim prefix/],
      ['\\\\.\\C:\\Windows\\agent.json', /device or verbatim prefix/],
      ['//?/C:/Windows/agent.json', /device or verbatim prefix/],
      ['C:\\Windows.\\agent.json', /name ending in a dot or space/],
      ['C:\\Windows \\agent.json', /name ending in a dot or space/],
      ['C:\\PROGRA~1\\agent.json', /8\.3 short name/],
      ['C:\\ProgramData\\GATEHO~2\\agent.json', /8\.3 short name/],
    ] as const) {
      expectRefused(
        agent('install-service', '--print', '--platform', 'windows', '--winsw', 'C:\\Gatehouse\\gatehouse-agent-service.exe', '--config', config),
        why,
      );
    }
    const r = agent(
      'install-service',
      '--print',
      '--platform',
      'windows',
      '--winsw',
      'C:\\Gatehouse\\gatehouse-agent-service.exe',
      '--config',
      'C:\\ProgramData\\Gate~house\\agent.json',
    );
    expect(r.status, r.stderr).toBe(0);
  });
});
