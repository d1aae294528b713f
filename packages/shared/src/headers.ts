// Header rules shared by hub and agent: what never crosses a proxy (hop-by-hop), what a gateway drops.
import { Buffer } from 'node:buffer';
import type { HeaderList } from './protocol.js';

/** RFC 9110 section 7.6.1 hop-by-hop headers, plus the legacy ones proxies strip in practice. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
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

/** The caller as the hub saw it: what the hub vouches for toward the service (X-Forwarded-For, X-Forwarded-Proto),
 *  and the token the caller authenticated with, which never leaves the hub. */
export interface CallerView {
  /** The address of the connection the request came on (a reverse proxy's, when there is one). */
  address: string | undefined;
  /** The scheme of that connection: https only when the hub itself terminated TLS on it. */
  proto: 'http' | 'https';
  /** The caller's hub token: a header toward the service whose value holds it is dropped, whatever its name. */
  token?: string;
  /** The hub's own audiences (its client id and App ID URI): a header toward the service whose value holds a JWT
   *  for one of them (any hub token, the caller's second one too) is dropped, whatever its name. */
  hubAudiences?: readonly string[];
}

/** Headers by which a client tells a service its address, scheme or host. Anyone can write them, so a caller's
 *  are never passed on as if the hub vouched for them (with every `x-forwarded-*`); the hub sends its own
 *  X-Forwarded-For and X-Forwarded-Proto instead. */
export const CLIENT_ORIGIN_HEADERS: ReadonlySet<string> = new Set([
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'x-original-forwarded-for',
  'cf-connecting-ip',
  'fastly-client-ip',
  'client-ip',
  'x-originating-ip',
  'x-remote-addr',
  'x-remote-ip',
  'x-host',
]);
/** Headers by which a client tells a server (or a framework behind it) to act on another URL or method than the
 *  request line's: a caller's would change what the service does behind the hub's URL and method rules. */
export const OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);
const FORWARDED_PREFIX = 'x-forwarded-';
/** Whether a caller's header (its name lower-cased) is one of the client-origin or override headers. Compared
 *  with `_` read as `-`: CGI, PHP and WSGI turn both into `HTTP_X_FORWARDED_FOR`, so `X_Forwarded_For` is read
 *  by them as X-Forwarded-For. */
export function isClientOriginHeader(lowerName: string): boolean {
  const n = lowerName.includes('_') ? lowerName.replaceAll('_', '-') : lowerName;
  return n.startsWith(FORWARDED_PREFIX) || CLIENT_ORIGIN_HEADERS.has(n) || OVERRIDE_HEADERS.has(n);
}

/** What separates the words of a header value that could be a JWT (anything not base64url or a dot). Split on,
 *  never matched with a pattern that backtracks: a value is looked at in time linear in its length. */
const NOT_JWT_CHAR = /[^A-Za-z0-9_.-]+/;
/** A JWT part: base64url, at least this long (`{"a":1}` is 10 characters encoded). */
const MIN_JWT_PART_CHARS = 8;
/** Most characters of a payload part decoded (a header value is bounded by the head's size anyway). */
const MAX_JWT_PAYLOAD_CHARS = 16_384;

/** Whether `aud` (a JWT's claim: a string or an array of them) names one of `audiences`. */
const audienceIn = (aud: unknown, audiences: readonly string[]): boolean =>
  typeof aud === 'string' ? audiences.includes(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && audiences.includes(a));

/**
 * Whether a header value holds a JWT for one of the hub's audiences: a hub token, never a service's credential.
 * Decoded without verifying (a forged one is dropped as well); only values with two dots are looked at.
 */
export function holdsHubToken(value: string, audiences: readonly string[]): boolean {
  const dot = value.indexOf('.');
  if (dot < 0 || value.indexOf('.', dot + 1) < 0 || audiences.length === 0) return false;
  for (const word of value.split(NOT_JWT_CHAR)) {
    // A signed JWT is three parts (header, payload, signature); only the payload is read.
    const parts = word.split('.');
    if (parts.length !== 3) continue;
    const [head, part] = parts as [string, string, string];
    if (head.length < MIN_JWT_PART_CHARS || part.length < MIN_JWT_PART_CHARS || part.length > MAX_JWT_PAYLOAD_CHARS) continue;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    } catch {
      continue;
    }
    if (claims !== null && typeof claims === 'object' && audienceIn((claims as { aud?: unknown }).aud, audiences)) return true;
  }
  return false;
}

/** The shortest token the hub looks for in header values (a verified Entra token is far longer). */
const MIN_TOKEN_CHARS = 16;

const NONE_LISTED: ReadonlySet<string> = new Set();

/** Names listed in Connection headers are hop-by-hop for this message too (RFC 9110 7.6.1). */
function connectionListed(headers: HeaderList): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (const [k, v] of headers) {
    if (k.length === 10 && k.toLowerCase() === 'connection') {
      out ??= new Set();
      for (const t of v.split(',')) {
        const n = t.trim().toLowerCase();
        if (n) out.add(n);
      }
    }
  }
  return out ?? NONE_LISTED;
}

/** Whether a request header (its name lower-cased) goes toward the service under the rules both ends apply. */
function relayed(n: string, listed: ReadonlySet<string>, opts: HeaderRuleOptions): boolean {
  if (HOP_BY_HOP.has(n) || listed.has(n) || SET_BY_RELAY.has(n)) return false;
  if (opts.dropCookie && n === 'cookie') return false;
  return opts.drop?.has(n) !== true;
}

/**
 * The request header rules hub and agent both apply toward a service: hop-by-hop headers and the names Connection
 * lists, the framing the relay sets itself (SET_BY_RELAY), Cookie for gateways and `drop` removed; names lower-cased.
 */
export function relayRequestHeaders(headers: HeaderList, opts: HeaderRuleOptions): HeaderList {
  const listed = connectionListed(headers);
  const out: HeaderList = [];
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (relayed(n, listed, opts)) out.push([n, v]);
  }
  return out;
}

/**
 * The hub's request headers toward the service: relayRequestHeaders' rules, and the caller's Forwarded and
 * X-Forwarded-* (CLIENT_ORIGIN_HEADERS), its override headers (OVERRIDE_HEADERS), any header that holds the caller's
 * hub token or another JWT for the hub's audiences (holdsHubToken) dropped; Via appended;
 * with `caller`, the hub's own X-Forwarded-For and X-Forwarded-Proto last.
 */
export function forwardRequestHeaders(headers: HeaderList, opts: HeaderRuleOptions & { caller?: CallerView }): HeaderList {
  const token = opts.caller?.token !== undefined && opts.caller.token.length >= MIN_TOKEN_CHARS ? opts.caller.token : undefined;
  const audiences = opts.caller?.hubAudiences;
  const listed = connectionListed(headers);
  const out: HeaderList = [];
  let via: string | undefined;
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (!relayed(n, listed, opts) || isClientOriginHeader(n)) continue;
    if (token !== undefined && v.includes(token)) continue;
    if (audiences !== undefined && holdsHubToken(v, audiences)) continue;
    if (n === 'via') {
      via = via ? `${via}, ${v}` : v;
      continue;
    }
    out.push([n, v]);
  }
  out.push(['via', via ? `${via}, ${VIA_VALUE}` : VIA_VALUE]);
  if (opts.caller) {
    if (opts.caller.address) out.push(['x-forwarded-for', clientAddress(opts.caller.address)]);
    out.push(['x-forwarded-proto', opts.caller.proto]);
  }
  return out;
}

/** An IPv4 address as a dual-stack socket reports it (`::ffff:192.0.2.1`) is written as IPv4. */
function clientAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
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
  const codings = te
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  return codings.length === 1 && codings[0]!.toLowerCase() === 'chunked';
}

/** Whether a service's answer carries a transfer coding other than chunked (see chunkedOnly). */
export function hasForeignTransferCoding(headers: HeaderList): boolean {
  return headers.some(([k, v]) => k.toLowerCase() === 'transfer-encoding' && !chunkedOnly(v));
}

/** The error text for such an answer (its value is not repeated: the service's bytes stay out of messages). */
export const foreignCodingMessage = (target: string): string =>
  `${target} answered with a transfer coding other than chunked, which the relay cannot undo (a compressed answer goes with Content-Encoding)`;

/** Response headers as the invoke envelope's object: repeated names joined with ", " (set-cookie with "\n" is not
 *  safe; kept as ", " like the connector). Without a prototype: a header named `constructor`, `toString` or
 *  `__proto__` is a key like any other, never an inherited property. */
export function headersToObject(headers: HeaderList): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of headers) {
    const prev = out[k];
    out[k] = prev === undefined ? v : `${prev}, ${v}`;
  }
  return out;
}

/** Header names and values that HTTP allows: RFC 9110 token; field-value of tab, space, visible ASCII and
 *  obs-text (0x80-0xFF, sent as Latin-1 bytes). No control characters, nothing beyond Latin-1. */
/** The characters of an RFC 9110 token (tchar), by code: checked with a loop, not a pattern, since every header
 *  of every relayed call is checked (a pattern per name and value cost about 1 µs for ten headers). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;
export function isValidHeaderName(name: string): boolean {
  if (name.length === 0 || name.length > 256) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 ? c !== 0x09 : c === 0x7f || c > 0xff) return false;
  }
  return true;
}

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
  // Without a prototype, as the object it copies (toUndiciHeaders): header names are keys, never inherited properties.
  const out: Record<string, string | string[]> = Object.assign(Object.create(null) as Record<string, string | string[]>, headers);
  out[name] = value;
  return out as T;
}
