// A real NTLM server: Samba's winbindd checks the passwords (ntlm_auth, the helper mod_auth_ntlm_winbind uses),
// behind a small HTTP front end that runs the NTLM handshake per TCP connection and reports, for an
// authenticated request, who it was and what body it received. Needs root (Samba accounts) and the Debian
// packages samba and winbind; scripts/test-all.sh installs them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tempDir } from './tmp.js';

export const NTLM_DOMAIN = 'CORP';
export const NTLM_USERS = { alice: 'Passw0rd!', bob: 'S3cret-bob' } as const;

export interface NtlmServer {
  url: string;
  port: number;
  /** Authenticated requests: user, method, path, body size and hash, and the TCP connection they came on. */
  seen: Array<{ user: string; method: string; url: string; bytes: number; sha256: string; connection: number }>;
  handshakes: number;
  /** Body bytes received per path over every request, handshake legs included: a body sent twice counts twice. */
  bodyBytes: Map<string, number>;
  stop(): void;
}

interface Helper {
  ask(line: string): Promise<string>;
}

let winbind: ChildProcess | undefined;
let conf: string | undefined;

function startWinbind(): string {
  if (conf) return conf;
  const dir = tempDir('gatehouse-samba-');
  for (const d of ['private', 'lock', 'state', 'cache', 'pid', 'log', 'ncalrpc']) mkdirSync(join(dir, d), { recursive: true });
  mkdirSync('/run/samba', { recursive: true });
  conf = join(dir, 'smb.conf');
  writeFileSync(
    conf,
    `[global]
  workgroup = CORPWG
  netbios name = ${NTLM_DOMAIN}
  server role = standalone server
  passdb backend = tdbsam
  private dir = ${dir}/private
  lock directory = ${dir}/lock
  state directory = ${dir}/state
  cache directory = ${dir}/cache
  pid directory = ${dir}/pid
  ncalrpc dir = ${dir}/ncalrpc
  log file = ${dir}/log/%m.log
  interfaces = lo
  bind interfaces only = yes
  smb ports = 44445
  ntlm auth = ntlmv2-only
`,
  );
  for (const [user, password] of Object.entries(NTLM_USERS)) {
    try {
      execFileSync('id', [user], { stdio: 'pipe' });
    } catch {
      execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', user], { stdio: 'pipe' });
    }
    execFileSync('smbpasswd', ['-c', conf, '-s', '-a', user], { input: `${password}\n${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  }
  winbind = spawn('winbindd', ['-F', '--no-process-group', '-s', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('wbinfo', ['-p'], { stdio: 'pipe' });
      return conf;
    } catch {
      execFileSync('sleep', ['0.1']);
    }
  }
  throw new Error('winbindd did not come up');
}

/**
 * Samba processes started with this suite's configuration: winbindd, and what it starts on demand and does not
 * stop with it (samba-dcerpcd and its rpcd_* workers, which outlived the suite: issue 21, finding 11). Matched
 * by the configuration's path, a temporary directory of this run, so processes of other runs are never touched.
 */
export function sambaProcesses(confPath = conf): number[] {
  if (!confPath) return [];
  try {
    return execFileSync('pgrep', ['-f', '--', confPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  } // pgrep exits 1 when nothing matches
}

/** The configuration of the running winbindd (undefined when none runs). */
export function sambaConf(): string | undefined {
  return conf;
}

/** Stops winbindd and every process started with its configuration: TERM, then KILL what is left after 5 s. */
export async function stopWinbind(): Promise<void> {
  const confPath = conf;
  winbind?.kill();
  winbind = undefined;
  conf = undefined;
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signal(sambaProcesses(confPath), 'SIGTERM');
  for (let i = 0; i < 50 && sambaProcesses(confPath).length; i++) await new Promise((r) => setTimeout(r, 100));
  signal(sambaProcesses(confPath), 'SIGKILL');
  for (let i = 0; i < 20 && sambaProcesses(confPath).length; i++) await new Promise((r) => setTimeout(r, 100));
}

export function ntlmAvailable(): boolean {
  return ['/usr/sbin/winbindd', '/usr/bin/ntlm_auth'].every((p) => existsSync(p));
}

export async function startNtlmServer(): Promise<NtlmServer> {
  const smbConf = startWinbind();
  const state = { seen: [] as NtlmServer['seen'], handshakes: 0, bodyBytes: new Map<string, number>() };
  const count = (req: IncomingMessage, n: number) => {
    const p = (req.url ?? '').split('?')[0]!;
    state.bodyBytes.set(p, (state.bodyBytes.get(p) ?? 0) + n);
  };
  /** Reads and drops a request's body (a handshake leg's, or a refused one's), counting it. */
  const drop = (req: IncomingMessage) => {
    req.on('data', (c: Buffer) => count(req, c.length));
  };
  const helpers = new WeakMap<Socket, Helper>();
  const ids = new WeakMap<Socket, number>();
  let nextId = 1;
  const helperFor = (socket: Socket): Helper => {
    let h = helpers.get(socket);
    if (h) return h;
    const p = spawn('ntlm_auth', [`--configfile=${smbConf}`, '--helper-protocol=squid-2.5-ntlmssp'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const waiting: Array<(l: string) => void> = [];
    createInterface({ input: p.stdout! }).on('line', (l) => waiting.shift()?.(l));
    socket.once('close', () => p.kill());
    h = {
      ask: (line) =>
        new Promise((ok) => {
          waiting.push(ok);
          p.stdin!.write(`${line}\n`);
        }),
    };
    helpers.set(socket, h);
    return h;
  };
  const authed = new WeakMap<Socket, string>();
  const challenge = (res: import('node:http').ServerResponse, token?: string) => {
    res.writeHead(401, { 'www-authenticate': token ? `NTLM ${token}` : 'NTLM', 'content-type': 'text/plain' }).end('401 Unauthorized\n');
  };
  const respond = (req: IncomingMessage, res: import('node:http').ServerResponse, user: string) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
      count(req, c.length);
    });
    req.on('end', () => {
      const socket = req.socket;
      if (!ids.has(socket)) ids.set(socket, nextId++);
      const entry = { user, method: req.method ?? '', url: req.url ?? '', bytes, sha256: hash.digest('hex'), connection: ids.get(socket)! };
      state.seen.push(entry);
      const big = /bighead=(\d+)/.exec(req.url ?? '');
      res
        .writeHead(200, { 'x-remote-user': user, 'content-type': 'application/json', ...(big ? { 'x-big': 'b'.repeat(Number(big[1])) } : {}) })
        .end(JSON.stringify(entry));
    });
  };
  const server: Server = createServer(
    (req, res) =>
      void (async () => {
        const m = /^(NTLM|Negotiate) (.+)$/.exec(req.headers.authorization ?? '');
        // An authenticated connection stays authenticated (what IIS does by default for NTLM).
        const already = authed.get(req.socket);
        if (!m && already) return respond(req, res, already);
        if (!m) {
          drop(req);
          return challenge(res);
        }
        const msg = Buffer.from(m[2]!, 'base64');
        if (msg.subarray(0, 8).toString('latin1') !== 'NTLMSSP\0') {
          drop(req);
          return challenge(res);
        }
        const type = msg.readUInt32LE(8);
        const helper = helperFor(req.socket);
        if (type === 1) {
          drop(req);
          state.handshakes++;
          const r = await helper.ask(`YR ${m[2]}`);
          return r.startsWith('TT ') ? challenge(res, r.slice(3)) : challenge(res);
        }
        if (type === 3) {
          const r = await helper.ask(`KK ${m[2]}`);
          if (r.startsWith('AF ')) {
            const user = r.slice(3);
            authed.set(req.socket, user);
            return respond(req, res, user);
          }
          helpers.delete(req.socket);
          drop(req);
          return challenge(res);
        }
        drop(req);
        return challenge(res);
      })(),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get seen() {
      return state.seen;
    },
    get handshakes() {
      return state.handshakes;
    },
    get bodyBytes() {
      return state.bodyBytes;
    },
    stop() {
      server.closeAllConnections();
      server.close();
    },
  };
}
