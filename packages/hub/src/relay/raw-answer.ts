// The service's answer head as the raw route passes it on: only framing the caller can be held to, and only the
// hub's own x-gatehouse-* headers (with the agent's one diagnostic).
import { AGENT_WINDOWS_AUTH_HEADER, GatehouseError, HUB_HEADER_PREFIX, forwardResponseHeaders, type HeaderList } from '@gatehouse/shared';

/**
 * The headers the raw route writes for a service's answer. Throws a 502 BadGateway (before any of the head goes
 * out) when the answer declares a Content-Length over `limit`, the raw route's body limit: it could only be cut.
 * - Content-Length on a 204 is dropped: RFC 9110 8.6 forbids it there (the status says there is no body), and a
 *   caller's client would wait for bytes that never come; on a 205 too (RFC 9110 15.3.6: no content; the hub
 *   writes its own zero length). On a 304 (and a HEAD answer) it is kept: there it is
 *   the length of the representation a 200 would carry (RFC 9110 8.6, 15.4.5), and no body is sent.
 * - x-gatehouse-* is the hub's (x-gatehouse-error on an answer is always the hub's), but for a gateway
 *   connection's x-gatehouse-windows-auth: the agent's own diagnostic (checked and bounded by checkAgentAnswer).
 */
export function rawAnswerHeaders(method: string, status: number, headers: HeaderList, viaAgent: boolean, limit: number): HeaderList {
  const out: HeaderList = [];
  for (const [k, v] of forwardResponseHeaders(headers, true)) {
    if (k.startsWith(HUB_HEADER_PREFIX) && !(viaAgent && k === AGENT_WINDOWS_AUTH_HEADER)) continue;
    if (k === 'content-length') {
      if (status === 204 || status === 205) continue;
      const bodyFollows = method !== 'HEAD' && status !== 304;
      if (bodyFollows && v.split(',').some((d) => Number(d.trim()) > limit)) {
        throw new GatehouseError('BadGateway', `service -> hub: the answer's Content-Length is over the raw route's ${limit}-byte limit`);
      }
    }
    out.push([k, v]);
  }
  return out;
}
