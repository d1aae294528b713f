// The agent's config file: what `register` writes and `run` reads. Owner-only permissions: it holds the
// member credential and the gateway's private key.
import { chownSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BlockList, isIP } from 'node:net';
import { deepFreeze, parseBaseUrl } from '@gatehouse/shared';

export interface AgentConfig {
  version: 1;
  hubs: string[];
  gatewayId: string;
  memberId: string;
  credential: string;
  name: string;
  /** URL prefixes the agent will call, whatever the hub asks. */
  allow: string[];
  privateKeyPem: string;
}

export const DEFAULT_CONFIG_PATH =
  process.platform === 'win32'
    ? `${process.env.ProgramData ?? 'C:\\ProgramData'}\\Gatehouse\\agent.json`
    : process.getuid?.() === 0
      ? '/etc/gatehouse/agent.json'
      : `${process.env.HOME ?? '.'}/.config/gatehouse/agent.json`;

export class AgentConfigError extends Error {
  readonly code = 'GATEHOUSE_AGENT_CONFIG';
}

/** `name`: what a refusal calls the value (the flag, or the config file's field). */
export function checkHubUrl(raw: string, name = '--hub'): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AgentConfigError(`${name} ${raw} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new AgentConfigError(`${name} ${raw} must be https:// (http:// only for a hub on the same machine or container network)`);
  if (u.username || u.password || u.search || u.hash) throw new AgentConfigError(`${name} ${raw} must not carry userinfo, query or fragment`);
  return u.href.replace(/\/+$/, '');
}

/** `name`: what a refusal names (`allow --add` and `--remove` check their prefixes here too; the config file: its field). */
export function checkAllow(prefixes: readonly string[], name = '--allow'): URL[] {
  if (prefixes.length === 0) throw new AgentConfigError(`at least one ${name} URL prefix is required: the agent calls nothing else`);
  return prefixes.map((p) => {
    const r = parseBaseUrl(p);
    if (!r.ok) throw new AgentConfigError(`${name} ${p}: ${r.reason}`);
    return r.url;
  });
}

export function writeAgentConfig(path: string, config: AgentConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writePrivateFile(path, `${JSON.stringify(config, null, 2)}\n`);
}

/**
 * Writes a file only its owner can read (0600: the config, the status file), whole or not at all: a new
 * temporary file beside it (a stale one, whatever its mode, is removed first, so the mode always applies),
 * then renamed over the old one, whose wider mode therefore never survives.
 */
export function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  keepOwner(path, tmp);
  renameSync(tmp, path);
}

/**
 * Root rewriting a config that belongs to the service user (install-service hands it over) gives the new file
 * back to that user: otherwise, after `sudo gatehouse-agent rotate-key` or `allow`, the service could no longer
 * read its own config.
 */
function keepOwner(path: string, tmp: string): void {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return;
  let owner: { uid: number; gid: number };
  try {
    owner = statSync(path);
  } catch {
    return;
  }
  if (owner.uid !== 0 || owner.gid !== 0) chownSync(tmp, owner.uid, owner.gid);
}

/**
 * The allow-list after `allow --add` and `--remove` (each a URL prefix, checked as at register): removing one
 * that is not there, or the last one, is refused. Prefixes compare by their normalised form.
 */
export function editAllow(current: string[], add: string[], remove: string[]): string[] {
  const key = (p: string, name?: string) => checkAllow([p], name)[0]!.href;
  const next = new Map(current.map((p) => [key(p), p]));
  for (const p of remove) {
    if (!next.delete(key(p, '--remove'))) throw new AgentConfigError(`--remove ${p}: not in the allow-list (gatehouse-agent allow lists it)`);
  }
  for (const p of add) {
    const k = key(p, '--add');
    if (!next.has(k)) next.set(k, p);
  }
  if (next.size === 0) throw new AgentConfigError('the allow-list cannot be empty: the agent would call nothing');
  return [...next.values()];
}

/** The config file, checked whole: every problem in one AgentConfigError; the result is frozen. */
export function readAgentConfig(path: string): Readonly<AgentConfig> {
  const r = checkAgentConfig(path);
  if (r.problems.length > 0) throw new AgentConfigError(r.problems.join('; '));
  return r.config!;
}

/** The config file and every problem with it (none: `config` is set, deeply frozen). */
export function checkAgentConfig(path: string): { config?: Readonly<AgentConfig>; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return { problems: [`cannot read ${path}: run \`gatehouse-agent register\` first or pass --config`] };
  }
  const problems: string[] = [];
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) problems.push(`${path} is readable by others; it holds secrets: chmod 600 ${path}`);
  let c: AgentConfig;
  try {
    c = JSON.parse(text) as AgentConfig;
  } catch {
    return { problems: [...problems, `${path} is not valid JSON`] };
  }
  if (c === null || typeof c !== 'object' || c.version !== 1) return { problems: [...problems, `${path} is not a gatehouse agent config`] };
  const field = (name: string, ok: boolean, what: string) => {
    if (!ok) problems.push(`${path}: ${name} must be ${what}`);
  };
  const nonEmpty = (v: unknown) => typeof v === 'string' && v !== '';
  field('hubs', Array.isArray(c.hubs) && c.hubs.length > 0, 'a list of at least one hub URL');
  for (const h of Array.isArray(c.hubs) ? c.hubs : []) collect(problems, path, () => checkHubUrl(String(h), 'hubs:'));
  for (const name of ['credential', 'privateKeyPem'] as const) field(name, nonEmpty(c[name]), 'a non-empty string');
  field('allow', Array.isArray(c.allow), 'a list of URL prefixes');
  if (Array.isArray(c.allow)) {
    if (c.allow.length === 0) collect(problems, path, () => checkAllow([]));
    for (const p of c.allow) collect(problems, path, () => checkAllow([String(p)], 'allow:'));
  }
  return problems.length > 0 ? { problems } : { config: deepFreeze(c), problems };
}

function collect(problems: string[], path: string, check: () => unknown): void {
  try {
    check();
  } catch (err) {
    problems.push(`${path}: ${(err as Error).message}`);
  }
}

/**
 * The proxy for a hub URL, from the usual variables: HTTPS_PROXY / https_proxy for https hubs, HTTP_PROXY /
 * http_proxy for http ones, skipped for hosts NO_PROXY / no_proxy lists (comma-separated names, .suffixes,
 * addresses, each optionally with :port, networks in CIDR form, or *).
 * Proxy Basic credentials go in the proxy URL (http://user:pass@proxy:3128). Intranet calls never use it.
 */
export function proxyForHub(hubUrl: string, env: Record<string, string | undefined> = process.env): URL | undefined {
  const u = new URL(hubUrl);
  const raw = u.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!raw) return undefined;
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  if (noProxy.some((entry) => noProxyMatches(entry, host, port))) return undefined;
  try {
    return new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new AgentConfigError('the proxy variable does not hold a URL');
  }
}

/** One NO_PROXY entry against a host (IPv6 without brackets) and port: `*`; a name, `.suffix` or address;
 *  any of them with `:port` (IPv6 as `[::1]:port`) to match that port only; or a network in CIDR form
 *  (`10.0.0.0/8`, `fd00::/8`), which matches a hub given by an address in it. */
function noProxyMatches(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const bits = Number(cidr[2]);
    if (!family || isIP(host) !== family || bits > (family === 4 ? 32 : 128)) return false;
    const net = new BlockList();
    net.addSubnet(cidr[1]!, bits, family === 4 ? 'ipv4' : 'ipv6');
    return net.check(host, family === 4 ? 'ipv4' : 'ipv6');
  }
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  const withPort = !bracketed && /^([^:]+):(\d+)$/.exec(entry);
  const name = bracketed ? bracketed[1]! : withPort ? withPort[1]! : entry;
  const wanted = bracketed ? bracketed[2] : withPort ? withPort[2] : undefined;
  if (wanted !== undefined && wanted !== port) return false;
  return host === name.replace(/^\./, '') || (name.startsWith('.') ? host.endsWith(name) : host.endsWith(`.${name}`));
}

/**
 * Whether frames to this hub need a random WebSocket masking key. Not over TLS, and not to a hub on a loopback
 * address reached without a proxy: no intermediary can read those streams, so the agent sends the all-zero key
 * and its data leaves without a masked copy (see directDataWriter in @gatehouse/shared).
 */
export function needsMasking(hubUrl: string, env: Record<string, string | undefined> = process.env): boolean {
  const u = new URL(hubUrl);
  if (u.protocol === 'https:') return false;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  return !loopback || proxyForHub(hubUrl, env) !== undefined;
}
