// The address a request came from, for the agent authentication limiter (agents/auth-guard.ts). Behind a reverse
// proxy every connection comes from the proxy, so GATEHOUSE_TRUSTED_PROXIES names the proxies whose
// X-Forwarded-For the hub believes: walking that header from the right, the first address that is not a trusted
// proxy is the client (the hops to its left are whatever the client wrote, believed by nobody). A connection from
// any other peer is named by its own address, whatever X-Forwarded-For it sends. Default: no proxy is trusted.
import type { IncomingMessage } from 'node:http';
import { type BlockList, isIP } from 'node:net';
import { parseNetworks } from '../relay/direct-networks.js';

/** Hops of X-Forwarded-For read at most (from the right): a longer chain is named by its 16th hop. */
export const MAX_FORWARDED_HOPS = 16;

/** Addresses and CIDR networks, comma-separated ("10.0.0.5,10.1.0.0/16"), as a BlockList; a string naming the first
 *  bad entry otherwise. */
export function parseTrustedProxies(raw: string): BlockList | string {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return parseNetworks(entries.map((e) => (isIP(e) === 4 ? `${e}/32` : isIP(e) === 6 ? `${e}/128` : e)).join(','));
}

/** An address as the limiter keys it: IPv4-mapped IPv6 written as IPv4; one X-Forwarded-For hop with its port or
 *  brackets taken off (some proxies write `1.2.3.4:5678` or `[::1]:5678`); undefined when it is no address. */
export function plainAddress(raw: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(raw);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(raw);
  const a = (bracketed?.[1] ?? withPort?.[1] ?? raw).replace(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i, '$1');
  return isIP(a) ? a : undefined;
}

/** Whether `address` (plain: see plainAddress) is one of the trusted proxies. */
export function trusts(proxies: BlockList, address: string): boolean {
  return proxies.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** The client's address: the peer's, or behind trusted proxies the rightmost X-Forwarded-For hop not among them. */
export function clientAddress(req: IncomingMessage, proxies: BlockList): string | undefined {
  const peer = req.socket.remoteAddress;
  let client = peer === undefined ? undefined : (plainAddress(peer) ?? peer);
  if (client === undefined || proxies.rules.length === 0 || !trusts(proxies, client)) return client;
  const forwarded = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',');
  for (let i = hops.length - 1, n = 0; i >= 0 && n < MAX_FORWARDED_HOPS; i--, n++) {
    const hop = plainAddress(hops[i]!.trim());
    // A hop that is no address: the trusted proxy before it is the last thing believed.
    if (hop === undefined) return client;
    client = hop;
    if (!trusts(proxies, hop)) return hop;
  }
  return client;
}
