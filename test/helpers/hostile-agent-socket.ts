// A hand-written agent on a raw TCP socket: it does the WebSocket upgrade and speaks the real protocol frame by
// frame, but can stop reading at any moment (socket.pause(): the kernel's buffers fill, then the hub's), which no
// WebSocket library lets a client do. While it reads, it answers the hub's PINGs like a real agent.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { AGENT_CONNECT_PATH, AGENT_RECEIVES, FrameType, decodeFrame, encodeFrame, type Frame } from '@gatehouse/shared';

export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string>;
  /** The refusal's body (JSON error), when the upgrade was refused. */
  body: string;
  /** The agent, when the upgrade succeeded (101). */
  agent?: HostileAgent;
}

/** One WebSocket message from a client: final, binary, masked with the all-zero key (the payload as it is). */
export function clientMessage(payload: Buffer, opcode = 0x2): Buffer {
  const n = payload.length;
  const len = n < 126 ? 1 : n < 65536 ? 3 : 9;
  const head = Buffer.alloc(1 + len + 4);
  head[0] = 0x80 | opcode;
  if (n < 126) head[1] = 0x80 | n;
  else if (n < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** Opens a raw agent connection; `localAddress` picks the source address (127.0.0.2: "another address" on loopback). */
export function openHostileAgent(port: number, credential: string, opts: { localAddress?: string; timeoutMs?: number } = {}): Promise<UpgradeAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer to the upgrade in time'));
    }, opts.timeoutMs ?? 15_000);
    let buf = Buffer.alloc(0);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () =>
      socket.write(
        `GET ${AGENT_CONNECT_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: GatehouseAgent ${credential}\r\n\r\n`,
      ),
    );
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const rest = buf.subarray(end + 4);
      if (status === 101) {
        socket.off('data', onData);
        clearTimeout(timer);
        resolve({ status, headers, body: '', agent: new HostileAgent(socket, rest) });
        return;
      }
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < length) return;
      socket.off('data', onData);
      clearTimeout(timer);
      socket.destroy();
      resolve({ status, headers, body: rest.subarray(0, length).toString('utf8') });
    };
    socket.on('data', onData);
  });
}

export class HostileAgent {
  /** Protocol frames received while reading. */
  readonly frames: Frame[] = [];
  /** The hub's close code, once its close frame has been read. */
  closeCode: number | undefined;
  /** Bytes read from the hub so far. */
  bytesRead = 0;
  private pending: Buffer;
  private version = 0;
  private waiters: Array<() => void> = [];
  private ended = false;

  constructor(
    readonly socket: Socket,
    first: Buffer,
  ) {
    this.pending = first;
    socket.on('data', (chunk: Buffer) => this.take(chunk));
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
    if (first.length) queueMicrotask(() => this.take(Buffer.alloc(0)));
  }

  /** Sends one protocol frame as one WebSocket message (writes go out even while reading is paused). */
  send(frame: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(clientMessage(frame));
  }

  /** HELLO, and waits for WELCOME: the negotiated version. */
  async hello(versions = [3, 2, 1]): Promise<number> {
    this.send(encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions, agentVersion: 'hostile', hostname: 'hostile', capabilities: [] } }));
    const welcome = await this.waitFor((f) => f.type === FrameType.Welcome);
    return welcome.type === FrameType.Welcome ? welcome.msg.version : 0;
  }

  /** A PING, as an agent's heartbeat. */
  ping(): void {
    this.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: randomBytes(8) }));
  }

  /** Stops reading: what the hub sends piles up in the kernel's buffers, then in the hub. */
  stopReading(): void {
    this.socket.pause();
  }

  /** Reads again (everything queued, then on). */
  resume(): void {
    this.socket.resume();
  }

  /** Resolves with the first frame matching `pred` (already received or to come). */
  waitFor(pred: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('frame not received in time')), timeoutMs);
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          clearTimeout(t);
          resolve(f);
          return;
        }
        if (this.ended || this.closeCode !== undefined) {
          clearTimeout(t);
          reject(new Error(`connection closed (${this.closeCode ?? 'no close frame'}) before the frame came`));
          return;
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  /** Reads on until the hub's close frame (its code) or the end of the connection (undefined). */
  readUntilClose(timeoutMs = 15_000): Promise<number | undefined> {
    this.resume();
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.closeCode), timeoutMs);
      const check = () => {
        if (this.closeCode !== undefined || this.ended) {
          clearTimeout(t);
          resolve(this.closeCode);
          return;
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private take(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const b = this.pending;
      if (b.length < 2) break;
      const opcode = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      if (b.length < off + len) break;
      const payload = b.subarray(off, off + len);
      this.pending = b.subarray(off + len);
      if (opcode === 0x8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      else if (opcode === 0x2) this.onFrame(payload);
    }
    this.wake();
  }

  private onFrame(payload: Buffer): void {
    let f: Frame;
    try {
      f = decodeFrame(payload, AGENT_RECEIVES, this.version);
    } catch {
      return;
    }
    // Later frames are read as the version WELCOME chose (it may come in one chunk with them).
    if (f.type === FrameType.Welcome) this.version = f.msg.version;
    // A reading agent answers the hub's pings, as a real one does.
    if (f.type === FrameType.Ping) this.send(encodeFrame({ type: FrameType.Pong, stream: 0, data: f.data }));
    // Kept bounded: a long test must not grow without end.
    if (this.frames.length < 10_000) this.frames.push(f);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}
