// install-service: the systemd unit passes systemd-analyze (verify and the offline security review), the
// WinSW definition is well-formed and names the right paths, and a real install/uninstall as root writes and
// removes the unit, the service user and the config ownership.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_MAIN, startProc } from '../helpers/stack.js';
import { tempDir } from '../helpers/tmp.js';
import { NODE_FLAGS } from '@gatehouse/shared';

/** The Node flags every shipped launch line carries, as a regular expression. */
const FLAGS = NODE_FLAGS.join(' ').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function print(...args: string[]): Promise<string> {
  const p = startProc([AGENT_MAIN, 'install-service', '--print', ...args], {});
  expect(await p.exited).toBe(0);
  return p.lines.join('\n');
}

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
    expect(out).toContain('systemctl enable --now gatehouse-agent.service');
  });

  it.runIf(process.getuid?.() === 0)('install and uninstall as root: unit written, service user created, config owned by it', async () => {
    const user = 'gatehouse-test';
    const dir = tempDir();
    const config = join(dir, 'agent.json');
    writeFileSync(config, '{}', { mode: 0o600 });
    try {
      const p = startProc([AGENT_MAIN, 'install-service', '--config', config, '--user', user], {});
      expect(await p.exited, p.lines.join('\n')).toBe(0);
      const unit = readFileSync('/etc/systemd/system/gatehouse-agent.service', 'utf8');
      expect(unit).toContain(`User=${user}`);
      expect(unit).toContain(`--config ${config}`);
      const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
      expect(statSync(config).uid).toBe(uid);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
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
