// Which URLs a connection may call. The hub applies it against the connection's baseResourceUrl, the agent
// against each of its --allow prefixes: one function, so both ends agree on every edge case.
import { decodeLeniently } from './percent-decode.js';

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** Checks a base URL or allow prefix: absolute http(s), no userinfo, query or fragment. Returns it normalised. */
export function parseBaseUrl(raw: string): UrlCheck {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, reason: 'must be a non-empty string' };
  if (/\\|%5c/i.test(raw)) return { ok: false, reason: 'must not contain backslashes' };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'must use http or https' };
  if (url.username || url.password || authorityHasAt(raw)) return { ok: false, reason: 'must not contain user information' };
  if (url.search || url.hash || raw.includes('?') || raw.includes('#')) return { ok: false, reason: 'must not contain a query or fragment' };
  return { ok: true, url };
}

/** The base as stored and shown: normalised, without trailing slashes. */
export function normaliseBaseUrl(url: URL): string {
  return url.href.replace(/\/+$/, '');
}

/** An '@' between the scheme's slashes and the first '/', '?' or '#'. */
const AUTHORITY_AT = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/*[^/?#]*@/;
function authorityHasAt(raw: string): boolean {
  return AUTHORITY_AT.test(raw);
}

/** Joins a relative URL to the base with exactly one '/' between them (axios baseURL semantics). */
export function joinUrl(base: string, target: string): string {
  if (HAS_SCHEME.test(target)) return target;
  return `${base.replace(/\/+$/, '')}/${target.replace(/^\/+/, '')}`;
}

// Every call checks its URL against the same few bases (a connection's, an agent's prefixes): each base is parsed
// once, and its path without trailing slashes kept with it. Parsed bases are never changed, only read.
const OK_UNDER = { ok: true } as const;
const basePaths = new WeakMap<URL, string>();
const basePathOf = (base: URL): string => {
  let path = basePaths.get(base);
  if (path === undefined) basePaths.set(base, (path = base.pathname.replace(/\/+$/, '')));
  return path;
};
const parsedBases = new Map<string, URL>();
/** `new URL(base)`, parsed once per distinct base (at most 1,024 kept; a full cache starts over). */
function parsedBase(base: string): URL {
  let url = parsedBases.get(base);
  if (url === undefined) {
    url = new URL(base);
    if (parsedBases.size >= 1024) parsedBases.clear();
    parsedBases.set(base, url);
  }
  return url;
}

/** True when `url` lies under `base`: same scheme, host and port; path equal to base's or continuing after '/'. */
export function isUnder(url: URL, base: URL): { ok: true } | { ok: false; reason: string } {
  if (url.protocol !== base.protocol) return { ok: false, reason: 'other scheme' };
  if (url.hostname !== base.hostname) return { ok: false, reason: 'other host' };
  if (url.port !== base.port) return { ok: false, reason: 'other port' };
  const basePath = basePathOf(base);
  const path = url.pathname;
  if (basePath !== '' && path !== basePath && !path.startsWith(`${basePath}/`)) return { ok: false, reason: 'path outside the base path' };
  return OK_UNDER;
}

/** A backslash, '%5c', or a C0 control or DEL (the WHATWG parser would turn '\\' into '/' and drop tabs and newlines
 *  without a word), anywhere in the raw string: one scan, the reason picked after. */
const RAW_REFUSED = /[\\\0-\x1f\x7f]|%5c/i;
const RAW_CONTROL = /[\0-\x1f\x7f]/;

/** Refusals of the raw string, before it is parsed. */
function rawProblem(raw: string, absolute: boolean): string | undefined {
  if (RAW_REFUSED.test(raw)) return RAW_CONTROL.test(raw) ? 'control character in url' : 'backslash in url';
  if (absolute && authorityHasAt(raw)) return 'userinfo in url';
  return undefined;
}

/**
 * Resolves an invoke `url` (absolute or relative) against `base` and checks it lies under it.
 * Dot segments (`..`, `%2e%2e`) are resolved by the WHATWG parser first; what is left must pass the path rule
 * (`pathProblem`). Userinfo, backslashes and `%5c` are refused.
 */
export function resolveTarget(base: string, target: string): UrlCheck {
  if (typeof target !== 'string' || target.length === 0) return { ok: false, reason: 'url must be a non-empty string' };
  const raw = rawProblem(target, HAS_SCHEME.test(target));
  if (raw !== undefined) return { ok: false, reason: raw };
  let url: URL;
  let baseUrl: URL;
  try {
    url = new URL(joinUrl(base, target));
    baseUrl = parsedBase(base);
  } catch {
    return { ok: false, reason: 'url does not parse' };
  }
  if (url.username || url.password) return { ok: false, reason: 'userinfo in url' };
  const under = isUnder(url, baseUrl);
  if (!under.ok) return under;
  const path = pathProblem(url.pathname);
  if (path !== undefined) return { ok: false, reason: path };
  if (url.hash !== '') url.hash = ''; // (the setter re-parses the whole URL)
  return { ok: true, url };
}

/** The agent's check: a URL is allowed when it lies under at least one prefix, and its path passes the path rule. */
export function isAllowed(url: string, prefixes: readonly URL[]): UrlCheck {
  const raw = rawProblem(url, true);
  if (raw !== undefined) return { ok: false, reason: raw };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'url does not parse' };
  }
  if (parsed.username || parsed.password) return { ok: false, reason: 'userinfo in url' };
  const path = pathProblem(parsed.pathname);
  if (path !== undefined) return { ok: false, reason: path };
  for (const p of prefixes) if (isUnder(parsed, p).ok) return { ok: true, url: parsed };
  return { ok: false, reason: 'not under any --allow prefix' };
}

// The path rule (SPEC section 4, docs/security.md "The URL rule"). A path is read the way every common server
// might read it: as sent, then decoded again and again (`%XX`, `%uXXXX`, overlong UTF-8) until nothing changes,
// each reading also NFKC-normalised (U+FF0E '．' and U+2024 '․' are '.', U+FF0F is '/'). In every reading '/' and
// '\\' separate segments, a segment ends at its first ';' (Tomcat, Jetty and Spring drop path parameters) and
// whitespace around it does not count. Refused: a first reading that is not valid (an escape that is not '%' and
// two hex digits, bytes that are not UTF-8), a control character in any reading, and a segment made only of dots
// (and whitespace) in any reading: '.', '..', '..;x', ' .. ', '...'.

/** What can matter to the rule. A path without any of it (nearly every path) costs this one scan. (Unanchored
 *  searches: V8 runs them faster than an anchored whitelist.) */
const MAY_MATTER = /[%;.\\\s\0-\x1f\x7f-\uffff]/;
/** The same without the dot: a path that has dots but none of these can only be wrong by a segment of dots. */
const MAY_MATTER_BUT_DOTS = /[%;\\\s\0-\x1f\x7f-\uffff]/;
const DOT_SEGMENT_FOUND = 'dot segment in path';
/** C0 controls, DEL and C1 controls (NUL included). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A '%' not followed by two hex digits. */
const BAD_ESCAPE = /%(?![0-9a-fA-F]{2})/;
/** A segment ('/' or '\\' before it) that is whitespace and dots, with at least one dot, up to ';', '/', '\\' or the end.
 *  (`\s*\.` then `[\s.]*`: one way to match each segment, so the time is linear in the path's length.) */
const DOT_SEGMENT = /(?:^|[/\\])\s*\.[\s.]*(?:[;/\\]|$)/;
const NON_ASCII = /[^\x00-\x7f]/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** Rounds of decoding a path is read through; one still changing after that many is refused (no real path needs them). */
export const MAX_DECODES = 8;

/** What one reading shows: a dot segment or a control character, as it is and NFKC-normalised. */
function readingProblem(text: string): string | undefined {
  if (DOT_SEGMENT.test(text)) return DOT_SEGMENT_FOUND;
  if (PRINTABLE_ASCII.test(text)) return undefined;
  if (CONTROL.test(text)) return 'control character in path';
  if (DOT_SEGMENT.test(text.normalize('NFKC'))) return DOT_SEGMENT_FOUND;
  return undefined;
}

/**
 * The one path rule of hub and agent: undefined when `path` (a URL's pathname as the WHATWG parser leaves it)
 * is fine, else the reason (a fixed phrase: it never quotes the path).
 */
export function pathProblem(path: string): string | undefined {
  if (!MAY_MATTER.test(path)) return undefined;
  if (!MAY_MATTER_BUT_DOTS.test(path)) return DOT_SEGMENT.test(path) ? DOT_SEGMENT_FOUND : undefined;
  let reading = path;
  let problem = readingProblem(reading);
  if (problem !== undefined || (!path.includes('%') && !NON_ASCII.test(path))) return problem;
  if (BAD_ESCAPE.test(path)) return 'invalid escape in path';
  try {
    reading = decodeURIComponent(path);
  } catch {
    return 'path is not UTF-8 once decoded';
  }
  for (let decodes = 1; ; decodes++) {
    problem = readingProblem(reading);
    if (problem !== undefined) return problem;
    const next = decodeLeniently(NON_ASCII.test(reading) ? reading.normalize('NFKC') : reading);
    if (next === reading) return undefined;
    if (decodes === MAX_DECODES) return `escapes nested over ${MAX_DECODES} levels deep in path`;
    reading = next;
  }
}

/** "host:port" (or "[v6]:port") as listen and bind options give it; undefined when it is not one. */
export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!.replace(/^\[|\]$/g, ''), port } : undefined;
}
