// Connections open per client address (GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS): one address holding thousands of
// idle kept-alive connections used up the hub's file descriptors, and every other caller's new connection was
// reset (red team, session 17, F6). Counted from the connection's start to its close, or to its upgrade: an agent's
// WebSocket tunnel is a member's, bounded per tenant on the hub instead (agents/tunnels-per-tenant.ts,
// GATEHOUSE_MAX_TUNNELS_PER_TENANT), and a site's agents behind one NAT may be many.
// IPv6 clients are counted per /64 (one host usually holds a whole /64). Reverse proxies listed in
// GATEHOUSE_TRUSTED_PROXIES are not counted: every caller behind one shares its address.
import { type BlockList, type Socket, isIPv6 } from 'node:net';
import { randomUUID } from 'node:crypto';
import { GatehouseError } from '@gatehouse/shared';
import { plainAddress, trusts } from './client-address.js';
import { writeErrorToSocket } from './respond.js';

/** An address as counted: IPv4 (also when IPv4-mapped), or an IPv6 address's /64. */
export function addressKey(raw: string): string {
  const address = plainAddress(raw) ?? raw;
  if (!isIPv6(address)) return address;
  // Expand "::" so the first four groups are the /64.
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Which count each counted socket is in, so the agent upgrade can let a tunnel go (tunnelled) without a handle. */
const owners = new WeakMap<object, ConnectionsPerAddress>();

/** An agent's WebSocket was accepted on `socket`: it no longer counts toward its address. Only an accepted upgrade
 *  is let go: a refused one (401, 429, a wrong path) stays counted until it closes (red team, session 17: refused
 *  upgrades were let go at once and held the hub's descriptors past the cap). */
export function tunnelled(socket: object): void {
  owners.get(socket)?.release(socket as Socket);
}

export class ConnectionsPerAddress {
  private readonly open = new Map<string, number>();
  private readonly counted = new WeakMap<Socket, string>();

  /** `max`: 0 turns the cap off. */
  constructor(
    private readonly max: number,
    private readonly proxies: BlockList,
  ) {}

  /** A new connection: counted, or answered 429 and closed when its address holds `max` already. */
  admit(socket: Socket): void {
    const peer = socket.remoteAddress;
    if (this.max === 0 || peer === undefined) return;
    if (this.proxies.rules.length > 0 && trusts(this.proxies, plainAddress(peer) ?? peer)) return;
    const key = addressKey(peer);
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) {
      writeErrorToSocket(
        socket,
        new GatehouseError(
          'TooManyRequests',
          `caller -> hub: ${this.max} connections are open from this address, the most the hub takes (GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS); reuse them or close some`,
          { 'retry-after': '1' },
        ),
        randomUUID(),
      );
      return;
    }
    this.open.set(key, n + 1);
    this.counted.set(socket, key);
    owners.set(socket, this);
    socket.once('close', () => this.release(socket));
  }

  /** No longer counted (closed, or upgraded to an agent's tunnel). */
  release(socket: Socket): void {
    const key = this.counted.get(socket);
    if (key === undefined) return;
    this.counted.delete(socket);
    owners.delete(socket);
    const n = (this.open.get(key) ?? 1) - 1;
    if (n <= 0) this.open.delete(key);
    else this.open.set(key, n);
  }

  /** Addresses with a connection open (tests, metrics): at most the number of open connections. */
  get addresses(): number {
    return this.open.size;
  }
}
