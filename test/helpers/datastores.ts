// Real Redis and PostgreSQL for the scale-out suites, started in temporary directories on free loopback
// ports (Debian's redis-server and postgresql-15; scripts/test-all.sh installs them).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './apache.js';
import { tempDir } from './tmp.js';

export interface Redis {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

function waitExit(p: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (p.exitCode !== null || p.signalCode !== null) r();
    else p.once('exit', () => r());
  });
}

export async function startRedis(): Promise<Redis> {
  const dir = tempDir('gatehouse-redis-');
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc!.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      proc!.once('exit', () => reject(new Error(`redis-server exited: ${out.slice(-500)}`)));
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    async stop() {
      proc?.kill('SIGKILL');
      if (proc) await waitExit(proc);
    },
  };
}

/** One Redis command (RESP) on a fresh loopback connection of its own, as someone with write access to Redis
 *  sends it (the cluster suites put or read entries by hand): the raw reply. */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    s.once('data', (d) => {
      resolve(d.toString());
      s.end();
    });
    s.once('error', reject);
  });
}

export interface Postgres {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';

export function postgresAvailable(): boolean {
  return existsSync(`${PG_BIN}/initdb`) && existsSync('/usr/bin/redis-server');
}

export async function startPostgres(): Promise<Postgres> {
  const dir = tempDir('gatehouse-pg-');
  const data = join(dir, 'data');
  mkdirSync(data);
  // initdb refuses to run as root: as root, run the server as the postgres user.
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    ids = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()) };
    chownSync(dir, ids.uid, ids.gid);
    chownSync(data, ids.uid, ids.gid);
  }
  execFileSync(`${PG_BIN}/initdb`, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], { stdio: 'pipe', ...ids });
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      `${PG_BIN}/postgres`,
      ['-D', data, '-c', 'listen_addresses=127.0.0.1', '-p', String(port), '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off'],
      { stdio: ['ignore', 'ignore', 'pipe'], ...ids },
    );
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    for (let i = 0; i < 100; i++) {
      if (err.includes('ready to accept connections')) return;
      if (proc.exitCode !== null) throw new Error(`postgres exited: ${err.slice(-500)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('postgres did not start');
  };
  await start();
  execFileSync('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', 'CREATE DATABASE gatehouse'], { stdio: 'pipe' });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/gatehouse`,
    port,
    start,
    async stop() {
      proc?.kill('SIGINT');
      if (proc) await waitExit(proc);
    },
  };
}
