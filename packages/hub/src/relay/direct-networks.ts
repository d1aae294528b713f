// Where the hub's own calls (EntraAuth connections) may go. The hub runs in the cloud next to things no caller
// should reach through it: the cloud's instance metadata service (169.254.169.254, which hands out the
// machine's managed-identity tokens), the hub's own loopback services, its private network. Intranet services
// are reached through gateways; an EntraAuth call goes to a public address unless GATEHOUSE_ENTRA_ALLOW_NETWORKS
// names the private networks it may use. Checked on the address a host name resolves to when connecting, so
// a name that resolves (or later re-resolves) to a refused address is refused too.
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { networkInterfaces } from 'node:os';
import { createHmac, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { BlockList, isIP } from 'node:net';
import { GatehouseError } from '@gatehouse/shared';

/** Loopback, link-local, private, shared (CGNAT), "this network", benchmark, multicast and reserved ranges. */
const REFUSED: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

/** A CIDR list such as "10.20.0.0/16,fd00::/8" as a BlockList; a string naming the first bad entry otherwise. */
export function parseNetworks(raw: string): BlockList | string {
  const list = new BlockList();
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(entry);
    const family = m ? isIP(m[1]!) : 0;
    if (!m || !family || Number(m[2]) > (family === 4 ? 32 : 128)) return entry;
    list.addSubnet(m[1]!, Number(m[2]), family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** The header the hub's metrics answers carry its marker in (DirectNetworks.marker). An EntraAuth call whose
 *  answer carries this hub's marker reached the hub itself, through whatever port mapping, proxy or load balancer
 *  (red team, session 18: a TCP forwarder in front of the metrics listener got past the check of the socket's own
 *  address and port): it is refused before any of the answer is passed on. */
export const HUB_MARKER_HEADER = 'x-gatehouse-hub';

/** The marker of a cluster's hubs: the same on each, derived from the cluster secret (not the secret itself). */
export function clusterMarker(clusterSecret: string): string {
  return createHmac('sha256', clusterSecret).update('gatehouse hub marker').digest('base64url').slice(0, 24);
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** An address as sockets and interfaces report it: IPv4-mapped IPv6 as IPv4, lower case, no zone. */
function normal(address: string): string {
  return address
    .replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1')
    .replace(/%.*$/, '')
    .toLowerCase();
}

/** The error code of a connection the lookup refused (what undici's request fails with). */
export const REFUSED_ADDRESS = 'GATEHOUSE_REFUSED_ADDRESS';

export class DirectNetworks {
  private readonly refused = new BlockList();
  /** The ports the hub itself listens on (its API, its metrics listener), set once it listens. */
  private readonly ownPorts = new Set<number>();
  /** This machine's addresses (every interface's, loopback included), read when a listener is added. */
  private ownAddresses = new Set<string>();

  /** `marker`: what the hub's own answers that must never be relayed (its metrics) carry in HUB_MARKER_HEADER: a
   *  value derived from the cluster secret (every hub of a cluster the same) or random per process. */
  constructor(
    private readonly allowed: BlockList,
    readonly marker: string = randomBytes(18).toString('base64url'),
  ) {
    for (const [net, prefix, family] of REFUSED) this.refused.addSubnet(net, prefix, family);
  }

  /** Whether the hub may connect to this address. NAT64 addresses (64:ff9b::/96) are judged by the IPv4 address
   *  they carry. */
  permits(address: string): boolean {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const nat64 = family === 'ipv6' ? /^64:ff9b::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address) : null;
    if (nat64) {
      const n = ((parseInt(nat64[1]!, 16) << 16) | parseInt(nat64[2]!, 16)) >>> 0;
      return this.permits([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));
    }
    return !this.refused.check(address, family) || this.allowed.check(address, family);
  }

  /** The hub listens on `port` (any of this machine's addresses): its own calls may not connect there. An EntraAuth
   *  connection to the hub's own metrics listener, on a network GATEHOUSE_ENTRA_ALLOW_NETWORKS allows, read every
   *  tenant's gateway ids (red team, session 18); to its API port it would call the hub through itself. */
  addOwnListener(port: number): void {
    this.ownPorts.add(port);
    const addresses = new Set<string>();
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) addresses.add(normal(a.address));
    this.ownAddresses = addresses;
  }

  /** Whether a connected socket reached one of the hub's own listeners (on a loopback or this machine's address). */
  reachesOwnListener(socket: Socket): boolean {
    if (socket.remotePort === undefined || !this.ownPorts.has(socket.remotePort)) return false;
    const address = normal(socket.remoteAddress ?? '');
    if (this.ownAddresses.has(address)) return true;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return LOOPBACK.check(address, family);
  }

  /** The message of a connection refused because it reached the hub's own listener. */
  ownListenerRefusal(host: string, port: number): string {
    return `hub -> service: ${host}:${port} is this hub's own listener (its API or metrics port), which EntraAuth connections do not call`;
  }

  /** The error for a refused address of `host`; `link` names where it was found. */
  refusal(host: string, address: string, link = 'hub -> service'): GatehouseError {
    const what = host === address ? `${address} is a` : `${host} is at ${address}, a`;
    return new GatehouseError(
      'UrlNotAllowed',
      `${link}: ${what} loopback, link-local or private address the hub does not call for EntraAuth connections (GATEHOUSE_ENTRA_ALLOW_NETWORKS names private networks it may call)`,
    );
  }

  /** Refuses a URL whose host is an address the hub does not call (an address literal never reaches `lookup`). */
  checkLiteral(url: URL, link = 'hub -> service'): void {
    const address = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(address) && !this.permits(address)) throw this.refusal(address, address, link);
  }

  /** A `lookup` for net.connect that hands back only permitted addresses, or fails with the refusal. */
  readonly lookup = (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    // lint-allow: per-call (once per new connection)
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, options.all ? [] : '');
        return;
      }
      const ok = addresses.filter((a) => this.permits(a.address));
      if (ok.length === 0) {
        const refusal = Object.assign(new Error(this.refusal(hostname, addresses[0]?.address ?? '?').message), { code: REFUSED_ADDRESS });
        callback(refusal, options.all ? [] : '');
        return;
      }
      if (options.all) callback(null, ok);
      else callback(null, ok[0]!.address, ok[0]!.family);
    });
  };
}
