// What one relayed request head may hold, judged by the same function on both ends: the hub before it sends a
// head, on the head as sent (its own Via, X-Request-Id, X-Forwarded-* and the sealed credentials included), so a
// call over a limit gets a coded 4xx and never reaches the agent; the agent when it reads one, so a head over a
// limit from a hub that did not check fails that call with a FAILURE frame, never the connection and every call
// on it (docs/protocol.md, "Limits").
import { Limits, type HeaderList, type RequestHeadMessage } from './protocol.js';
import { isValidHeaderName, isValidHeaderValue } from './headers.js';

/** The longest a request head's string fields may be, in characters. */
export const REQUEST_HEAD_FIELDS = { requestId: 128, method: 16, url: 65_536, sealed: 16_384 } as const;

/** Why a head cannot be relayed, coded as the hub answers the caller (the agent reports InvalidRequest). The
 *  message names the limit, never a header's value. */
export interface HeadProblem {
  code: 'InvalidRequest' | 'UriTooLong';
  message: string;
}

/** A legal token that no HTTP service uses and that a JavaScript object reads as its prototype: a caller's
 *  `{"headers":{"__proto__":"x"}}` is refused (400) rather than guessed at, on invoke and the raw route alike. */
const PROTO_KEY = '__proto__';

/** The header lines of a request as sent: at most Limits.maxHeaderLines, each an RFC 9110 field (isValidHeaderName,
 *  isValidHeaderValue). */
export function headerListProblem(headers: HeaderList): HeadProblem | undefined {
  if (headers.length > Limits.maxHeaderLines) {
    return {
      code: 'InvalidRequest',
      message: `the request has ${headers.length} header lines as the relay sends them (the hub adds its own), over the ${Limits.maxHeaderLines} it carries`,
    };
  }
  for (let i = 0; i < headers.length; i++) {
    const [k, v] = headers[i]!;
    if (!isValidHeaderName(k))
      return { code: 'InvalidRequest', message: `header line ${i + 1} has a name that is not an RFC 9110 token of at most 256 characters` };
    if (k === PROTO_KEY) return { code: 'InvalidRequest', message: `header line ${i + 1} is named __proto__, which the relay does not accept` };
    if (!isValidHeaderValue(v)) return { code: 'InvalidRequest', message: `header ${k} holds an invalid value (Latin-1 text without control characters only)` };
  }
  return undefined;
}

/** Every per-call limit a request head is held to, or undefined when it may be relayed. (The head's encoded size,
 *  at most Limits.maxJsonBytes, depends on the connection's protocol version: the hub checks it as it encodes.) */
export function requestHeadProblem(head: RequestHeadMessage): HeadProblem | undefined {
  if (head.requestId.length > REQUEST_HEAD_FIELDS.requestId) {
    return { code: 'InvalidRequest', message: `the request id is over ${REQUEST_HEAD_FIELDS.requestId} characters` };
  }
  if (head.method.length > REQUEST_HEAD_FIELDS.method || !isValidHeaderName(head.method)) {
    return { code: 'InvalidRequest', message: `the method must be a token of at most ${REQUEST_HEAD_FIELDS.method} characters` };
  }
  if (head.url.length > REQUEST_HEAD_FIELDS.url) {
    return { code: 'UriTooLong', message: `the target URL is over the ${REQUEST_HEAD_FIELDS.url} characters the relay carries` };
  }
  if (head.credentials && head.credentials.sealed.length > REQUEST_HEAD_FIELDS.sealed) {
    return { code: 'InvalidRequest', message: `the connection's sealed credentials are over the ${REQUEST_HEAD_FIELDS.sealed} characters the relay carries` };
  }
  return headerListProblem(head.headers);
}
