// RFC 9110 6.4.1: an answer to HEAD, and a 1xx, 204 or 304 answer, has no body whatever its Content-Length says
// (a 304 may carry the Content-Length of the 200 it stands for, a HEAD answer that of the GET); RFC 9110 15.3.6:
// a server must not send content with 205 Reset Content (an agent's 205 with a body passed on to the caller
// until red team session 15). undici's
// HTTP/1.1 client fails such a 304 or 204 after its head (UND_ERR_RES_CONTENT_LENGTH_MISMATCH), so the relays
// (agent to service, hub to service, hub to hub) do not read the body of an answer that has none.
import { Readable } from 'node:stream';

export function answerHasNoBody(method: string, status: number): boolean {
  return method === 'HEAD' || status < 200 || status === 204 || status === 205 || status === 304;
}

/** The body to relay: `body` itself, or for an answer without one an empty stream, `body` left to finish
 *  (or fail) on its own. */
export function relayableBody<B extends { on(event: 'error', listener: (err: Error) => void): unknown; resume(): unknown }>(
  method: string,
  status: number,
  body: B,
): B | Readable {
  if (!answerHasNoBody(method, status)) return body;
  body.on('error', () => {});
  body.resume();
  return Readable.from([]);
}
