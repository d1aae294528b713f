// install-service hands the config's directory and the agent's files in it to the service account (owner and
// mode on Linux, an ACL on Windows). It does so only for a directory that is the agent's own: on Linux only in an
// allow-listed place (LINUX_ACCEPTED), never a home directory, never one holding anything that is not the
// agent's (agent.keytab is the one keytab name), never a symlinked or hard-linked file. Those are refused (one
// line, exit 2) before anything changes, after resolving `..` and symlinks.
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { AgentConfigError } from '../config.js';
import { windowsPathReason } from './values.js';

export interface AgentFile {
  path: string;
  /** A regular file (0600), or the Kerberos cache directory (0700) holding only regular files. */
  kind: 'file' | 'dir';
}

export interface ConfigDir {
  /** The directory, `..` and symlinks resolved. */
  dir: string;
  /** The config inside it. */
  configPath: string;
  /** Whether the directory exists yet (install-service creates it, 0700, owned by the service account). */
  exists: boolean;
  /** The agent's files in it that exist, in a stable order. */
  files: AgentFile[];
}

/**
 * Linux: the agent's own directory is accepted only in these places (an allow-list, so that it has no gaps):
 * a direct child of /etc whose name starts with `gatehouse` (default /etc/gatehouse), or /opt/NAME, /srv/NAME,
 * /var/lib/NAME, /var/opt/NAME or deeper. Everything else is refused: /usr, /root, /boot, /bin, /sbin, /lib*,
 * /proc, /sys, /dev, /run, /snap, /tmp, /var/tmp (the unit has PrivateTmp), /home (ProtectHome) and the rest.
 */
const LINUX_ACCEPTED = /^\/(etc\/gatehouse[^/]*|(opt|srv|var\/lib|var\/opt)\/[^/]+(\/.*)?)$/;
export const LINUX_ACCEPTED_TEXT = '/etc/gatehouse* (a direct child of /etc), /opt/NAME, /srv/NAME, /var/lib/NAME, /var/opt/NAME or below';

/** Tests only: a directory under /tmp the Linux rule treats as `/` (the config must be inside it). Never set in production. */
export const TEST_ROOT_VARIABLE = 'GATEHOUSE_TEST_INSTALL_ROOT';

/** Windows: drive roots and these (compared case-insensitively after the drive letter). */
const WINDOWS_SHARED = new Set([
  '\\windows',
  '\\program files',
  '\\program files (x86)',
  '\\programdata',
  '\\users',
  '\\users\\public',
  '\\users\\default',
  '\\temp',
  '\\tmp',
  '\\perflogs',
  '\\recovery',
  '\\$recycle.bin',
  '\\system volume information',
]);

/** The one keytab name that is the agent's (`run --keytab /etc/gatehouse/agent.keytab`). */
export const AGENT_KEYTAB = 'agent.keytab';

const REFUSAL_TAIL = "install-service hands the config's directory to the service account, so the config needs a directory of its own";

/** Why `dir` (resolved) is not the agent's own, or undefined. */
export function sharedDirReason(dir: string, platform: 'linux' | 'windows', homes: ReadonlySet<string>, testRoot?: string): string | undefined {
  if (platform === 'windows') {
    const rest = dir
      .replace(/^[A-Za-z]:/, '')
      .replace(/\\+$/, '')
      .toLowerCase();
    if (rest === '' || /^\\\\[^\\]+(\\[^\\]+)?$/.test(dir)) return `${dir} is a drive or share root`;
    if (WINDOWS_SHARED.has(rest) || rest.startsWith('\\windows\\')) return `${dir} is a system or shared directory`;
    if (/^\\users\\[^\\]+$/.test(rest)) return `${dir} is a home directory`;
    return undefined;
  }
  if (dir === '/') return '/ is the root directory';
  if (dir.split('/').some((c) => c.startsWith('.'))) return `${dir} has a name starting with '.'`;
  const rel = linuxRuleView(dir, testRoot);
  if (rel === undefined) return `${dir} is outside ${testRoot} (${TEST_ROOT_VARIABLE}, which must be a directory under /tmp)`;
  if (rel === '/') return '/ is the root directory';
  if (/^\/home\/[^/]+$/.test(rel) || /^\/home\/[^/]+$/.test(dir)) return `${dir} is a home directory`;
  if (rel.split('/').some((c) => c.startsWith('.'))) return `${dir} has a name starting with '.'`;
  if (!LINUX_ACCEPTED.test(rel)) return `${dir} is a system or shared directory`;
  if (homes.has(dir)) return `${dir} is a home directory`;
  for (const home of homes) {
    if (home !== '/' && home.startsWith('/') && dir.startsWith(`${home.replace(/\/+$/, '')}/`)) return `${dir} is inside the home directory ${home}`;
  }
  return undefined;
}

/** The path the Linux rule judges: `dir` itself, or (tests only) `dir` relative to the test root. */
function linuxRuleView(dir: string, root: string | undefined): string | undefined {
  if (root === undefined || root === '') return dir;
  const r = posix.resolve(root).replace(/\/+$/, '');
  // only a temporary tree (which the unit, with PrivateTmp, could never use): never a way to accept a real place
  if (!r.startsWith('/tmp/')) return undefined;
  if (dir === r) return '/';
  return dir.startsWith(`${r}/`) ? dir.slice(r.length) : undefined;
}

/** Every home directory this machine knows: /etc/passwd's, and the current user's. */
function linuxHomes(): Set<string> {
  const homes = new Set<string>([homedir()]);
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const home = line.split(':')[5];
      if (home) homes.add(home);
    }
  } catch {
    /* no passwd file: the current user's home and /home/* still count */
  }
  return homes;
}

/** `..` resolved, and symlinks in the longest part of the path that exists. */
function resolveReal(dir: string, platform: 'linux' | 'windows', inspect: boolean): string {
  const path = platform === 'windows' ? win32 : posix;
  const lexical = path.resolve(dir);
  if (!inspect) return lexical;
  const missing: string[] = [];
  let at = lexical;
  for (;;) {
    try {
      return path.join(realpathSync.native(at), ...missing.reverse());
    } catch {
      /* not there (yet) */
    }
    const up = path.dirname(at);
    if (up === at) return lexical;
    missing.push(path.basename(at));
    at = up;
  }
}

/** The names in the config's directory that are the agent's, for a config named `base`. */
function isAgentName(name: string, base: string, extra: (name: string) => boolean): boolean {
  if (name === base || name === `${base}.status.json` || name === 'agent.env' || name === 'kerberos-ccache') return true;
  // writePrivateFile's temporary files (`.tmp` alone: the status file of versions before 0.1.1)
  if (name.startsWith(`${base}.`) && /^(status\.json\.)?tmp(-\d+)?$/.test(name.slice(base.length + 1))) return true;
  // the keytab for `run --keytab` (docs/windows-auth.md: /etc/gatehouse/agent.keytab); any other keytab is a
  // service's, never handed over
  if (name === AGENT_KEYTAB) return true;
  return extra(name);
}

export interface CheckOptions {
  /** Look at the file system (resolve symlinks, list the directory): false for a --print of another platform. */
  inspect: boolean;
  /** More names that are the agent's (Windows: the WinSW executable, its XML and logs beside the config). */
  extra?: (name: string) => boolean;
  /** Home directories (default: /etc/passwd's and the current user's). */
  homes?: ReadonlySet<string>;
  /** Tests only (GATEHOUSE_TEST_INSTALL_ROOT): a directory the Linux rule treats as `/`. */
  testRoot?: string;
}

/** The config's directory if install-service may hand it over, with the agent's files in it; else a refusal. */
export function checkConfigDir(configPath: string, platform: 'linux' | 'windows', o: CheckOptions): ConfigDir {
  const path = platform === 'windows' ? win32 : posix;
  const base = path.basename(configPath);
  const given = path.dirname(path.resolve(configPath));
  const dir = resolveReal(given, platform, o.inspect);
  const example = platform === 'windows' ? 'C:\\ProgramData\\Gatehouse\\agent.json' : '/etc/gatehouse/agent.json';
  const places = platform === 'linux' ? `, in ${LINUX_ACCEPTED_TEXT}` : '';
  const refuse = (why: string, tail = `${REFUSAL_TAIL}${places} (e.g. ${example})`) => new AgentConfigError(`--config ${configPath}: ${why}; ${tail}`);
  const oddWindowsPath = platform === 'windows' ? windowsPathReason(configPath) : undefined;
  if (oddWindowsPath) throw refuse(oddWindowsPath, 'give the plain long path');
  const shared = sharedDirReason(dir, platform, o.homes ?? (platform === 'linux' ? linuxHomes() : new Set()), o.testRoot);
  if (shared) throw refuse(`${shared}${dir !== given ? ` (${given} resolves to it)` : ''}`);
  const result: ConfigDir = { dir, configPath: path.join(dir, base), exists: false, files: [] };
  if (!o.inspect) return result;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return result;
    throw refuse(`${dir} cannot be listed (${(err as { code?: string }).code ?? 'error'})`);
  }
  result.exists = true;
  const foreign = names.filter((n) => !isAgentName(n, base, o.extra ?? (() => false)));
  if (foreign.length > 0) throw refuse(`${dir} holds files that are not the agent's (${listed(foreign)})`);
  for (const name of names) {
    const file = path.join(dir, name);
    const st = lstatSync(file);
    if (name === 'kerberos-ccache' && st.isDirectory()) {
      const inner = readdirSync(file).sort();
      const odd = inner.filter((n) => !lstatSync(path.join(file, n)).isFile());
      if (odd.length > 0) throw refuse(`${file} holds entries that are not Kerberos caches (${listed(odd)})`);
      const linked = inner.filter((n) => lstatSync(path.join(file, n)).nlink > 1);
      if (linked.length > 0) throw refuse(`${file} holds hard-linked files (${listed(linked)}): another name outside would change too`, HARD_LINK_TAIL);
      result.files.push({ path: file, kind: 'dir' }, ...inner.map((n) => ({ path: path.join(file, n), kind: 'file' as const })));
    } else if (st.isFile()) {
      // a hard link to /etc/shadow passes isFile(): chown and chmod would change that file too
      if (st.nlink > 1) throw refuse(`${file} has ${st.nlink} hard links: another name outside would change too`, HARD_LINK_TAIL);
      result.files.push({ path: file, kind: 'file' });
    } else {
      // a symlink named agent.env could point at /etc/shadow: never handed over
      throw refuse(`${file} is not a regular file`, 'install-service never hands over a symlink, device or other special file');
    }
  }
  return result;
}

const HARD_LINK_TAIL = 'install-service never hands over a file with more than one link';

const listed = (names: string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, and ${names.length - 5} more` : ''}`;
