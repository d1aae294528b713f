// Failed agent authentications (the WebSocket upgrade, the agent routes' credentials and registration keys):
// limited per source address and per member (or gateway) id from that address, checked before any database
// lookup, and logged as one summary line per interval instead of a line per failure. A storm of bad credentials
// therefore costs the hub a map lookup per attempt, and its log a line every LOG_INTERVAL_MS.
// The member count is kept per address too: keyed by the member id alone, anyone who learnt a member id could
// keep that member's real agent out (10 bad attempts a minute from anywhere); the secret itself (256 bits) needs
// no limit to stay unguessable, the limits only bound the work and the log lines.
// The limits never refuse a valid credential: while an address or member id is over its limit, a credential whose
// hash matches the one this hub knows for its member (agents/known-credentials.ts: loaded from the store at start,
// and reloaded, at most once per RELOAD_INTERVAL_MS hub-wide, when a limited request names a member or gateway it
// does not know) still goes on to the real check. Behind a reverse proxy or NAT every agent would otherwise share
// one address, and 100 bad attempts from anyone would lock every agent out (red team B3; after a restart, or for a
// member made through another hub, red team R2).
// A flood while limited thus costs a map lookup per attempt (a SHA-256 for one naming a known member), plus at most
// one store read per RELOAD_INTERVAL_MS however many attempts name unknown members (or stale registration keys).
import { GatehouseError } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { FailureWindow, type FailureLimit } from './failure-window.js';
import { type AgentSecretLoader, KnownCredentials, MAX_KNOWN_CREDENTIALS } from './known-credentials.js';

/** How often the summary of refused agent authentications is logged (when there were any). */
export const LOG_INTERVAL_MS = 10_000;
/** Most keys each window tracks (addresses; member and gateway ids with their address), and most distinct
 *  addresses a summary counts. */
export const MAX_TRACKED_KEYS = 10_000;

export interface AgentAuthLimits {
  perAddress: FailureLimit;
  perMember: FailureLimit;
}

/** Connections one member may open in a minute, authenticated or not. A real agent reconnects with backoff (0, 1,
 *  2, 5, 10, 30 s); a credential used to connect and drop in a loop (about 1,100 times a second in a probe) cost
 *  the hub three log lines, a database write and a presence update each time. Past it: 429 before the upgrade. */
export const CONNECTS_PER_MEMBER: FailureLimit = { limit: 60, periodMs: 60_000 };

/** Where an agent authentication happened (for the summary line). */
export type AuthPlace = 'upgrade' | 'agent route' | 'registration';

export class AgentAuthGuard {
  private readonly byAddress: FailureWindow;
  private readonly byMember: FailureWindow;
  private readonly connects: FailureWindow;
  /** The credential hashes this hub knows: what lets a valid credential through a limit. */
  readonly known: KnownCredentials;
  private failed = 0;
  private limited = 0;
  private vouched = 0;
  private readonly addresses = new Set<string>();
  private readonly places = new Set<AuthPlace>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    limits: AgentAuthLimits,
    private readonly log: Logger,
    now: () => number = Date.now,
    loader?: AgentSecretLoader,
  ) {
    this.known = new KnownCredentials(MAX_KNOWN_CREDENTIALS, loader, log, now);
    this.byAddress = new FailureWindow(limits.perAddress, MAX_TRACKED_KEYS, now);
    this.byMember = new FailureWindow(limits.perMember, MAX_TRACKED_KEYS, now);
    this.connects = new FailureWindow(CONNECTS_PER_MEMBER, MAX_TRACKED_KEYS, now);
    this.timer = setInterval(() => this.flush(), LOG_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Before any lookup: a coded 429 (with Retry-After) when this address, or this member id from this address,
   * has failed too often lately, else undefined. `memberKey`: the member id the credential names, or `gateway:ID` for a registration
   * key, when the request names one. `credential`: the agent credential (or registration key) presented; one whose
   * hash matches its member's known hash is never refused here (it goes on to the real check). While limited, a
   * `memberKey` this hub does not know (or a gateway whose known key is not the one presented) waits for a reload
   * from the store (shared, at most one per RELOAD_INTERVAL_MS hub-wide) or, when one ran lately, is refused with
   * a Retry-After no later than the next.
   */
  async refusal(address: string | undefined, memberKey: string | undefined, credential?: string): Promise<GatehouseError | undefined> {
    let waitMs = Math.max(this.byAddress.waitMs(address ?? '?'), memberKey ? this.byMember.waitMs(`${memberKey}@${address ?? '?'}`) : 0);
    if (waitMs === 0) return undefined;
    if (memberKey && credential !== undefined) {
      if (this.known.vouches(memberKey, credential)) {
        this.vouched++;
        return undefined;
      }
      // A member's credential never changes, so a reload can only find a member not known yet; a gateway's newest
      // registration key may have been issued through another hub since.
      if (!this.known.knows(memberKey) || memberKey.startsWith('gateway:')) {
        await this.known.reloadForUnknown();
        if (this.known.vouches(memberKey, credential)) {
          this.vouched++;
          return undefined;
        }
        // Back when the next reload may run, which will find what was made since.
        waitMs = Math.min(waitMs, this.known.msUntilReload());
      }
    }
    this.limited++;
    this.note(address);
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new GatehouseError(
      'TooManyRequests',
      `agent -> hub: too many failed agent authentications from this address (for this member or overall); try again in ${seconds} seconds`,
      { 'retry-after': String(seconds) },
    );
  }

  /** After the credential checked out: a coded 429 when the member connected too often lately (counted in the
   *  summary line, never logged one by one), else undefined and the connection is counted. */
  connectRefusal(memberId: string, address: string | undefined): GatehouseError | undefined {
    const waitMs = this.connects.waitMs(memberId);
    if (waitMs === 0) {
      this.connects.add(memberId);
      return undefined;
    }
    this.limited++;
    this.note(address);
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new GatehouseError(
      'TooManyRequests',
      `agent -> hub: this member connected ${CONNECTS_PER_MEMBER.limit} times in the last ${CONNECTS_PER_MEMBER.periodMs / 1000} s, the most the hub takes; try again in ${seconds} seconds`,
      { 'retry-after': String(seconds) },
    );
  }

  /** Counts one failed authentication. */
  failure(address: string | undefined, memberKey: string | undefined, place: AuthPlace): void {
    this.failed++;
    this.places.add(place);
    this.note(address);
    this.byAddress.add(address ?? '?');
    if (memberKey) this.byMember.add(`${memberKey}@${address ?? '?'}`);
  }

  /** Keys held (tests and metrics): bounded by MAX_TRACKED_KEYS each. */
  get trackedKeys(): { addresses: number; members: number } {
    return { addresses: this.byAddress.size, members: this.byMember.size };
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }

  private note(address: string | undefined): void {
    if (this.addresses.size < MAX_TRACKED_KEYS) this.addresses.add(address ?? '?');
  }

  /** One line for everything refused since the last one (addresses named only by count: never a list). */
  private flush(): void {
    if (this.failed === 0 && this.limited === 0) return;
    this.log.warn(
      {
        failed: this.failed,
        limited: this.limited,
        validWhileLimited: this.vouched,
        addresses: this.addresses.size,
        where: [...this.places],
        intervalMs: LOG_INTERVAL_MS,
      },
      'agent authentications refused',
    );
    this.failed = 0;
    this.limited = 0;
    this.vouched = 0;
    this.addresses.clear();
    this.places.clear();
  }
}
