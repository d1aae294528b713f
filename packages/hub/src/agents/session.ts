// The hub's end of one agent WebSocket: handshake, heartbeat, frame validation and dispatch to calls.
// Any protocol violation closes this socket with its 4xxx code; other sessions never notice.
// The agent is untrusted: what it can make the hub hold is bounded (SessionBounds, docs/protocol.md "Memory one
// gateway can hold"), and one that stops reading is closed (4011) and its calls failed at once.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import {
  AgentBounds,
  agentWords,
  CloseCode,
  closeReason,
  FrameType,
  GatehouseError,
  HUBS_VERSION,
  IdMap,
  Limits,
  PROTOCOL_VERSIONS,
  ProtocolError,
  StreamIds,
  WHOLE_MESSAGES_VERSION,
  WriteGate,
  decodeFrame,
  directDataWriter,
  encodeFrame,
  frameExtraUnits,
  HUB_RECEIVES,
  type Frame,
  type HelloMessage,
  type HubsMessage,
  type ErrorCode,
  type RequestHeadMessage,
} from '@gatehouse/shared';
import type { Logger } from '../log.js';
import type { TenantFrames } from './frame-budget.js';
import { FrameRate, type FrameRateLimit } from './frame-meter.js';
import { RelayCall } from './relay-call.js';
import { tickEvery } from './session-ticker.js';

export interface SessionMember {
  memberId: string;
  gatewayId: string;
  name: string;
  createdAt: string;
}

export interface SessionEvents {
  onOpen(s: AgentSession): void;
  onClose(s: AgentSession): void;
  /** Once, when the connection stops waiting for HELLO (it got one, or it closed). */
  onHandshakeOver?(s: AgentSession): void;
  /** An error of the agent's part, as the member's last error (agents/member-errors.ts): a call it answered with
   *  FAILURE or cancelled, an answer the hub refused (RelayCall.refused), or the connection closed for an error
   *  (ERROR_CLOSES). Never the caller's going away, throttling, or a normal stop of either side. */
  onError?(s: AgentSession, code: ErrorCode, message: string): void;
  /** Whether this connection's "agent connected" and "agent disconnected" lines may be written (a budget per tenant:
   *  one tenant's members reconnecting each second wrote about 750 lines a second, red team session 18). */
  mayLog?(): boolean;
}

/** Close codes that end a connection for an error on the agent's side of it (the agent's or its link's), named
 *  in the member's last error; any other close (1000, 1001, 1005, replaced, credential revoked, the hub's stop,
 *  a key rotation, too many pending) is no error of the member's. */
export const ERROR_CLOSES: Readonly<Record<number, string>> = {
  1002: 'WebSocket protocol error',
  1003: 'unacceptable data',
  1006: 'connection lost without a close frame',
  1007: 'invalid frame payload',
  1009: 'message too big',
  1011: 'unexpected condition',
  [CloseCode.MalformedFrame]: 'protocol violation: malformed frame',
  [CloseCode.UnknownFrameType]: 'protocol violation: unknown frame type',
  [CloseCode.UnexpectedFrame]: 'protocol violation: unexpected frame',
  [CloseCode.FlowControlViolation]: 'protocol violation: flow control',
  [CloseCode.UnsupportedVersion]: 'no common protocol version',
  [CloseCode.HandshakeTimeout]: 'handshake timeout',
  [CloseCode.HeartbeatTimeout]: 'heartbeat timeout',
  [CloseCode.NotReading]: 'agent not reading',
  [CloseCode.FrameFlood]: 'frame flood',
};

/** What one agent connection may make the hub hold and wait for (hub settings GATEHOUSE_AGENT_*). */
export interface SessionBounds {
  /** Bytes of frames of every type queued toward the agent, ws's and the socket's buffers included. */
  maxQueuedBytes: number;
  /** Calls in progress on the connection. */
  maxStreams: number;
  /** The hub pings; an agent that leaves a ping unanswered this long is not reading. */
  readTimeoutMs: number;
  /** Time from the upgrade to HELLO. */
  helloTimeoutMs: number;
  /** WebSocket frames the agent may send per period (every kind); past it close 4013. */
  frameRate: FrameRateLimit;
}

export const DEFAULT_SESSION_BOUNDS: SessionBounds = {
  maxQueuedBytes: AgentBounds.queueBytes,
  maxStreams: AgentBounds.maxStreams,
  readTimeoutMs: AgentBounds.readTimeoutMs,
  helloTimeoutMs: AgentBounds.helloTimeoutMs,
  frameRate: AgentBounds.frameRate,
};

/** What part of the queue toward an agent new calls' heads may fill: the cap, less what body bytes can take
 *  (they wait at the socket's high-water mark, and one chunk per stream may pass it) and room for the small frames
 *  that never wait (CREDIT, CANCEL, PONG, PING). Below the cap by construction, so a link that is slow but
 *  read is never closed for a burst of calls. */
export function headRoom(maxQueuedBytes: number): number {
  return maxQueuedBytes - Limits.socketHighWaterBytes - Limits.maxDataBytes - CONTROL_FRAME_ROOM;
}
const CONTROL_FRAME_ROOM = 256 * 1024;

export class AgentSession {
  readonly connectedAt = new Date();
  lastSeenAt = new Date();
  hello: HelloMessage | undefined;
  version = 0;
  draining = false;
  /** A disabled member stays connected but takes no calls (PATCH …/members/{id} {"enabled": false}). */
  enabled = true;
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  private readonly gate: WriteGate;
  private readonly calls = new IdMap<RelayCall>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** The hub's own ping awaiting its pong: its random payload (an agent cannot answer without reading it). */
  private ping: { payload: Buffer; sentAt: number } | undefined;
  private lastPingAt = 0;
  /** The last answered ping's round trip in ms (behind whatever was queued toward the agent); undefined before. */
  roundTripMs: number | undefined;
  /** Closed by the hub's stop: no log line, and no lastSeenAt write of its own (the stop writes them in one). */
  quiet = false;
  private readonly untick: () => void;
  /** Set while the hub does not read the socket because its tenant's (or the hub's) frame budget is spent. */
  private resumeTimer: NodeJS.Timeout | undefined;
  private throttleLogged = false;
  private goAwayLogged = false;
  private readonly socket: Socket;
  /** Set when the hub closes the connection for a fault of its own (not the member's last error). */
  private hubFault = false;
  /** The first error ws or the socket reported (its own text, never the agent's bytes). */
  private socketError: { text: string; refused: boolean } | undefined;
  /** Frames read from the agent (logged when it disconnects). */
  private framesRead: () => number = () => 0;

  /** `ids`: where this connection's stream ids come from (a test starts them near the end of a lap). `bounds`:
   *  GATEHOUSE_AGENT_* settings. `frames`: the frame budget of its tenant, shared with its other connections. */
  constructor(
    private readonly ws: WebSocket,
    readonly member: SessionMember,
    private readonly log: Logger,
    private readonly events: SessionEvents,
    private readonly ids = new StreamIds(),
    private readonly bounds: SessionBounds = DEFAULT_SESSION_BOUNDS,
    private readonly frames?: TenantFrames,
  ) {
    // ws keeps its net.Socket in _socket; corking it batches the frames of one event-loop turn into one write.
    const socket = (ws as unknown as { _socket: Socket })._socket;
    this.socket = socket;
    this.gate = new WriteGate(
      (frame, done) => ws.send(frame, { binary: true }, done),
      Limits.socketHighWaterBytes,
      socket,
      directDataWriter(ws, () => socket, false),
      {
        maxQueued: bounds.maxQueuedBytes,
        onOverflow: (queued) =>
          this.close(CloseCode.NotReading, `agent not reading: ${queued} bytes queued toward it, over the ${bounds.maxQueuedBytes}-byte limit`),
      },
    );
    this.watchFrameRate(socket);
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => this.onClosed(code, reason.toString()));
    ws.on('error', (err: Error & { code?: string }) => {
      if (this.mayLog()) this.log.warn({ member: member.memberId, err: err.message }, 'agent socket error');
      // ws's (or the socket's) own words, such as "Max payload size exceeded": named in the member's last error.
      // A WS_ERR_ code is ws refusing what the agent sent: it closes the connection itself.
      if (this.socketError === undefined) this.socketError = { text: agentWords(err.message), refused: err.code?.startsWith('WS_ERR_') === true };
    });
    this.timers.push(
      setTimeout(() => {
        if (this.state === 'handshake') this.close(CloseCode.HandshakeTimeout, 'no HELLO in time');
      }, bounds.helloTimeoutMs),
    );
    // The heartbeat checks ride one timer shared by every session (agents/session-ticker.ts).
    this.untick = tickEvery(Math.min(1000, Math.max(100, bounds.readTimeoutMs / 4)), { tick: () => this.tick() });
  }

  /** Counts the agent's frames in the socket's bytes (ws has put back any it read with the upgrade, so they come
   *  from a frame boundary). Past the connection's bound it is closed and its socket no longer read: a flood that
   *  ignores the close costs nothing more until the socket is cut (5 s, `close`). Within it, the frames are charged
   *  to the tenant's budget (and the hub's): when that is spent, the socket is not read until it has refilled. */
  private watchFrameRate(socket: Socket): void {
    const { limit, periodMs } = this.bounds.frameRate;
    const meter = new FrameRate(this.bounds.frameRate, (frames) => {
      socket.off('data', count);
      const why = `agent frame flood: ${frames} frames within ${periodMs} ms, over the ${limit} GATEHOUSE_AGENT_FRAME_RATE allows`;
      if (this.mayLog()) this.log.warn({ member: this.member.memberId, closeCode: CloseCode.FrameFlood, why }, 'agent frame flood');
      this.close(CloseCode.FrameFlood, why);
      socket.pause();
    });
    this.framesRead = () => meter.frames;
    const count = (chunk: Buffer) => {
      const n = meter.feed(chunk);
      if (n === 0 || !this.frames || this.state === 'closed') return;
      const waitMs = this.frames.charge(n);
      if (waitMs > 0) this.holdReading(socket, waitMs);
    };
    socket.on('data', count);
  }

  /** A frame's JSON or head past its first KiB is charged to the tenant's budget by its bytes (frameExtraUnits),
   *  before it is parsed: bytes of JSON buy no more of the hub's time than the budget gives in small frames. */
  private chargeHead(data: Buffer): void {
    const units = frameExtraUnits(data);
    if (units === 0 || !this.frames) return;
    const waitMs = this.frames.charge(units);
    if (waitMs > 0) this.holdReading(this.socket, waitMs);
  }

  /** Whether a line about this connection may be written: its tenant's budget (SessionEvents.mayLog), shared by every
   *  line a connection writes once (connected, closing, disconnected, protocol violation, frame flood, socket error,
   *  draining, throttled): one tenant's members reconnecting in a loop, each with a protocol violation, wrote about
   *  1,500 lines a second (red team, session 18). */
  private mayLog(): boolean {
    return this.events.mayLog?.() !== false;
  }

  /** Backpressure: the socket is not read for `ms` (its kernel buffers fill, then the agent's writes wait). */
  private holdReading(socket: Socket, ms: number): void {
    socket.pause();
    if (this.resumeTimer) return;
    if (!this.throttleLogged) {
      this.throttleLogged = true;
      if (this.mayLog())
        this.log.warn(
          { member: this.member.memberId, gateway: this.member.gatewayId, waitMs: ms },
          'agent frames throttled: its tenant (or the hub) is over its frame budget (GATEHOUSE_AGENT_TENANT_FRAME_RATE, GATEHOUSE_AGENT_HUB_FRAME_RATE); the hub stops reading it until the budget refills',
        );
    }
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      if (this.state !== 'closed') socket.resume();
    }, ms);
  }

  /** Heartbeat both ways: inbound silence (4006), and the hub's own ping answered in time (4011). */
  private tick(): void {
    const now = Date.now();
    if (now - this.lastSeenAt.getTime() > Limits.heartbeatTimeoutMs) {
      this.close(CloseCode.HeartbeatTimeout, 'agent silent');
      return;
    }
    if (this.state !== 'open') return;
    if (this.ping && now - this.ping.sentAt > this.bounds.readTimeoutMs) {
      this.close(CloseCode.NotReading, `agent not reading: no answer to the hub's ping in ${Math.round(this.bounds.readTimeoutMs / 1000)} s`);
      return;
    }
    // The gate counts what goes through it; ws's own count (its buffer and the socket's) is checked too, so a
    // write that bypassed the gate cannot grow the queue unseen.
    if (this.ws.bufferedAmount > this.bounds.maxQueuedBytes) {
      this.close(
        CloseCode.NotReading,
        `agent not reading: ${this.ws.bufferedAmount} bytes buffered toward it, over the ${this.bounds.maxQueuedBytes}-byte limit`,
      );
      return;
    }
    // The ping is queued behind everything the agent has not read yet, so its pong proves the agent read all of
    // that; its payload is random, so a pong cannot be sent without reading it.
    if (!this.ping && now - this.lastPingAt >= Math.min(Limits.heartbeatIntervalMs, this.bounds.readTimeoutMs / 3)) {
      const payload = randomBytes(8);
      this.ping = { payload, sentAt: now };
      this.lastPingAt = now;
      this.gate.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: payload }));
    }
  }

  /** Bytes queued toward the agent and not yet written. */
  get queuedBytes(): number {
    return this.gate.queued;
  }
  /** No room for another call (GATEHOUSE_AGENT_MAX_STREAMS). */
  get isFull(): boolean {
    return this.calls.size >= this.bounds.maxStreams;
  }
  /** The link toward the agent is backed up: no new call's head is queued (see headRoom). */
  get isBackedUp(): boolean {
    return this.gate.queued > headRoom(this.bounds.maxQueuedBytes);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }
  get isAvailable(): boolean {
    return this.state === 'open' && !this.draining && this.enabled;
  }
  get inFlight(): number {
    return this.calls.size;
  }

  /** Starts a call: sends the request head; the caller then sends the body and awaits the response head. */
  open(head: RequestHeadMessage): RelayCall {
    if (this.isFull) {
      throw new GatehouseError(
        'ServiceUnavailable',
        `hub -> agent: member ${this.member.memberId} already carries ${this.calls.size} calls, the most one agent connection takes (GATEHOUSE_AGENT_MAX_STREAMS); try again shortly`,
        { 'retry-after': '1' },
      );
    }
    const stream = this.ids.take((id) => this.calls.has(id));
    let frame: Buffer;
    try {
      frame = encodeFrame({ type: FrameType.RequestHead, stream, msg: head }, this.version);
    } catch {
      // Header values are counted in bytes as sent (up to GATEHOUSE_MAX_HEADER_BYTES), but JSON (versions 1 and 2) takes two for a quote.
      throw new GatehouseError(
        'InvalidRequest',
        `caller -> hub: the request's URL and headers are over the ${Limits.maxJsonBytes / 1024} KiB the relay carries as it encodes them`,
      );
    }
    // A head does not wait for the socket as body bytes do, so heads alone could fill the queue past its cap and
    // close a healthy connection whose link is only slow for a moment (256 calls x 64 KiB heads is 16 MiB): a new
    // call is refused while the queue is above the room left for heads, and the cap is reached only by an agent
    // that does not read.
    if (this.gate.queued + frame.length > headRoom(this.bounds.maxQueuedBytes)) {
      throw new GatehouseError(
        'ServiceUnavailable',
        `hub -> agent: the link to member ${this.member.memberId} is backed up (${this.gate.queued} bytes waiting to be sent to it); try again shortly`,
        { 'retry-after': '1' },
      );
    }
    const call = new RelayCall(
      stream,
      {
        gate: this.gate,
        windowBytes: Limits.streamWindowBytes,
        maxWindowBytes: Limits.maxStreamWindowBytes,
        maxDataBytes: Limits.maxDataBytes,
        member: this.member.memberId,
        method: head.method,
        forget: (s) => {
          this.calls.delete(s);
        },
        refusedAnswer: (err) => this.noteError(err.code, err.message),
      },
      this.version >= WHOLE_MESSAGES_VERSION && head.bodyLength === 0,
    );
    this.calls.set(stream, call);
    this.gate.send(frame);
    return call;
  }

  /** HUBS: the cluster's hubs this agent should keep a tunnel to (only agents that speak version 4 know the frame). */
  tellHubs(msg: HubsMessage): void {
    if (this.state === 'open' && this.version >= HUBS_VERSION) this.gate.send(encodeFrame({ type: FrameType.Hubs, stream: 0, msg }));
  }

  /** `quiet`: no log line of its own (the hub's stop closes every session and logs one summary line). */
  close(code: number, reason: string, quiet = false): void {
    if (this.state === 'closed') return;
    this.quiet = quiet;
    if (!quiet && this.mayLog()) this.log.info({ member: this.member.memberId, code, reason }, 'closing agent session');
    this.ws.close(code, closeReason(reason));
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => this.ws.terminate(), 5000).unref();
    this.onClosed(code, reason, true);
  }

  /** The member's last error (SessionEvents.onError). */
  private noteError(code: ErrorCode, message: string): void {
    this.events.onError?.(this, code, message);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.lastSeenAt = new Date();
    try {
      if (!isBinary) throw new ProtocolError(CloseCode.MalformedFrame, 'text messages are not part of the protocol');
      this.chargeHead(data);
      this.dispatch(decodeFrame(data, HUB_RECEIVES, this.version));
    } catch (err) {
      if (err instanceof ProtocolError) {
        if (this.mayLog()) this.log.warn({ member: this.member.memberId, closeCode: err.closeCode, why: err.message }, 'protocol violation by agent');
        this.close(err.closeCode, err.message);
      } else {
        if (this.mayLog()) this.log.error({ member: this.member.memberId, err }, 'fault handling agent frame');
        // The hub's own fault, not the member's: not its last error.
        this.hubFault = true;
        this.close(CloseCode.MalformedFrame, 'internal fault');
      }
    }
  }

  private dispatch(f: Frame): void {
    if (this.state === 'handshake') {
      if (f.type !== FrameType.Hello) throw new ProtocolError(CloseCode.UnexpectedFrame, `expected HELLO, got frame type ${f.type}`);
      const version = Math.max(0, ...f.msg.versions.filter((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v)));
      if (!version) throw new ProtocolError(CloseCode.UnsupportedVersion, `no common protocol version (hub speaks ${PROTOCOL_VERSIONS.join(',')})`);
      this.hello = f.msg;
      this.version = version;
      this.state = 'open';
      this.events.onHandshakeOver?.(this);
      this.gate.send(
        encodeFrame({
          type: FrameType.Welcome,
          stream: 0,
          msg: {
            version,
            memberId: this.member.memberId,
            gatewayId: this.member.gatewayId,
            heartbeatIntervalMs: Limits.heartbeatIntervalMs,
            heartbeatTimeoutMs: Limits.heartbeatTimeoutMs,
            streamWindowBytes: Limits.streamWindowBytes,
            maxDataBytes: Limits.maxDataBytes,
          },
        }),
      );
      if (this.mayLog())
        this.log.info(
          { member: this.member.memberId, gateway: this.member.gatewayId, version, agentVersion: f.msg.agentVersion, hostname: f.msg.hostname },
          'agent connected',
        );
      this.events.onOpen(this);
      return;
    }
    switch (f.type) {
      case FrameType.Hello:
        throw new ProtocolError(CloseCode.UnexpectedFrame, 'second HELLO');
      case FrameType.Ping:
        this.gate.send(encodeFrame({ type: FrameType.Pong, stream: 0, data: f.data }));
        return;
      case FrameType.Pong:
        // Only the answer to the hub's own ping counts; anything else (a pong nobody asked for) is dropped.
        if (this.ping?.payload.equals(f.data)) {
          this.roundTripMs = Date.now() - this.ping.sentAt;
          this.ping = undefined;
        }
        return;
      case FrameType.GoAway:
        // Logged once per connection: a GOAWAY a real agent sends once, and one logged per frame let an agent write
        // 25,069 lines in 6 s and slow other tenants' calls (red-team finding B6). The reason as the hub quotes it.
        if (!this.goAwayLogged && this.mayLog()) this.log.info({ member: this.member.memberId, reason: agentWords(f.msg.reason) }, 'agent draining');
        this.goAwayLogged = true;
        this.draining = true;
        return;
      case FrameType.Response: {
        if (this.version < WHOLE_MESSAGES_VERSION) throw new ProtocolError(CloseCode.UnexpectedFrame, 'RESPONSE frame on a version-1 connection');
        const c = this.call(f.stream);
        if (c && !c.onResponse(f.msg, f.data as Buffer)) throw new ProtocolError(CloseCode.UnexpectedFrame, 'second response head');
        return;
      }
      case FrameType.ResponseHead: {
        const c = this.call(f.stream);
        if (c && !c.onHead(f.msg)) throw new ProtocolError(CloseCode.UnexpectedFrame, 'second response head');
        return;
      }
      case FrameType.Data: {
        const c = this.call(f.stream);
        if (c && !c.onData(f.data as Buffer))
          throw new ProtocolError(CloseCode.FlowControlViolation, `stream ${f.stream}: data beyond credit or before the head`);
        return;
      }
      case FrameType.End: {
        const c = this.call(f.stream);
        if (c && !c.onEnd()) throw new ProtocolError(CloseCode.UnexpectedFrame, `stream ${f.stream}: end before the head`);
        return;
      }
      case FrameType.Failure: {
        // Only a call in progress: a late FAILURE of one the hub ended (its caller gone) is no error of the member's.
        const err = this.call(f.stream)?.onFailure(f.msg);
        if (err) this.noteError(err.code, err.message);
        return;
      }
      case FrameType.Cancel: {
        const err = this.call(f.stream)?.onPeerCancel(f.msg.reason);
        if (err) this.noteError(err.code, err.message);
        return;
      }
      case FrameType.Credit:
        this.call(f.stream)?.requestBody.addCredit(f.bytes);
        return;
      default:
        throw new ProtocolError(CloseCode.UnexpectedFrame, `frame type ${f.type} not expected`);
    }
  }

  /** The call on a stream. Late frames for a finished call are dropped; a stream never opened is a violation. */
  private call(stream: number): RelayCall | undefined {
    const c = this.calls.get(stream);
    if (c) return c;
    if (this.ids.opened(stream)) return undefined;
    throw new ProtocolError(CloseCode.UnexpectedFrame, `stream ${stream} was never opened`);
  }

  /** `byHub`: the hub closed it (its reason is the hub's words); otherwise the agent or the link did. */
  private onClosed(code: number, reason: string, byHub = false): void {
    if (this.state === 'closed') return;
    const name = ERROR_CLOSES[code];
    // After its GOAWAY the agent is stopping: however its connection ends (a stopping agent's process may exit
    // before its close frame leaves: 1006), that is its normal stop.
    const stopping = this.draining && !byHub;
    const e = this.socketError;
    if (e?.refused && !byHub) this.noteError('BadGateway', `hub -> agent: the hub closed the agent's connection (WebSocket protocol violation): ${e.text}`);
    else if (name !== undefined && !this.hubFault && !stopping)
      this.noteError(
        'BadGateway',
        byHub
          ? `hub -> agent: the hub closed the agent's connection (close code ${code}, ${name}): ${reason}`
          : `agent -> hub: the agent's connection closed (close code ${code}, ${name})${e ? `: ${e.text}` : ''}${reason ? `; the reason given: ${agentWords(reason)}` : ''}`,
      );
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (!wasOpen) this.events.onHandshakeOver?.(this);
    for (const t of this.timers.splice(0)) {
      clearTimeout(t);
      clearInterval(t);
    }
    this.untick();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.frames?.leave();
    this.gate.close();
    for (const c of this.calls.list()) c.onSessionLost(`close code ${code}${code === CloseCode.NotReading ? ', the agent stopped reading' : ''}`);
    this.calls.clear();
    if (wasOpen && !this.quiet && this.mayLog()) this.log.info({ member: this.member.memberId, code, reason, frames: this.framesRead() }, 'agent disconnected');
    this.events.onClose(this);
  }
}
