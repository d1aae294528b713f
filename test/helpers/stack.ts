// Starts the real hub and agent binaries (built dist/) as child processes, and talks to the hub's API.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, sign } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import type { FakeEntra } from './fake-entra.js';
import { CLIENT_ID, CLIENT_SECRET } from './fake-entra.js';
import { tempDir } from './tmp.js';
import { NODE_FLAGS } from '@gatehouse/shared';

// Resolved through the workspace packages, so the helpers work from test/ and compiled into bench/dist alike.
const require = createRequire(import.meta.url);
export const HUB_MAIN = join(dirname(require.resolve('@gatehouse/hub/package.json')), 'dist/main.js');
export const AGENT_MAIN = join(dirname(require.resolve('@gatehouse/agent/package.json')), 'dist/main.js');

export interface Proc {
  child: ChildProcess;
  /** Every log line so far (JSON lines from pino, or plain text). */
  lines: string[];
  waitForLine(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Peak resident memory (VmHWM) in bytes, from /proc. */
  peakRss(): number;
}

/** A command prefix for every process started (the benchmark pins the system under test with taskset). */
let prefix: string[] = [];
export function setProcessPrefix(p: string[]): void {
  prefix = p;
}

/** Tests keep every line a process writes; a benchmark, whose hub writes an access line per call, keeps the last
 *  `n` or so (between n and 2n), so that its memory does not grow through a run (a 12-byte-only run of a few
 *  minutes reached 215-227 MB kept, against 88 MB with a limit of 2,000). */
let keptLines = Infinity;
export function setLineLimit(n: number): void {
  keptLines = n;
}

/** Runs a script with node. The hub and the agent get the Node flags every shipped launch line uses (NODE_FLAGS). */
export function startProc(args: string[], env: Record<string, string | undefined>): Proc {
  // (any checkout's hub or agent: bench/probe.ts runs a second build beside this one)
  const flags = /[/\\]packages[/\\](hub|agent)[/\\]dist[/\\]main\.js$/.test(args[0] ?? '') ? [...NODE_FLAGS] : [];
  // HUB_NODE_FLAGS (benches only: space-separated): Node flags for the hub after NODE_FLAGS, so a later one wins
  // (the soak and bench try other young-generation sizes with it; V8 refuses most of them in NODE_OPTIONS).
  if (/[/\\]packages[/\\]hub[/\\]dist[/\\]main\.js$/.test(args[0] ?? '')) flags.push(...(process.env.HUB_NODE_FLAGS ?? '').split(' ').filter(Boolean));
  return startCommand([process.execPath, ...flags, ...args], env, args[1]);
}

/** Processes still running. test/helpers/leftovers.ts kills them after each test file, so a test that failed
 *  before stopping what it started (a hub that should have refused to start, say) leaves nothing holding ports. */
const running = new Set<ChildProcess>();

/** Kills every process started here that is still running. */
export function killLeftovers(): void {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
}

/** Runs any command (after the prefix), collecting its output lines. */
export function startCommand(command: string[], env: Record<string, string | undefined>, label = command[1]): Proc {
  const [cmd, ...rest] = [...prefix, ...command];
  const child = spawn(cmd!, rest, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  const onLine = (l: string) => {
    lines.push(l);
    if (lines.length >= 2 * keptLines) lines.splice(0, keptLines);
    if (process.env.GATEHOUSE_TEST_LOGS) process.stderr.write(`[${label}] ${l}\n`);
    for (const w of [...waiters])
      if (w.pred(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    waitForLine(pred, timeoutMs = 20_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolveLine, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for a log line; last lines:\n${lines.slice(-15).join('\n')}`)), timeoutMs);
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolveLine(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`process exited (${code}) while waiting; last lines:\n${lines.slice(-15).join('\n')}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    peakRss() {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
  };
}

export interface HubProc extends Proc {
  url: string;
  port: number;
  dbDir: string;
}

/** `opts.main`: another build's hub (bench/probe.ts ALT=); `opts.args`: flags for `serve`. */
export async function startHub(
  entra: FakeEntra,
  env: Record<string, string> = {},
  opts: { port?: number; dbDir?: string; main?: string; args?: string[] } = {},
): Promise<HubProc> {
  const dbDir = opts.dbDir ?? tempDir('gatehouse-hub-');
  const p = startProc([opts.main ?? HUB_MAIN, 'serve', ...(opts.args ?? [])], {
    NODE_EXTRA_CA_CERTS: entra.ca.caPath,
    GATEHOUSE_LISTEN: `127.0.0.1:${opts.port ?? 0}`,
    GATEHOUSE_DATABASE: `sqlite:${join(dbDir, 'hub.db')}`,
    GATEHOUSE_CLIENT_ID: CLIENT_ID,
    GATEHOUSE_CLIENT_SECRET: CLIENT_SECRET,
    GATEHOUSE_AUTHORITY_HOST: entra.authorityHost,
    GATEHOUSE_LOG_LEVEL: 'info',
    // The test services EntraAuth connections call run on loopback, which a hub refuses by default.
    GATEHOUSE_ENTRA_ALLOW_NETWORKS: '127.0.0.0/8',
    // Tests that leave a call hanging should not wait the production default (30 s) at the hub's stop.
    GATEHOUSE_DRAIN_TIMEOUT: '2s',
    ...env,
  });
  const line = await p.waitForLine((l) => l.includes('"hub listening"'));
  const port = (JSON.parse(line) as { port: number }).port;
  return Object.assign(p, { url: `http://127.0.0.1:${port}`, port, dbDir });
}

export interface ApiResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: a test reads the JSON answer's fields as the case expects them
  json: any;
  text: string;
}

export async function api(
  hubUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<ApiResult> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  let payload: string | Buffer | undefined;
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  }
  const res = await request(`${hubUrl}${path}`, { method: method as 'GET', headers, body: payload });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

export interface AgentProc extends Proc {
  configPath: string;
  memberId: string;
}

/** Registers a new agent for `gatewayId` with the registration key, then runs it until it is connected. */
export async function startAgent(
  hubUrls: string[],
  gatewayId: string,
  key: string,
  allow: string[],
  env: Record<string, string> = {},
  args: string[] = [],
  main = AGENT_MAIN,
): Promise<AgentProc> {
  const dir = tempDir('gatehouse-agent-');
  const configPath = join(dir, 'agent.json');
  const reg = startProc(
    [
      main,
      'register',
      ...hubUrls.flatMap((h) => ['--hub', h]),
      '--gateway',
      gatewayId,
      '--key',
      key,
      ...allow.flatMap((a) => ['--allow', a]),
      '--config',
      configPath,
      '--recovery-key',
      RECOVERY_KEY,
    ],
    {},
  );
  const code = await reg.exited;
  if (code !== 0) throw new Error(`register failed: ${reg.lines.join('\n')}`);
  return runAgent(configPath, env, args, main);
}

export async function runAgent(configPath: string, env: Record<string, string> = {}, args: string[] = [], main = AGENT_MAIN): Promise<AgentProc> {
  const p = startProc([main, 'run', '--config', configPath, ...args], { GATEHOUSE_LOG_LEVEL: 'info', ...env });
  await p.waitForLine((l) => l.includes('"connected to hub"'));
  const memberId = (JSON.parse(readFileSync(configPath, 'utf8')) as { memberId: string }).memberId;
  return Object.assign(p, { configPath, memberId });
}

/** Creates a gateway, registers and runs an agent for it. */
export async function gatewayWithAgent(
  hubUrl: string,
  token: string,
  allow: string[],
  name = 'gw',
  args: string[] = [],
  main = AGENT_MAIN,
): Promise<{ gatewayId: string; agent: AgentProc }> {
  const gw = await api(hubUrl, token, 'POST', '/v1/gateways', { name });
  if (gw.status !== 201) throw new Error(`gateway create: ${gw.status} ${gw.text}`);
  const agent = await startAgent([hubUrl], gw.json.id, gw.json.registrationKey, allow, {}, args, main);
  return { gatewayId: gw.json.id, agent };
}

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** One request with Node's own HTTP client (not undici: its HTTP/1.1 client fails a 304 that carries a
 *  Content-Length, and tests of such answers need a client that does not). `agent: false`: a fresh connection. */
export function nodeHttp(
  url: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer; agent?: HttpAgent | false } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: o.method ?? 'GET',
      headers: { ...o.headers, ...(o.body ? { 'content-length': String(o.body.length) } : {}) },
      agent: o.agent ?? false,
    });
    req.on('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, data: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

export const RECOVERY_KEY = 'test-recovery-key-0123456789';

/** Adds a member to an existing gateway with `gatehouse-agent join` (fresh registration key, the shared recovery key). */
export async function joinAgent(
  hubUrl: string,
  token: string,
  gatewayId: string,
  allow: string[],
  env: Record<string, string> = {},
  recoveryKey = RECOVERY_KEY,
): Promise<AgentProc> {
  const k = await api(hubUrl, token, 'POST', `/v1/gateways/${gatewayId}/registration-keys`);
  if (k.status !== 201) throw new Error(`registration key: ${k.status} ${k.text}`);
  const configPath = join(tempDir('gatehouse-agent-'), 'agent.json');
  const p = startProc(
    [
      AGENT_MAIN,
      'join',
      '--hub',
      hubUrl,
      '--gateway',
      gatewayId,
      '--key',
      k.json.registrationKey,
      ...allow.flatMap((a) => ['--allow', a]),
      '--config',
      configPath,
      '--recovery-key',
      recoveryKey,
    ],
    {},
  );
  if ((await p.exited) !== 0) throw new Error(`join failed: ${p.lines.join('\n')}`);
  return runAgent(configPath, env);
}

/** Calls an agent served, from its debug log. */
export function served(agent: Proc): number {
  return agent.lines.filter((l) => l.includes('"call served"')).length;
}

/**
 * Registers members through the agent API itself (no agent processes): the first one with a gateway key pair
 * made here, then `joins` more at once, each with its own registration key and a join proof, spread over
 * `hubUrls` in turn. Returns the statuses of the joins and the error messages of the refused ones.
 */
export async function joinAtOnce(hubUrls: string[], token: string, joins: number): Promise<{ gatewayId: string; statuses: number[]; refusals: string[] }> {
  const gw = await api(hubUrls[0]!, token, 'POST', '/v1/gateways', { name: 'members-at-once' });
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const gatewayId = gw.json.id as string;
  const first = await api(hubUrls[0]!, undefined, 'POST', '/v1/agent/register', {
    gatewayId,
    registrationKey: gw.json.registrationKey,
    name: 'first',
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sealedPrivateKey: 'sealed',
  });
  if (first.status !== 201) throw new Error(`first registration: ${first.status} ${first.text}`);
  const keys: string[] = [];
  for (let i = 0; i < joins; i++)
    keys.push((await api(hubUrls[0]!, token, 'POST', `/v1/gateways/${gatewayId}/registration-keys`)).json.registrationKey as string);
  const answers = await Promise.all(
    keys.map((key, i) =>
      api(hubUrls[i % hubUrls.length]!, undefined, 'POST', '/v1/agent/register', {
        gatewayId,
        registrationKey: key,
        name: `join-${i}`,
        proof: sign('sha256', Buffer.from(`gatehouse-join:${gatewayId}:${key}`), pair.privateKey).toString('base64'),
      }),
    ),
  );
  return { gatewayId, statuses: answers.map((a) => a.status), refusals: answers.filter((a) => a.status !== 201).map((a) => a.json?.error?.message as string) };
}
