// Every hub<->agent message, the protocol versions, limits and WebSocket close codes.
// The wire format is documented in docs/protocol.md; test/suites/protocol.test.ts pins the numbers below,
// so nobody renumbers a frame type or a close code by accident.

/** Protocol versions this build speaks, newest first. The agent offers them in HELLO; the hub picks one.
 *  Version 2 adds RESPONSE (a whole small answer in one frame) and drops the END after a REQUEST_HEAD whose
 *  bodyLength is 0; version 3 sends the request and response heads in binary instead of JSON; version 4 adds HUBS
 *  (the hub's id and the cluster's live hubs, so the agent keeps a tunnel to each) (docs/protocol.md). */
export const PROTOCOL_VERSIONS = [4, 3, 2, 1] as const;
/** The first version with RESPONSE frames and no END after a body-less REQUEST_HEAD. */
export const WHOLE_MESSAGES_VERSION = 2;
/** The first version whose REQUEST_HEAD, RESPONSE_HEAD and RESPONSE carry their heads in binary (codec.ts). */
export const BINARY_HEADS_VERSION = 3;
/** The first version whose hub sends HUBS (never to an older agent: it would close on an unknown frame type). */
export const HUBS_VERSION = 4;

/** Frame type ids (first byte of every binary WebSocket message). Stable forever: add, never renumber. */
export const FrameType = {
  Hello: 1, //         agent -> hub, stream 0, JSON
  Welcome: 2, //       hub -> agent, stream 0, JSON
  RequestHead: 3, //   hub -> agent, JSON
  ResponseHead: 4, //  agent -> hub, JSON
  Data: 5, //          both, raw body bytes
  End: 6, //           both, end of body, empty
  Cancel: 7, //        both, JSON {reason}
  Failure: 8, //       agent -> hub, JSON {code, message}
  Credit: 9, //        both, uint32 bytes the sender may add to its window
  Ping: 10, //         both, stream 0, 8 opaque bytes echoed in Pong
  Pong: 11, //         both, stream 0
  GoAway: 12, //       agent -> hub, stream 0, JSON {reason}: draining, route no new requests here
  Response: 13, //     agent -> hub (version 2), uint32 head length, head JSON, whole body: RESPONSE_HEAD + DATA + END in one
  Hubs: 14, //         hub -> agent (version 4), stream 0, JSON {hubId, hubs: [{id, url}]}: this hub and the cluster's live hubs
} as const;
export type FrameTypeId = (typeof FrameType)[keyof typeof FrameType];

/** Close codes sent with the WebSocket close frame. 1009 (message too big) comes from `ws` itself. */
/** RFC 6455 5.5: a close frame's reason is at most 123 bytes of UTF-8 (`ws` throws past it). */
const MAX_CLOSE_REASON_BYTES = 123;
const encoder = new TextEncoder();

/**
 * A close reason `ws.close` takes whatever the text: control characters dropped, cut to 123 UTF-8 bytes on a
 * character boundary. Reasons can quote a peer's words (an unknown failure code); cutting by characters let
 * 52 two-byte characters through, and the throw ended the process.
 */
export function closeReason(text: string): string {
  let out = Array.from(text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '))
    .slice(0, MAX_CLOSE_REASON_BYTES)
    .join('');
  while (encoder.encode(out).length > MAX_CLOSE_REASON_BYTES) out = Array.from(out).slice(0, -1).join('');
  return out;
}

export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  MessageTooBig: 1009,
  MalformedFrame: 4000,
  UnknownFrameType: 4001,
  UnexpectedFrame: 4002,
  FlowControlViolation: 4003,
  UnsupportedVersion: 4004,
  HandshakeTimeout: 4005,
  HeartbeatTimeout: 4006,
  Replaced: 4007,
  CredentialRevoked: 4008,
  HubShuttingDown: 4009,
  KeyRotated: 4010,
  /** The agent stopped reading: the hub's ping went unanswered past GATEHOUSE_AGENT_READ_TIMEOUT, or the frames
   *  queued toward it passed GATEHOUSE_AGENT_QUEUE_MAX. */
  NotReading: 4011,
  /** Too many authenticated connections are waiting to send HELLO (per member, or on the whole hub). */
  TooManyPending: 4012,
  /** The agent sent more WebSocket frames in one period than GATEHOUSE_AGENT_FRAME_RATE allows (a flood of tiny
   *  frames costs every tenant's calls the hub's time, however little each frame carries). */
  FrameFlood: 4013,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting cannot help (the agent stops and says why). */
export const FATAL_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.UnsupportedVersion, CloseCode.CredentialRevoked]);

export const Limits = {
  /** Frame header: 1 byte type + 4 bytes stream id. */
  frameHeaderBytes: 5,
  /** Largest body chunk in one Data frame. */
  maxDataBytes: 64 * 1024,
  /** Largest JSON payload (hello, heads, failures), and largest head in any version: request and response heads
   *  carry the headers, so this caps them. */
  maxJsonBytes: 64 * 1024,
  /** Largest response head (status line and headers) the agent, or the hub for EntraAuth, takes from a service;
   *  over it the call fails with BadGateway naming the limit. Half the JSON cap: a head's JSON can be twice its size. */
  maxResponseHeadBytes: 32 * 1024,
  /** Most header lines one relayed request or response head carries. A caller's request with more is refused
   *  (400) and a service's answer with more is a 502, never a head the other end would refuse (it closes the
   *  agent's connection, and every call on it, on a head it cannot take). */
  maxHeaderLines: 1000,
  /** `ws` maxPayload on both ends: anything larger is closed with 1009 before it is buffered. */
  maxFrameBytes: 64 * 1024 + 5,
  /** Per-stream, per-direction credit window a stream starts with (WELCOME tells the agent). */
  streamWindowBytes: 256 * 1024,
  /** A receiver grows a stream's window, doubling each time 4 windows' worth has been taken, up to this: the
   *  most body bytes one request can have in flight or buffered per direction. Short calls never grow it. */
  maxStreamWindowBytes: 1024 * 1024,
  /** Per-socket write high-water mark: senders wait while more than this is queued in the socket. */
  socketHighWaterBytes: 1024 * 1024,
  /** Time the agent has to receive WELCOME after the upgrade (the hub gives HELLO less: AgentBounds.helloTimeoutMs). */
  handshakeTimeoutMs: 10_000,
  /** Agent ping interval, announced in WELCOME. */
  heartbeatIntervalMs: 10_000,
  /** Silence after which either side declares the other dead (hub: member offline). */
  heartbeatTimeoutMs: 25_000,
} as const;

/**
 * The hub's bounds on what one agent connection can make it hold, as their defaults (each is a hub setting,
 * docs/operations.md). docs/protocol.md ("Memory one gateway can hold") states gatewayMemoryBound of these, and
 * test/suites/agent-bounds.test.ts checks that it does.
 */
export const AgentBounds = {
  /** GATEHOUSE_AGENT_QUEUE_MAX: bytes of frames of every type queued toward one agent (the socket's and ws's
   *  buffers included); over it the connection is closed with 4011. */
  queueBytes: 8 * 1024 * 1024,
  /** GATEHOUSE_AGENT_MAX_STREAMS: calls in progress on one agent connection; one more is refused with 503. */
  maxStreams: 256,
  /** GATEHOUSE_AGENT_READ_TIMEOUT: the hub pings; an agent that has not answered for this long is closed with 4011. */
  readTimeoutMs: 30_000,
  /** GATEHOUSE_AGENT_HELLO_TIMEOUT: time an authenticated connection has to send HELLO (else 4005). */
  helloTimeoutMs: 5_000,
  /** GATEHOUSE_AGENT_PENDING_MAX: connections waiting for HELLO, per member and on the whole hub (else 4012). */
  pendingPerMember: 4,
  pendingTotal: 256,
  /** GATEHOUSE_AGENT_FRAME_RATE: WebSocket frames of every kind (continuations, pings and pongs included) one
   *  agent connection may send per period; past it the connection is closed with 4013. A busy real agent sends a
   *  few thousand a second (docs/performance.md, "Frames a busy agent sends"). */
  frameRate: { limit: 50_000, periodMs: 1000 },
  /** GATEHOUSE_AGENT_TENANT_FRAME_RATE: frames all agent connections of one tenant (the tenant id of its gateways'
   *  owner) may send per period, however many it opens; past it the hub stops reading the connection that overspent
   *  until the budget refills (backpressure). The busiest hub relays about 16,000 frames a second in all, a busy real
   *  agent sends about 2,500: 10,000 is four such agents, and at 50,000 a flooding tenant still slowed another
   *  tenant's calls to seconds (docs/performance.md, "Agent frame budgets"). */
  tenantFrameRate: { limit: 10_000, periodMs: 1000 },
  /** GATEHOUSE_AGENT_HUB_FRAME_RATE: frames all agent connections on the hub may send per period; while it is short,
   *  each tenant that wants more than its part gets an equal share (max-min fair), by backpressure. */
  hubFrameRate: { limit: 20_000, periodMs: 1000 },
  /** Members per gateway (a cluster), as Microsoft's gateway allows. */
  membersPerGateway: 10,
} as const;

/**
 * The most bytes one gateway's agents can make one hub hold for them: per member connection, every stream's
 * receive window (response bytes the hub holds until its caller takes them) plus the send queue (request
 * heads and bodies, credits, pongs, cancels not yet written); times the members of a gateway (each holds one
 * connection per hub: a newer one replaces the older).
 */
export function gatewayMemoryBound(queueBytes: number = AgentBounds.queueBytes, maxStreams: number = AgentBounds.maxStreams): number {
  return AgentBounds.membersPerGateway * (maxStreams * Limits.maxStreamWindowBytes + queueBytes);
}

export type HeaderList = Array<[name: string, value: string]>;

export interface HelloMessage {
  versions: number[];
  agentVersion: string;
  hostname: string;
  capabilities: string[];
}

export interface WelcomeMessage {
  version: number;
  memberId: string;
  gatewayId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  streamWindowBytes: number;
  maxDataBytes: number;
}

/** Credentials travel sealed to the gateway's public key; only the agent can open them (see sealing.ts). */
export interface SealedCredentials {
  scheme: 'basic' | 'windows';
  sealed: string;
}

export interface RequestHeadMessage {
  requestId: string;
  method: string;
  /** Absolute URL, already checked by the hub against the connection's base URL. */
  url: string;
  headers: HeaderList;
  /** Exact body length when known (sets Content-Length), null when streamed, 0 for no body. */
  bodyLength: number | null;
  timeoutMs: number;
  credentials: SealedCredentials | null;
}

export interface ResponseHeadMessage {
  status: number;
  headers: HeaderList;
  /** Milliseconds the service took from the agent sending the request to its response head (metrics). */
  backendMs?: number;
}

export interface CancelMessage {
  reason: string;
}

/** Codes an agent may report in a Failure frame; the hub maps them onto its HTTP errors. */
export const AgentFailureCodes = ['BackendUnreachable', 'GatewayTimeout', 'UrlNotAllowed', 'BadGateway', 'InvalidRequest'] as const;
export type AgentFailureCode = (typeof AgentFailureCodes)[number];

export interface FailureMessage {
  code: AgentFailureCode;
  message: string;
  /** True when the agent knows the service never received the request (refused before sending, or the
   *  connection to the service could not be made); the hub may then try another member. */
  notSent?: boolean;
}

export interface GoAwayMessage {
  reason: string;
}

/** A hub of the cluster an agent can dial directly: its id and the base URL agents use (GATEHOUSE_AGENT_ADVERTISE_URL). */
export interface HubAddress {
  id: string;
  url: string;
}

/** HUBS (version 4): the sending hub's own id and every live hub that advertises itself to agents. */
export interface HubsMessage {
  hubId: string;
  hubs: HubAddress[];
}

/** Most hubs one HUBS frame lists; a longer list is malformed. */
export const MAX_LISTED_HUBS = 64;

/** Every frame, as a discriminated union on `type`. Stream 0 is the connection itself. */
export type Frame =
  | { type: typeof FrameType.Hello; stream: 0; msg: HelloMessage }
  | { type: typeof FrameType.Welcome; stream: 0; msg: WelcomeMessage }
  | { type: typeof FrameType.RequestHead; stream: number; msg: RequestHeadMessage }
  | { type: typeof FrameType.ResponseHead; stream: number; msg: ResponseHeadMessage }
  | { type: typeof FrameType.Response; stream: number; msg: ResponseHeadMessage; data: Uint8Array }
  | { type: typeof FrameType.Data; stream: number; data: Uint8Array }
  | { type: typeof FrameType.End; stream: number }
  | { type: typeof FrameType.Cancel; stream: number; msg: CancelMessage }
  | { type: typeof FrameType.Failure; stream: number; msg: FailureMessage }
  | { type: typeof FrameType.Credit; stream: number; bytes: number }
  | { type: typeof FrameType.Ping; stream: 0; data: Uint8Array }
  | { type: typeof FrameType.Pong; stream: 0; data: Uint8Array }
  | { type: typeof FrameType.GoAway; stream: 0; msg: GoAwayMessage }
  | { type: typeof FrameType.Hubs; stream: 0; msg: HubsMessage };

/** Frames each side may receive. A frame of the other direction is UnexpectedFrame. */
export const HUB_RECEIVES: ReadonlySet<number> = new Set([
  FrameType.Hello,
  FrameType.ResponseHead,
  FrameType.Data,
  FrameType.End,
  FrameType.Cancel,
  FrameType.Failure,
  FrameType.Credit,
  FrameType.Ping,
  FrameType.Pong,
  FrameType.GoAway,
  FrameType.Response,
]);
export const AGENT_RECEIVES: ReadonlySet<number> = new Set([
  FrameType.Welcome,
  FrameType.RequestHead,
  FrameType.Data,
  FrameType.End,
  FrameType.Cancel,
  FrameType.Credit,
  FrameType.Ping,
  FrameType.Pong,
  FrameType.Hubs,
]);

/** WebSocket path on the hub; the agent authenticates in the upgrade with this header scheme. */
export const AGENT_CONNECT_PATH = '/v1/agent/connect';
export const AGENT_REGISTER_PATH = '/v1/agent/register';
export const AGENT_JOIN_INFO_PATH = '/v1/agent/join-info';
export const AGENT_KEY_PATH = '/v1/agent/key';
export const AGENT_ROTATE_BEGIN_PATH = '/v1/agent/rotate/begin';
export const AGENT_ROTATE_COMMIT_PATH = '/v1/agent/rotate/commit';
export const AGENT_AUTH_SCHEME = 'GatehouseAgent';
