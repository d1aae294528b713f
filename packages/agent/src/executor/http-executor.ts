// Runs one relayed request against an intranet service with undici (Anonymous or Basic), streaming both ways.
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { dispatchCall, type AnswerBody } from './dispatch-call.js';
import type { CallCancel } from './call-cancel.js';
import {
  NOT_CONNECTED_CODES,
  UNREACHABLE_CODES,
  headerListFrom,
  relayRequestHeaders,
  unreadableAnswer,
  type AgentFailureCode,
  type HeaderList,
} from '@gatehouse/shared';

export interface ExecRequest {
  method: string;
  url: URL;
  headers: HeaderList;
  body: Readable | null;
  bodyLength: number | null;
  auth: { scheme: 'basic' | 'windows'; username: string; password: string } | null;
  /** Cancels the call (the hub's cancel, or the deadline). */
  cancel: CallCancel;
  timeoutMs: number;
}

export interface ExecResponse {
  status: number;
  headers: HeaderList;
  body: AnswerBody;
}

/** A failure with the code the hub maps to its HTTP error. Messages name the link, never the URL's path or query. */
export class ExecError extends Error {
  /** `notSent`: the service certainly never received the request (the hub may try another member). */
  constructor(
    readonly code: AgentFailureCode,
    message: string,
    readonly notSent = false,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

/** Failures that happen before a request can leave: no connection, no TLS session. */
const BEFORE_SENDING = new Set([
  ...NOT_CONNECTED_CODES,
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Authorization is the agent's to set when it injects the connection's credentials. */
const AUTHORIZATION: ReadonlySet<string> = new Set(['authorization']);

/**
 * Request headers as undici wants them, after the header rules the hub applies too (relayRequestHeaders: hop-by-hop
 * and what Connection lists, Cookie, what the relay sets itself), whatever the hub sent. An object without a
 * prototype: a header named `__proto__` or `constructor` is a key like any other, never an inherited property.
 */
export function toUndiciHeaders(list: HeaderList, req: ExecRequest): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [n, v] of relayRequestHeaders(list, { dropCookie: true, drop: req.auth ? AUTHORIZATION : undefined })) {
    const prev = out[n];
    out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  if (req.auth?.scheme === 'basic') out.authorization = `Basic ${Buffer.from(`${req.auth.username}:${req.auth.password}`, 'utf8').toString('base64')}`;
  if (req.bodyLength !== null && (req.bodyLength > 0 || req.body)) out['content-length'] = String(req.bodyLength);
  return out;
}

/** Maps a failed call to the service onto the codes the hub knows. */
export function execFailure(err: unknown, req: ExecRequest): ExecError {
  const target = `${req.url.protocol}//${req.url.host}`;
  if (err instanceof ExecError) return err;
  if (req.cancel.aborted) return new ExecError('GatewayTimeout', `the call to ${target} was abandoned (${req.cancel.reason?.message ?? 'cancelled'})`);
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return new ExecError('GatewayTimeout', `${target} did not answer in time`);
  const unreadable = unreadableAnswer(err, target);
  if (unreadable) return new ExecError('BadGateway', unreadable);
  if (UNREACHABLE_CODES.has(code)) return new ExecError('BackendUnreachable', `could not reach ${target} (${code})`, BEFORE_SENDING.has(code));
  return new ExecError('BadGateway', `the call to ${target} failed (${code || (err as Error).name})`);
}

/** `dispatcher`: the pool for the call's identity (ServicePools.for). */
export async function execute(dispatcher: Dispatcher, req: ExecRequest): Promise<ExecResponse> {
  try {
    const res = await dispatchCall(
      dispatcher,
      {
        origin: req.url.origin,
        path: `${req.url.pathname}${req.url.search}`,
        method: req.method as Dispatcher.HttpMethod,
        headers: toUndiciHeaders(req.headers, req),
        body: req.body ?? undefined,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      },
      req.cancel,
    );
    return { status: res.status, headers: headerListFrom(res.headers), body: res.body };
  } catch (err) {
    throw execFailure(err, req);
  }
}
