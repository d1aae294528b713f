// GATEHOUSE_AGENT_ADVERTISE_URL: the URL this hub lists for agents (cluster/hubs.ts). Every agent of the cluster
// gets it in HUBS and dials it with its credential, so it is checked whole when the hub starts, at least as
// strictly as an agent reads it (shared codec.ts: http(s)://host[:port], at most 2048 characters; an agent refuses
// a HUBS frame with one hub it cannot read, so one hub listing such a URL would cut every agent off the list).
// What is listed is the URL's origin (scheme, host, port as the WHATWG URL parser writes them).

/** The longest listed URL an agent takes (shared codec.ts, HUBS). */
export const MAX_AGENT_URL_CHARS = 2048;

const PROBLEM = 'GATEHOUSE_AGENT_ADVERTISE_URL must be http(s)://host:port (the URL agents dial this hub at) or none';

/** `raw` as listed (its origin), or why it is refused (never quoting the value: it may be huge). */
export function agentUrlOf(raw: string): { url: string } | { problem: string } {
  if (raw.length > MAX_AGENT_URL_CHARS) return { problem: `GATEHOUSE_AGENT_ADVERTISE_URL is over ${MAX_AGENT_URL_CHARS} characters, the longest agents take` };
  // Trailing slashes are dropped; then what the agents' codec takes (no userinfo, path, query, fragment or
  // whitespace), and neither a backslash (a path to the URL parser: http://hub\evil is host hub, path /evil) nor
  // a percent escape (decoded into the host: http://hub%2e.example.com is hub..example.com).
  const given = raw.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/?#@\s\\%]+$/.test(given)) return { problem: PROBLEM };
  let u: URL;
  try {
    u = new URL(given);
  } catch {
    return { problem: PROBLEM };
  }
  if (u.pathname !== '/' || u.username || u.password || u.search || u.hash || u.port === '0') return { problem: PROBLEM };
  return { url: u.origin };
}
