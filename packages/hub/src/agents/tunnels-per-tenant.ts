// Agent tunnels open per tenant on this hub (GATEHOUSE_MAX_TUNNELS_PER_TENANT). A tunnel leaves the per-address
// count once upgraded (http/address-connections.ts tunnelled(): a site's agents behind one NAT may be many), and a
// tenant may have 10 members on each of 2,000 gateways: one tenant held ~1,000 tunnels from one address, the hub ran
// out of file descriptors and every other tenant's new connection was reset (red team, session 18, P21). A tunnel
// is counted for its gateway owner's tenant from the moment its upgrade is let through (before the WebSocket is
// made, so connections still waiting for HELLO count) until its socket closes. Over the cap the upgrade is
// refused with a coded 429 and a Retry-After, before the WebSocket is made.
import type { Duplex } from 'node:stream';

/** The Retry-After of a refusal, in seconds: a tenant at its cap rarely frees a place soon; the agent's longest
 *  backoff step. */
export const TUNNEL_RETRY_AFTER_S = 30;

export class TunnelsPerTenant {
  private readonly open = new Map<string, number>();

  /** `max`: 0 turns the cap off. */
  constructor(readonly max: number) {}

  /** Counts `socket` for `tenant` until it closes; false (not counted) when the tenant holds `max` already. */
  take(tenant: string, socket: Duplex): boolean {
    if (this.max === 0) return true;
    const n = this.open.get(tenant) ?? 0;
    if (n >= this.max) return false;
    // A socket closed during the lookup emits no further 'close': it is not counted (it holds no descriptor).
    if (socket.destroyed) return true;
    this.open.set(tenant, n + 1);
    socket.once('close', () => {
      const left = (this.open.get(tenant) ?? 1) - 1;
      if (left <= 0) this.open.delete(tenant);
      else this.open.set(tenant, left);
    });
    return true;
  }

  /** Tunnels `tenant` holds open on this hub (tests, metrics). */
  count(tenant: string): number {
    return this.open.get(tenant) ?? 0;
  }
}
