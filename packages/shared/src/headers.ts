// Header rules shared by hub and agent: what never crosses a proxy (hop-by-hop), what a gateway drops.
import type { HeaderList } from './protocol.js';

/** RFC 9110 section 7.6.1 hop-by-hop headers, plus the legacy ones proxies strip in practice. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

/**
 * Never copied toward the service: content-length and host are set from the body and URL the relay really
 * sends; Expect is the hub's to answer (it sends the caller 100 Continue itself, and undici refuses to send it).
 */
export const SET_BY_RELAY: ReadonlySet<string> = new Set(['content-length', 'host', 'expect']);

export const VIA_VALUE = '1.1 gatehouse';

/**
 * Where a caller may give its hub token instead of Authorization, so that Authorization can carry the service's
 * own credentials on the raw route (as Azure Relay's senders use ServiceBusAuthorization). Never passed on.
 */
export const HUB_TOKEN_HEADER = 'x-gatehouse-authorization';

export interface HeaderRuleOptions {
  /** Gateway connections drop Cookie (the connector's documented limitation). */
  dropCookie: boolean;
  /** Names the relay sets itself and must not take from the caller (e.g. authorization when it injects credentials). */
  drop?: ReadonlySet<string>;
}

const NONE_LISTED: ReadonlySet<string> = new Set();

/** Names listed in Connection headers are hop-by-hop for this message too (RFC 9110 7.6.1). */
function connectionListed(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (const [k, v] of headers) {
    if (k.length === 10 && k.toLowerCase() === 'connection') {
      out ??= new Set();
      for (const t of v.split(',')) { const n = t.trim().toLowerCase(); if (n) out.add(n); }
    }
  }
  return out ?? NONE_LISTED;
}

/** Headers forwarded toward the service: hop-by-hop, framing and (for gateways) Cookie removed, Via appended. */
export function forwardRequestHeaders(headers: HeaderList, opts: HeaderRuleOptions): HeaderList {
  const listed = connectionListed(headers);
  const out: HeaderList = [];
  let via: string | undefined;
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (HOP_BY_HOP.has(n) || listed.has(n) || SET_BY_RELAY.has(n)) continue;
    if (opts.dropCookie && n === 'cookie') continue;
    if (opts.drop?.has(n)) continue;
    if (n === 'via') { via = via ? `${via}, ${v}` : v; continue; }
    out.push([n, v]);
  }
  out.push(['via', via ? `${via}, ${VIA_VALUE}` : VIA_VALUE]);
  return out;
}

/**
 * Headers of the service's answer passed back to the caller: hop-by-hop (and what Connection lists) removed.
 * Content-Length is kept only where the bytes are relayed exactly (the raw route), not for the invoke envelope.
 */
export function forwardResponseHeaders(headers: HeaderList, keepContentLength = false): HeaderList {
  const listed = connectionListed(headers);
  const out: HeaderList = [];
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (!HOP_BY_HOP.has(n) && !listed.has(n) && (keepContentLength || n !== 'content-length')) out.push([n, v]);
  }
  return out;
}

/** Transfer-Encoding naming chunked alone (RFC 9112 6.1). Any other coding (gzip, chunked) would pass through a
 *  relay still coded, as if it were the body: the relay cannot undo it, so it refuses such a message. */
export function chunkedOnly(te: string): boolean {
  const codings = te.split(',').map((c) => c.trim()).filter(Boolean);
  return codings.length === 1 && codings[0]!.toLowerCase() === 'chunked';
}

/** Whether a service's answer carries a transfer coding other than chunked (see chunkedOnly). */
export function hasForeignTransferCoding(headers: HeaderList): boolean {
  return headers.some(([k, v]) => k.toLowerCase() === 'transfer-encoding' && !chunkedOnly(v));
}

/** The error text for such an answer (its value is not repeated: the service's bytes stay out of messages). */
export const foreignCodingMessage = (target: string): string =>
  `${target} answered with a transfer coding other than chunked, which the relay cannot undo (a compressed answer goes with Content-Encoding)`;

/** Response headers as the invoke envelope's object: repeated names joined with ", " (set-cookie with "\n" is not safe; kept as ", " like the connector). */
export function headersToObject(headers: HeaderList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) out[k] = k in out ? `${out[k]}, ${v}` : v;
  return out;
}

/** Header names and values that HTTP allows: RFC 9110 token; field-value of tab, space, visible ASCII and
 *  obs-text (0x80-0xFF, sent as Latin-1 bytes). No control characters, nothing beyond Latin-1. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
export function isValidHeaderName(name: string): boolean { return name.length <= 256 && TOKEN.test(name); }
export function isValidHeaderValue(value: string): boolean { return FIELD_VALUE.test(value); }

/** A header object as Node and undici give it (repeated names as arrays) turned into a list of pairs. */
export function headerListFrom(h: Record<string, string | string[] | undefined>): HeaderList {
  const out: HeaderList = [];
  for (const [k, v] of Object.entries(h)) if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  return out;
}

/** A copy of a header object with one header set. Not `{ ...headers, [name]: value }`: a copy made with a spread
 *  that then gains a property, made on every call, kept the calls' objects through V8's young collections
 *  (docs/performance.md, "Objects V8 kept through young collections"); Object.assign's copy did not. */
export function withHeader<T extends Record<string, string | string[]>>(headers: T, name: string, value: string): T {
  const out: Record<string, string | string[]> = Object.assign({}, headers);
  out[name] = value;
  return out as T;
}
