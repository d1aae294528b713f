// A light agent simulator for bench/tunnels.ts: one Node process holding many agent tunnels to one hub. Each
// tunnel speaks the real protocol with shared's codec (the agent credential in the upgrade, HELLO, WELCOME,
// PING/PONG both ways) and answers every call with a canned 12-byte RESPONSE; it reconnects with the agent's own
// backoff-with-jitter schedule (packages/agent/src/tunnel/backoff.ts), and like the agent waits for a refusal's
// Retry-After instead of its next step. Nothing of the agent's executor, config or
// logging is loaded, so one process holds 10,000 tunnels in little memory.
//
//   node bench/dist/bench/tunnel-sim.js PORT CREDENTIALS_FILE FILL_PER_SECOND LIFETIME_MS
//
// CREDENTIALS_FILE: one agent credential (`<memberId>.<secret>`) per line. The initial connections are spread at
// FILL_PER_SECOND; every reconnect after that follows the backoff schedule. Every 250 ms the
// simulator prints one line `sim {json}` with its counts (SimStatus); it stops on SIGTERM, and by itself after
// LIFETIME_MS whatever happens (a bench that dies leaves no simulator behind for long).
import { readFileSync } from 'node:fs';
import { WebSocket } from 'ws';
import {
  AGENT_AUTH_SCHEME,
  AGENT_CONNECT_PATH,
  AGENT_RECEIVES,
  FATAL_CLOSE_CODES,
  FrameType,
  Limits,
  PROTOCOL_VERSIONS,
  decodeFrame,
  encodeFrame,
} from '@gatehouse/shared';

// The agent's own schedule, from its build (this file runs from bench/dist/bench/).
const { reconnectDelay, retryAfterMs } = (await import(
  new URL('../../../packages/agent/dist/tunnel/backoff.js', import.meta.url).href
)) as typeof import('../packages/agent/dist/tunnel/backoff.js');

/** What the simulator prints every 250 ms. */
export interface SimStatus {
  /** Tunnels whose WELCOME arrived and that are still open. */
  online: number;
  tunnels: number;
  /** Upgrades answered with an HTTP status instead of 101, by status. */
  refused: Record<string, number>;
  /** Closes of upgraded sockets, by close code (1006: the connection dropped without a close frame). */
  closes: Record<string, number>;
  /** Connection errors before any answer (ECONNREFUSED while the hub is down), by code. */
  errors: Record<string, number>;
  /** Calls answered. */
  calls: number;
  /** Tunnels that gave up (a fatal close code, as the agent does). */
  fatal: number;
}

const HELLO_VERSIONS = [...PROTOCOL_VERSIONS];
const BODY = Buffer.from('hello, world');
const HEADERS: Array<[string, string]> = [['content-type', 'text/plain']];

class SimTunnel {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private version = 0;
  private retryAfterMs: number | undefined;
  online = false;
  stopped = false;

  constructor(
    private readonly url: string,
    private readonly credential: string,
    private readonly status: SimStatus,
  ) {}

  connect(): void {
    if (this.stopped) return;
    const ws = new WebSocket(this.url, {
      headers: { authorization: `${AGENT_AUTH_SCHEME} ${this.credential}` },
      maxPayload: Limits.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: Limits.handshakeTimeoutMs,
      generateMask: (mask: Buffer) => {
        mask.fill(0);
      },
    });
    this.ws = ws;
    let refused = false;
    ws.on('unexpected-response', (_req, res) => {
      refused = true;
      bump(this.status.refused, String(res.statusCode ?? 0));
      this.retryAfterMs = retryAfterMs(res.headers['retry-after']);
      res.resume();
      ws.terminate();
    });
    let upgraded = false;
    ws.on('open', () => {
      upgraded = true;
      ws.send(
        encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions: HELLO_VERSIONS, agentVersion: 'tunnel-sim', hostname: 'sim', capabilities: [] } }),
      );
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.onFrame(data as Buffer);
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (!upgraded && !refused) bump(this.status.errors, err.code ?? err.message.slice(0, 40));
    });
    ws.on('close', (code) => this.onClose(code, ws, upgraded));
  }

  /** Sends the agent's own ping (the agent pings every heartbeat interval). */
  ping(): void {
    if (!this.online) return;
    const payload = Buffer.alloc(8);
    payload.writeDoubleBE(performance.now());
    this.ws?.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: payload }));
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }

  private onFrame(data: Buffer): void {
    const ws = this.ws!;
    let f;
    try {
      f = decodeFrame(data, AGENT_RECEIVES, this.version || undefined);
    } catch {
      ws.terminate();
      return;
    }
    switch (f.type) {
      case FrameType.Welcome:
        this.version = f.msg.version;
        this.attempt = 0;
        this.online = true;
        this.status.online++;
        return;
      case FrameType.Ping:
        ws.send(encodeFrame({ type: FrameType.Pong, stream: 0, data: f.data }));
        return;
      case FrameType.RequestHead:
        ws.send(encodeFrame({ type: FrameType.Response, stream: f.stream, msg: { status: 200, headers: HEADERS }, data: BODY }, this.version));
        this.status.calls++;
        return;
      default:
        return; // pongs, late body frames and credits of calls already answered
    }
  }

  private onClose(code: number, ws: WebSocket, upgraded: boolean): void {
    if (ws !== this.ws) return;
    if (this.online) {
      this.online = false;
      this.status.online--;
    }
    if (upgraded) bump(this.status.closes, String(code));
    this.version = 0;
    if (this.stopped) return;
    if (FATAL_CLOSE_CODES.has(code)) {
      this.stopped = true;
      this.status.fatal++;
      return;
    }
    const delay = reconnectDelay(this.attempt++, this.retryAfterMs);
    this.retryAfterMs = undefined;
    setTimeout(() => this.connect(), delay);
  }
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

const [port, file, fill, lifetime] = process.argv.slice(2);
const credentials = readFileSync(file!, 'utf8').split('\n').filter(Boolean);
const status: SimStatus = { online: 0, tunnels: credentials.length, refused: {}, closes: {}, errors: {}, calls: 0, fatal: 0 };
const url = `ws://127.0.0.1:${port}${AGENT_CONNECT_PATH}`;
const tunnels = credentials.map((c) => new SimTunnel(url, c, status));

const perSecond = Number(fill ?? 500);
let next = 0;
const filler = setInterval(() => {
  for (const end = Math.min(tunnels.length, next + Math.ceil(perSecond / 20)); next < end; next++) tunnels[next]!.connect();
  if (next >= tunnels.length) clearInterval(filler);
}, 50);

// The agent pings each heartbeat interval: a tenth of the tunnels each second-tenth of the interval.
let slot = 0;
const pinger = setInterval(() => {
  for (let i = slot; i < tunnels.length; i += 10) tunnels[i]!.ping();
  slot = (slot + 1) % 10;
}, Limits.heartbeatIntervalMs / 10);

const report = setInterval(() => process.stdout.write(`sim ${JSON.stringify(status)}\n`), 250);

function stop(): void {
  clearInterval(filler);
  clearInterval(pinger);
  clearInterval(report);
  for (const t of tunnels) t.stop();
  process.stdout.write(`sim ${JSON.stringify(status)}\n`);
  setTimeout(() => process.exit(0), 200).unref();
}
process.on('SIGTERM', stop);
setTimeout(stop, Number(lifetime ?? 300_000)).unref();
