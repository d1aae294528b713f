// A tunnel to every hub of the cluster (issue 23). Hubs that speak protocol version 4 send HUBS: their own id and
// the live hubs with the URL agents dial them at. The agent opens a tunnel to each listed hub that none of its
// tunnels is on, and closes such a tunnel LISTED_GRACE_MS after its hub left the list. The --hub tunnels stay as
// they are. A load-balanced --hub address can land on a hub a listed tunnel is on; the hub then replaces the older
// session of this member (close 4007), and a listed tunnel never redials a hub another tunnel is on, so the agent
// settles with one tunnel per hub.
import type { HubAddress, HubsMessage } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import type { Tunnel } from './tunnel.js';

/** A listed tunnel is closed this long after its hub left the list (it may come back: a Redis blip, a restart). */
export const LISTED_GRACE_MS = 5_000;

interface Listed {
  tunnel: Tunnel;
  leaving?: NodeJS.Timeout;
}

export class HubMesh {
  private readonly listed = new Map<string, Listed>();
  private hubs = new Map<string, string>();
  private closed = false;

  /** `configured`: the --hub tunnels. `open`: makes (not starts) a tunnel to a listed hub. */
  constructor(
    private readonly configured: readonly Tunnel[],
    private readonly open: (hub: HubAddress) => Tunnel,
    private readonly log: Logger,
  ) {}

  /** Every tunnel: the --hub ones, then the listed ones. */
  all(): Tunnel[] {
    return [...this.configured, ...[...this.listed.values()].map((l) => l.tunnel)];
  }

  /** HUBS from any hub: every hub reads the same list from Redis, so the latest one speaks. */
  onHubs(msg: HubsMessage): void {
    const https = this.configured.some((t) => t.hubUrl.startsWith('https:'));
    // Never a weaker scheme than the --hub addresses: the agent credential goes to every hub it dials.
    const usable = msg.hubs.filter((h) => !https || h.url.startsWith('https:'));
    if (usable.length < msg.hubs.length)
      this.log.warn({ refused: msg.hubs.length - usable.length }, 'listed hubs with http:// URLs not dialled: the --hub addresses use https');
    this.hubs = new Map(usable.map((h) => [h.id, h.url]));
    this.settle();
  }

  /** Whether `t` may dial now: a listed tunnel does not while another tunnel is on its hub (it then stops for good). */
  mayDial(t: Tunnel): boolean {
    const id = t.listedHubId;
    if (id === undefined) return true;
    if (this.closed) return false;
    const holder = this.holder(id, t);
    if (holder === undefined) return true;
    this.log.info({ hub: t.hubUrl, via: holder.hubUrl }, 'another tunnel is on this hub: not dialling it again');
    if (this.listed.get(id)?.tunnel === t) this.listed.delete(id);
    return false;
  }

  /** A tunnel changed state: one that stopped may leave a hub without a tunnel. A listed tunnel that stopped for
   *  good (the hub refused the credential: `fatal`) keeps its place, so that hub is not dialled again and again;
   *  it goes when its hub leaves the list. */
  onState(t: Tunnel): void {
    if (t.state !== 'stopped' || this.closed || t.fatal) return;
    this.settle();
  }

  /** Stops following the list (drain): the tunnels themselves are drained by the agent. */
  close(): void {
    this.closed = true;
    for (const l of this.listed.values()) if (l.leaving) clearTimeout(l.leaving);
  }

  private holder(hubId: string, except: Tunnel): Tunnel | undefined {
    return this.all().find((x) => x !== except && x.state === 'connected' && x.hubId === hubId);
  }

  private settle(): void {
    if (this.closed) return;
    for (const [id, url] of this.hubs) {
      const l = this.listed.get(id);
      if (l) {
        if (l.leaving) {
          clearTimeout(l.leaving);
          l.leaving = undefined;
        }
        continue;
      }
      if (this.all().some((x) => x.state === 'connected' && x.hubId === id)) continue;
      const tunnel = this.open({ id, url });
      this.listed.set(id, { tunnel });
      this.log.info({ hub: url, hubId: id }, 'opening a tunnel to a listed hub');
      tunnel.start();
    }
    for (const [id, l] of this.listed) {
      if (this.hubs.has(id) || l.leaving) continue;
      l.leaving = setTimeout(() => {
        if (this.listed.get(id) !== l) return;
        this.listed.delete(id);
        this.log.info({ hub: l.tunnel.hubUrl, hubId: id }, 'closing the tunnel to a hub no longer listed');
        l.tunnel.stop();
      }, LISTED_GRACE_MS);
      l.leaving.unref();
    }
  }
}
