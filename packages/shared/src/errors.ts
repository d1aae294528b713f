// The one registry of hub error codes (SPEC section 8). docs/errors.md lists the same codes; a test pins both.
import { Limits } from './protocol.js';

export interface ErrorSpec {
  status: number;
  /** Whether the same call may succeed if retried later without changes. */
  retryable: boolean;
  /** One line for docs/errors.md. */
  meaning: string;
}

export const ErrorCodes = {
  InvalidRequest: {
    status: 400,
    retryable: false,
    meaning:
      "The request is malformed: bad JSON, a missing or invalid field, bad base64, no Host header (HTTP/1.1), a transfer coding other than chunked, an invoke body that does not match the Content-Length its headers give, a method outside GET/DELETE/PATCH/POST/PUT (invoke) or CONNECT/TRACE (raw route), a header name that is not an RFC 9110 token of at most 256 characters or a value with control characters, over 1,000 header lines as the relay sends them (the hub's own Via, X-Forwarded-For, X-Forwarded-Proto and X-Request-Id counted), or a head over the relay's 64 KiB as it encodes it; an invoke object with a member other than `method`, `url`, `headers`, `body` (named by its position, never its text), a `headers` object of over 2,000 members, or anything nested inside a header value.",
  },
  UrlNotAllowed: {
    status: 400,
    retryable: false,
    meaning:
      "The target URL is not under the connection's baseResourceUrl (hub) or the agent's --allow prefixes (agent), breaks the URL rule (a backslash, an invalid escape, a control character, or a path segment some server reads as . or .. after decoding; see docs/security.md), or an EntraAuth call would go to a loopback, link-local or private address (GATEHOUSE_ENTRA_ALLOW_NETWORKS).",
  },
  Unauthorized: {
    status: 401,
    retryable: false,
    meaning: 'The caller token is missing or invalid (signature, issuer, audience, expiry, tenant, scope). The reason is logged, not returned.',
  },
  Forbidden: {
    status: 403,
    retryable: false,
    meaning:
      'The caller is authenticated but may not do this: a gateway route that needs a higher role than the caller holds, a change to a connection only shared with the caller, a call on a gateway connection whose owner no longer holds a role on the gateway, an app-only token without GATEHOUSE_APP_ROLE, or an app on an EntraAuth connection (On-Behalf-Of needs a signed-in user).',
  },
  ConsentRequired: {
    status: 403,
    retryable: false,
    meaning: 'Entra ID refused the On-Behalf-Of token because consent is missing; the message carries the admin-consent URL.',
  },
  NotFound: {
    status: 404,
    retryable: false,
    meaning:
      "No such route (also `/metrics` on the main port, asked by anyone but the hub's own machine or when GATEHOUSE_METRICS_LISTEN is set, and anything but `GET /metrics` on that address), or no such connection/gateway owned by the caller (another user's connection answers 404 too), or a gateway's public key before its first agent registered.",
  },
  PayloadTooLarge: {
    status: 413,
    retryable: false,
    meaning:
      "The request body is over the hub limit (invoke: GATEHOUSE_MAX_BODY, default 100 MiB; raw proxy route: GATEHOUSE_MAX_RAW_BODY, default 1 GiB; the agents' routes: 32 KiB for `register` and `join-info`, 64 KiB + 11,776 bytes per connection of the gateway with sealed credentials for `rotate/commit`).",
  },
  UriTooLong: {
    status: 414,
    retryable: false,
    meaning: 'The request URL or the invoke/proxy target URL is over the hub limit (GATEHOUSE_MAX_URL_LENGTH, default 2048 characters).',
  },
  RequestTimeout: {
    status: 408,
    retryable: true,
    meaning:
      "caller -> hub: the request came too slowly: its line and headers not within GATEHOUSE_HEAD_TIMEOUT (10 s), its body under GATEHOUSE_MIN_BODY_RATE (1 KiB/s averaged over 10 s, after a 10 s grace), an invoke body the hub reads whole (up to 1 MiB, or one before method/url/headers) not within GATEHOUSE_HELD_BODY_TIMEOUT (60 s: `caller -> hub: the invoke body, read whole, did not arrive within 60 s (GATEHOUSE_HELD_BODY_TIMEOUT)`; an API route's body: `caller -> hub: the request body did not arrive within 60 s (GATEHOUSE_HELD_BODY_TIMEOUT)`), or a body to an unauthenticated agent route not within 10 s. The connection is closed.",
  },
  TooManyRequests: {
    status: 429,
    retryable: true,
    meaning:
      "The connection used its calls for this window (GATEHOUSE_THROTTLE, default 100/60s), or it or its caller has as many calls in progress as GATEHOUSE_MAX_CALLS_PER_CONNECTION / GATEHOUSE_MAX_CALLS_PER_CALLER allow (the message names the cap), or agent authentications from this address (for one member or gateway, or overall) failed too often lately (GATEHOUSE_AGENT_AUTH_FAILURES, GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS; a credential the hub knows to be valid is not refused; a registration body that is too large, late, not JSON or names no gateway and key counts as one), or a member sent a key rotation request while its previous one is in progress (`agent -> hub: this member has a key rotation request in progress; one at a time`) or while two of its tenant's are (`agent -> hub: this gateway's tenant has 2 key rotation requests in progress, the most it may have at once; try again in a second`; `gatehouse-agent rotate-key` waits and asks again), or a gateway or tenant made as many key rotation requests as the hub takes in 10 minutes (12 per gateway, 60 per tenant), or a gateway had 10 failed join proofs in 10 minutes, or a member, tenant or gateway made as many agent route requests as the hub takes (60 a minute per member, 6,000 per tenant, join-info 60 per gateway), or a new connection came from an address that holds GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS open already (it is then closed), or an agent's upgrade came while its gateway's tenant holds GATEHOUSE_MAX_TUNNELS_PER_TENANT agent connections on this hub (`agent -> hub: this gateway's tenant has N agent connections open on this hub, ...`, Retry-After: 30), or the caller (GATEHOUSE_API_RATE, default 1200/60s) or its tenant (GATEHOUSE_API_TENANT_RATE, default 6000/60s) used its management API requests (every route with a token but invoke and the raw route, and calls refused before they start); Retry-After says when to try again.",
  },
  GatewayOffline: { status: 502, retryable: true, meaning: 'hub -> agent: the gateway has no online member to run the call.' },
  BackendUnreachable: { status: 502, retryable: true, meaning: 'agent -> service: the agent could not connect to the intranet service (refused, DNS, TLS).' },
  BadGateway: {
    status: 502,
    retryable: true,
    meaning:
      'A link failed mid-call: the agent disconnected (or stopped reading and was closed, `hub -> agent: … close code 4011`), the service broke off its answer, the answer was over a limit, or the service answered in a form the relay cannot carry (a transfer coding other than chunked, a status outside 100-599).',
  },
  ServiceUnavailable: {
    status: 503,
    retryable: true,
    meaning:
      "The hub is starting or shutting down, an agent's upgrade came while every place for connections awaiting HELLO was held by one that has not had its chance yet (`agent -> hub: the hub is busy with other agents connecting`, a reconnect storm; `GATEHOUSE_AGENT_PENDING_MAX`), a store it needs is unreachable, it holds as many invoke bodies as GATEHOUSE_MAX_HELD_BODIES allows (or as many as one tenant, caller, gateway or connection may hold, GATEHOUSE_MAX_HELD_BODIES_SHARE: `hub: this caller's tenant holds as many invoke bodies in memory as one tenant may (...)`, and the same for `this caller`, `gateway {id}`, `connection {id}`), the gateway has as many calls in progress as GATEHOUSE_MAX_CALLS_PER_GATEWAY allows, or every available member of the gateway carries as many calls as one agent connection takes (GATEHOUSE_AGENT_MAX_STREAMS).",
  },
  GatewayTimeout: {
    status: 504,
    retryable: true,
    meaning: "The call did not complete within the connection's timeout (default 120 s); the agent abandons the backend call.",
  },
  InternalError: { status: 500, retryable: true, meaning: 'An unexpected hub fault; the requestId finds it in the logs.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ErrorCodes, code);
}

/** An error meant for a caller: stable code, HTTP status from the registry, message free of secrets. */
export class GatehouseError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatehouseError';
    this.status = ErrorCodes[code].status;
    this.retryable = ErrorCodes[code].retryable;
  }
}

/** Failures to open a connection (Node and undici): a request that failed with one of these was never received. */
export const NOT_CONNECTED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Network and TLS error codes (Node and undici) that mean "the service could not be reached". */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Why a service's answer could not be taken, when the answer itself is the cause (undici's error): a head over
 * Limits.maxResponseHeadBytes, bytes that are not HTTP/1.1 (a wrong port, a database), named by llhttp's
 * reason, one of its fixed texts, never the service's bytes, or a body its framing does not describe.
 * Undefined for any other failure.
 */
export function unreadableAnswer(err: unknown, target: string): string | undefined {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  if (code === 'UND_ERR_HEADERS_OVERFLOW')
    return `${target} answered with a head over the ${Limits.maxResponseHeadBytes / 1024} KiB limit for response headers`;
  if (e?.name === 'HTTPParserError') return `${target} did not answer with HTTP/1.1 (${/\(([^()]{1,100})\)$/.exec(e.message ?? '')?.[1] ?? 'unparseable'})`;
  // An answer framed two ways (Content-Length and Transfer-Encoding), or with a Content-Length its body does
  // not match: undici refuses both, rightly (request smuggling, truncation).
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return `${target} answered with a body that does not match its framing (Content-Length)`;
  // undici's own refusals: its HTTP/1.1 client skips interim (1xx) answers except 100 and 101, which it refuses.
  if (code === 'UND_ERR_SOCKET' && e?.message === 'bad upgrade') return `${target} answered 101 (Switching Protocols) to a request that asked for no upgrade`;
  if (code === 'UND_ERR_SOCKET' && e?.message === 'bad response')
    return `${target} answered with an unasked 100 (Continue), or before it was asked, which the relay does not take`;
  return undefined;
}
