// A reference for docs/performance.md, not part of Gatehouse: what answering one small HTTP request costs a Node
// process here with node:http, against a bare socket server that only finds the end of each request head and
// writes a fixed answer (no real parsing: no validation, no bodies, no limits; nothing a gateway facing callers
// could use). The difference is the most a leaner HTTP front than node:http could save the hub per call.
// Each server runs on CPU 0, wrk (one thread, 16 connections) on CPU 1, when taskset exists; alternating rounds.
//
//   npx tsc -p bench && node bench/dist/bench/http-floor.js        ROUNDS (3), DUR (seconds per run, 3)
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DUR = Number(process.env.DUR ?? 3);
const ANSWER = 'hello world\n';

const mode = process.argv[2];
if (mode === 'http') {
  const server = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ANSWER.length }).end(ANSWER);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
} else if (mode === 'socket') {
  const reply = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${ANSWER.length}\r\n\r\n${ANSWER}`);
  const server = createNetServer((socket) => {
    let pending = '';
    socket.on('data', (d: Buffer) => {
      pending += d.toString('latin1');
      let end: number;
      while ((end = pending.indexOf('\r\n\r\n')) !== -1) {
        pending = pending.slice(end + 4);
        socket.write(reply);
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
} else {
  await main();
}

function cpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

async function start(kind: string): Promise<{ pid: number; port: number; stop: () => void }> {
  const args = [...(TASKSET ? [TASKSET, '-c', '0'] : []), process.execPath, process.argv[1]!, kind];
  const child = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().split(' ')[1]))));
  return { pid: child.pid!, port, stop: () => child.kill() };
}

async function measure(s: { pid: number; port: number }, seconds: number): Promise<{ rps: number; cpu: number }> {
  const wrk = [...(TASKSET ? [TASKSET, '-c', '1'] : []), 'wrk', '-t1', '-c16', `-d${seconds}s`, `http://127.0.0.1:${s.port}/`];
  const before = cpuUs(s.pid);
  const { stdout } = await run(wrk[0]!, wrk.slice(1));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)![1]);
  return { rps, cpu: (cpuUs(s.pid) - before) / (rps * seconds) };
}

async function main(): Promise<void> {
  try {
    execFileSync('sh', ['-c', 'command -v wrk']);
  } catch {
    process.stdout.write('http-floor: wrk is not installed\n');
    process.exit(2);
  }
  const servers = { 'node:http': await start('http'), 'bare socket': await start('socket') };
  for (const s of Object.values(servers)) await measure(s, 2); // warm-up, not recorded
  process.stdout.write(`12-byte answers, wrk -t1 -c16, ${ROUNDS} rounds of ${DUR} s; server ${TASKSET ? 'on CPU 0, wrk on CPU 1' : 'unpinned'}\n`);
  for (let r = 1; r <= ROUNDS; r++) {
    for (const [name, s] of Object.entries(servers)) {
      const m = await measure(s, DUR);
      process.stdout.write(`round ${r}: ${name}: ${Math.round(m.rps)} req/s, ${m.cpu.toFixed(1)} µs CPU per request\n`);
    }
  }
  for (const s of Object.values(servers)) s.stop();
}
