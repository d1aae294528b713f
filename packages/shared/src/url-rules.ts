// Which URLs a connection may call. The hub applies it against the connection's baseResourceUrl, the agent
// against each of its --allow prefixes: one function, so both ends agree on every edge case.

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const HAS_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/** Checks a base URL or allow prefix: absolute http(s), no userinfo, query or fragment. Returns it normalised. */
export function parseBaseUrl(raw: string): UrlCheck {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, reason: 'must be a non-empty string' };
  if (/\\|%5c/i.test(raw)) return { ok: false, reason: 'must not contain backslashes' };
  let url: URL;
  try { url = new URL(raw); } catch { return { ok: false, reason: 'must be an absolute URL' }; }
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

/**
 * Resolves an invoke `url` (absolute or relative) against `base` and checks it lies under it.
 * Dot segments (`..`, `%2e%2e`) are resolved by the WHATWG parser first; userinfo, backslashes, `%5c` and
 * encoded dot segments that survive (`%2f..%2f`) are refused.
 */
export function resolveTarget(base: string, target: string): UrlCheck {
  if (typeof target !== 'string' || target.length === 0) return { ok: false, reason: 'url must be a non-empty string' };
  if (/\\|%5c/i.test(target)) return { ok: false, reason: 'backslash in url' };
  if (/[\0-\x1f\x7f]/.test(target)) return { ok: false, reason: 'control character in url' };
  const absolute = HAS_SCHEME.test(target);
  if (absolute && authorityHasAt(target)) return { ok: false, reason: 'userinfo in url' };
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
  if (hasEncodedDotSegment(url.pathname)) return { ok: false, reason: 'encoded dot segment in path' };
  if (url.hash !== '') url.hash = ''; // (the setter re-parses the whole URL)
  return { ok: true, url };
}

/** A path segment that is exactly '.' or '..', with '/' or '\\' between segments. */
const DOT_SEGMENT = /(?:^|[/\\])\.\.?(?:[/\\]|$)/;

/** After WHATWG resolution no literal dot segments remain; this catches ones a backend would decode later
 *  (a path without '%' has nothing to decode). */
function hasEncodedDotSegment(pathname: string): boolean {
  let decoded = pathname;
  if (pathname.includes('%')) {
    try { decoded = decodeURIComponent(pathname); } catch { return false; }
  }
  return DOT_SEGMENT.test(decoded);
}

/** The agent's check: a URL is allowed when it lies under at least one prefix. */
export function isAllowed(url: string, prefixes: readonly URL[]): UrlCheck {
  if (/\\|%5c/i.test(url)) return { ok: false, reason: 'backslash in url' };
  if (authorityHasAt(url)) return { ok: false, reason: 'userinfo in url' };
  let parsed: URL;
  try { parsed = new URL(url); } catch { return { ok: false, reason: 'url does not parse' }; }
  if (hasEncodedDotSegment(parsed.pathname)) return { ok: false, reason: 'encoded dot segment in path' };
  for (const p of prefixes) if (isUnder(parsed, p).ok) return { ok: true, url: parsed };
  return { ok: false, reason: 'not under any --allow prefix' };
}

/** "host:port" (or "[v6]:port") as listen and bind options give it; undefined when it is not one. */
export function parseHostPort(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  return port <= 65535 ? { host: m[1]!.replace(/^\[|\]$/g, ''), port } : undefined;
}
