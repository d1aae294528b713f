// One outbound WebSocket to one hub: dial, HELLO/WELCOME, heartbeat, dispatch of validated frames, and
// reconnect with backoff. An agent keeps one Tunnel per --hub address, and one per hub the cluster lists to it
// (HUBS, protocol version 4; tunnel/hub-mesh.ts).
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { ExecRequest, ExecResponse } from '../executor/http-executor.js';
import {
  AGENT_AUTH_SCHEME,
  AGENT_CONNECT_PATH,
  AGENT_RECEIVES,
  CloseCode,
  FATAL_CLOSE_CODES,
  FrameType,
  Limits,
  PROTOCOL_VERSIONS,
  IdMap,
  ProtocolError,
  closeReason,
  StreamIds,
  WriteGate,
  decodeFrame,
  directDataWriter,
  encodeFrame,
  requestHeadProblem,
  type Frame,
  type HubsMessage,
  type RequestHeadMessage,
  type WelcomeMessage,
} from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { reconnectDelay, retryAfterMs } from './backoff.js';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { needsMasking, proxyForHub } from '../config.js';
import type { AgentMetrics } from '../metrics.js';
import { ServedRequest } from './served-request.js';

export type TunnelState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface TunnelOptions {
  hubUrl: string;
  credential: string;
  agentVersion: string;
  hostname: string;
  execute: (req: ExecRequest) => Promise<ExecResponse>;
  log: Logger;
  prepare: (head: RequestHeadMessage) => Promise<{ url: URL; auth: ExecRequest['auth'] }>;
  onState: (t: Tunnel) => void;
  random?: () => number;
  metrics?: AgentMetrics;
  /** HUBS from the hub (protocol version 4): its id and the cluster's live hubs. */
  onHubs?: (t: Tunnel, msg: HubsMessage) => void;
  /** Asked before every dial; false: the tunnel stops for good instead (a tunnel to a listed hub that another
   *  tunnel of this agent is already on). */
  mayDial?: (t: Tunnel) => boolean;
  /** Set for a tunnel opened because the cluster listed its hub (not a --hub address): that hub's id. */
  listedHubId?: string;
}

/** After the hub replaced this connection by a newer one of the same member (close 4007), the tunnel waits at
 *  least this long before dialling again, so that the agent's other tunnels can say which hub they are on and a
 *  tunnel that is no longer needed is not redialled (tunnel/hub-mesh.ts). */
export const REPLACED_PAUSE_MS = 1_000;

export class Tunnel {
  state: TunnelState = 'disconnected';
  lastError: string | null = null;
  /** Last measured round trip to the hub (ping/pong), in ms. */
  rttMs: number | null = null;
  since = new Date();
  /** Set when retrying cannot help (credential refused, no common version). */
  fatal: string | null = null;
  /** The id of the hub this tunnel is connected to, from HUBS (null before it, after a close, or from an older hub). */
  hubId: string | null = null;
  /** Connections opened (dials), for `status` and tests. */
  dials = 0;
  private ws: WebSocket | undefined;
  private gate: WriteGate | undefined;
  private welcome: WelcomeMessage | undefined;
  private readonly served = new IdMap<ServedRequest>();
  private ids = new StreamIds();
  private attempt = 0;
  private stopped = false;
  private draining = false;
  private timers: NodeJS.Timeout[] = [];
  private retry: NodeJS.Timeout | undefined;
  /** The hub's Retry-After on the last refused upgrade, in ms: waited for instead of the next backoff step. */
  private retryAfterMs: number | undefined;
  private lastSeen = Date.now();
  private drained: (() => void) | undefined;

  constructor(private readonly o: TunnelOptions) {}

  get hubUrl(): string {
    return this.o.hubUrl;
  }
  /** Set for a tunnel opened because the cluster listed its hub: that hub's id. */
  get listedHubId(): string | undefined {
    return this.o.listedHubId;
  }

  get inFlight(): number {
    return this.served.size;
  }

  start(): void {
    this.connect();
  }

  /** SIGTERM: tell the hub to route nothing new here, let in-flight calls finish (up to `maxMs`), then close. */
  async drain(maxMs: number): Promise<void> {
    this.draining = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.state === 'connected' && this.gate) this.gate.send(encodeFrame({ type: FrameType.GoAway, stream: 0, msg: { reason: 'agent shutting down' } }));
    if (this.served.size > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        setTimeout(resolve, maxMs).unref();
      });
    }
    const ws = this.ws;
    this.stop();
    // The close handshake (1001) completes before the process may exit: one that exits at once leaves the hub a
    // connection lost without a close frame (1006), which it shows as the member's last error. At most 2 s, when
    // stop() cuts the socket off.
    if (ws && ws.readyState !== WebSocket.CLOSED)
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        setTimeout(resolve, 2000).unref();
      });
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    for (const s of this.served.list()) s.cancel('agent stopping');
    this.ws?.close(CloseCode.GoingAway, 'agent stopping');
    const ws = this.ws;
    setTimeout(() => ws?.terminate(), 2000).unref();
    this.setState('stopped');
  }

  private setState(s: TunnelState, error?: string): void {
    this.state = s;
    this.since = new Date();
    if (error !== undefined) this.lastError = error;
    this.o.onState(this);
  }

  private connect(): void {
    if (this.stopped || this.draining) return;
    if (this.o.mayDial && !this.o.mayDial(this)) {
      this.stop();
      return;
    }
    this.dials++;
    this.setState('connecting');
    const url = `${this.o.hubUrl.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`;
    const proxy = proxyForHub(this.o.hubUrl);
    const zeroMask = !needsMasking(this.o.hubUrl);
    const ws = new WebSocket(url, {
      headers: { authorization: `${AGENT_AUTH_SCHEME} ${this.o.credential}` },
      ...(proxy ? { agent: new HttpsProxyAgent(proxy) } : {}),
      maxPayload: Limits.maxFrameBytes,
      perMessageDeflate: false,
      handshakeTimeout: Limits.handshakeTimeoutMs,
      // The all-zero masking key where no intermediary can read the stream (see directDataWriter).
      ...(zeroMask
        ? {
            generateMask: (mask: Buffer) => {
              mask.fill(0);
            },
          }
        : {}),
    });
    this.ws = ws;
    this.lastSeen = Date.now();
    // ws keeps its net.Socket in _socket (set once open); corking it batches the frames of one event-loop turn into one write.
    const socket = () => (ws as unknown as { _socket?: Socket })._socket;
    const gate = new WriteGate(
      (frame, done) => ws.send(frame, { binary: true }, done),
      Limits.socketHighWaterBytes,
      { cork: () => socket()?.cork(), uncork: () => socket()?.uncork() },
      zeroMask ? directDataWriter(ws, socket, true) : undefined,
    );
    this.gate = gate;
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      this.retryAfterMs = retryAfterMs(res.headers['retry-after']);
      if (status === 401) this.fatal = 'the hub refused the agent credential (401): the member was removed or the config belongs to another hub';
      this.lastError = `hub answered ${status} to the WebSocket upgrade`;
      ws.terminate();
    });
    ws.on('open', () => {
      gate.send(
        encodeFrame({
          type: FrameType.Hello,
          stream: 0,
          msg: { versions: [...PROTOCOL_VERSIONS], agentVersion: this.o.agentVersion, hostname: this.o.hostname, capabilities: ['basic', 'windows'] },
        }),
      );
      this.timers.push(
        setTimeout(() => {
          if (!this.welcome) this.closeWith(CloseCode.HandshakeTimeout, 'no WELCOME in time');
        }, Limits.handshakeTimeoutMs),
      );
    });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('error', (err) => {
      this.lastError = err.message;
    });
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    try {
      if (!isBinary) throw new ProtocolError(CloseCode.MalformedFrame, 'text messages are not part of the protocol');
      this.dispatch(decodeFrame(data, AGENT_RECEIVES, this.welcome?.version));
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.o.log.warn({ closeCode: err.closeCode, why: err.message }, 'protocol violation by hub');
        this.closeWith(err.closeCode, err.message);
      } else {
        this.o.log.error({ err }, 'fault handling hub frame');
        this.closeWith(CloseCode.MalformedFrame, 'internal fault');
      }
    }
  }

  private dispatch(f: Frame): void {
    if (!this.welcome) {
      if (f.type !== FrameType.Welcome) throw new ProtocolError(CloseCode.UnexpectedFrame, `expected WELCOME, got frame type ${f.type}`);
      if (!(PROTOCOL_VERSIONS as readonly number[]).includes(f.msg.version))
        throw new ProtocolError(CloseCode.UnsupportedVersion, `hub chose version ${f.msg.version}`);
      this.welcome = f.msg;
      this.attempt = 0;
      this.lastError = null;
      this.startHeartbeat(f.msg);
      this.o.log.info({ hub: this.o.hubUrl, version: f.msg.version, member: f.msg.memberId }, 'connected to hub');
      this.setState('connected');
      return;
    }
    const gate = this.gate!;
    switch (f.type) {
      case FrameType.Welcome:
        throw new ProtocolError(CloseCode.UnexpectedFrame, 'second WELCOME');
      case FrameType.Ping:
        gate.send(encodeFrame({ type: FrameType.Pong, stream: 0, data: f.data }));
        return;
      case FrameType.Pong: {
        const sent = Buffer.from(f.data).readDoubleBE(0);
        if (sent > 0 && sent <= performance.now()) this.rttMs = Math.round((performance.now() - sent) * 10) / 10;
        return;
      }
      case FrameType.RequestHead: {
        if (!this.ids.accept(f.stream, (id) => this.served.has(id)))
          throw new ProtocolError(CloseCode.UnexpectedFrame, `request head on used or even stream ${f.stream}`);
        // A well-formed head over a per-call limit fails that call, not the connection and every call on it. The
        // stream counts as opened, so whatever the hub sent after the head (body, END) is dropped as late.
        const problem = requestHeadProblem(f.msg);
        if (problem) {
          this.o.log.warn({ stream: f.stream, requestId: f.msg.requestId.slice(0, 128), why: problem.message }, 'request refused: over a per-call limit');
          gate.send(encodeFrame({ type: FrameType.Failure, stream: f.stream, msg: { code: 'InvalidRequest', message: problem.message } }));
          this.o.metrics?.calls.inc({ status: 'failed' });
          return;
        }
        const w = this.welcome;
        const s = new ServedRequest(f.stream, f.msg, {
          gate,
          windowBytes: w.streamWindowBytes,
          maxDataBytes: w.maxDataBytes,
          execute: this.o.execute,
          log: this.o.log,
          prepare: this.o.prepare,
          done: (stream) => {
            this.served.delete(stream);
            if (this.served.size === 0) this.drained?.();
          },
          metrics: this.o.metrics,
          version: w.version,
        });
        this.served.set(f.stream, s);
        void s.run();
        return;
      }
      case FrameType.Data: {
        const s = this.stream(f.stream);
        if (s && !s.requestBody.onData(f.data as Buffer)) throw new ProtocolError(CloseCode.FlowControlViolation, `stream ${f.stream}: data beyond credit`);
        return;
      }
      case FrameType.End:
        this.stream(f.stream)?.requestBody.onEnd();
        return;
      case FrameType.Cancel:
        this.stream(f.stream)?.cancel(f.msg.reason);
        return;
      case FrameType.Credit:
        this.stream(f.stream)?.responseBody.addCredit(f.bytes);
        return;
      case FrameType.Hubs:
        this.hubId = f.msg.hubId;
        this.o.onHubs?.(this, f.msg);
        return;
      default:
        throw new ProtocolError(CloseCode.UnexpectedFrame, `frame type ${f.type} not expected`);
    }
  }

  private stream(id: number): ServedRequest | undefined {
    const s = this.served.get(id);
    if (s) return s;
    if (this.ids.opened(id)) return undefined; // a call that already finished: late frames are dropped
    throw new ProtocolError(CloseCode.UnexpectedFrame, `stream ${id} was never opened`);
  }

  private startHeartbeat(w: WelcomeMessage): void {
    const ping = () => {
      // The ping carries its send time, so the pong gives the round trip (shown by `status`).
      const payload = Buffer.alloc(8);
      payload.writeDoubleBE(performance.now());
      this.gate?.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: payload }));
    };
    ping();
    this.timers.push(
      setInterval(() => {
        if (Date.now() - this.lastSeen > w.heartbeatTimeoutMs) {
          this.o.log.warn({ hub: this.o.hubUrl }, 'hub silent past the heartbeat timeout; reconnecting');
          this.ws?.terminate();
          return;
        }
        ping();
      }, w.heartbeatIntervalMs),
    );
  }

  private closeWith(code: number, reason: string): void {
    this.ws?.close(code, closeReason(reason));
    const ws = this.ws;
    setTimeout(() => ws?.terminate(), 2000).unref();
  }

  private onClose(code: number, reason: string): void {
    for (const t of this.timers.splice(0)) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.gate?.close();
    for (const s of this.served.list()) s.cancel('hub connection lost');
    this.served.clear();
    this.drained?.();
    const wasConnected = this.welcome !== undefined;
    this.welcome = undefined;
    this.hubId = null;
    this.ids = new StreamIds();
    if (FATAL_CLOSE_CODES.has(code)) this.fatal = `the hub closed the connection with ${code} (${reason || 'no reason'})`;
    if (wasConnected) this.o.log.warn({ hub: this.o.hubUrl, code, reason }, 'disconnected from hub');
    if (this.stopped) return;
    if (this.fatal) {
      this.o.log.error({ hub: this.o.hubUrl, why: this.fatal }, 'giving up on this hub');
      this.stopped = true;
      this.setState('stopped', this.fatal);
      return;
    }
    if (this.draining) {
      this.setState('stopped');
      return;
    }
    const retryAfterMs = this.retryAfterMs;
    this.retryAfterMs = undefined;
    const delay = Math.max(reconnectDelay(this.attempt++, retryAfterMs, this.o.random), code === CloseCode.Replaced ? REPLACED_PAUSE_MS : 0);
    this.setState('disconnected', this.lastError ?? `closed with ${code}`);
    this.o.log.info({ hub: this.o.hubUrl, delayMs: delay, attempt: this.attempt, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }, 'reconnecting');
    this.retry = setTimeout(() => this.connect(), delay);
  }
}
