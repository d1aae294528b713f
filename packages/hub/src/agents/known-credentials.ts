// The credential hashes of members, and the newest registration key of each gateway, that this hub knows, kept so
// that the agent authentication limiter (agents/auth-guard.ts) can tell a valid credential from a guess without a
// lookup: while an address or a member id is over its failure limit, a credential whose hash matches the member's
// known one still goes on to the real check (the store stays the judge: a member deleted since is refused there),
// anything else gets 429 as before.
// Where they come from: the store at the hub's start (the most recently seen members first, and every gateway's
// newest unused unexpired registration key, under `gateway:ID`), every lookup of a member (a guess at a real member
// id loads that member's hash too, so a member-id lockout attempt never keeps its real agent out), each
// registration and each registration key issued on this hub, and a reload from the store when a limited request
// names a member this hub does not know (one made through another hub of the cluster, or forgotten) or a
// registration key other than the gateway's newest it knows (a newer one issued through another hub).
// What a flood costs: a request whose key is known costs a map lookup (and a SHA-256 of what it presents); one whose
// key is unknown shares the reload in progress, or starts one if none ran in the last RELOAD_INTERVAL_MS, else is
// refused at once; so however many attempts, random member ids or not, the hub reads the store at most once per
// RELOAD_INTERVAL_MS for them. A reload reads only what is new since the last load (members created and keys issued
// since it started, less CLOCK_SKEW_MS for the clocks of other hubs): two indexed queries of a few rows, where the
// full load at the start reads up to MAX_KNOWN_CREDENTIALS members (100,000 in SQLite: about 0.3-0.9 s, measured).
// Bounded (MAX_KNOWN_CREDENTIALS), the least recently seen dropped first.
import { timingSafeEqual } from 'node:crypto';
import { secretHash } from '../auth/secret-hash.js';
import type { Logger } from '../log.js';
import type { AgentSecretHashes } from '../store/store.js';

/** Most members and gateways (registration keys) known at once. An entry (a member id and a SHA-256 in hex) holds
 *  about 180 bytes of heap, so a full map about 18 MB. */
export const MAX_KNOWN_CREDENTIALS = 100_000;
/** A reload from the store for a limited request naming an unknown member or gateway starts at most this often
 *  (hub-wide); the 429 of such a request says to retry no later than when the next one may start. */
export const RELOAD_INTERVAL_MS = 5_000;
/** How long the hub's start waits for the first load before it listens anyway (the load then goes on meanwhile). */
export const START_LOAD_WAIT_MS = 5_000;
/** A reload reads what was created from this long before the last load started: the clocks of the hubs that
 *  stamped the members' creation may be this far behind this hub's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** Reads the hashes: everything (up to `limit`), or what was created or issued since `sinceMs` (this hub's clock). */
export type AgentSecretLoader = (limit: number, sinceMs: number | undefined) => Promise<AgentSecretHashes>;

export class KnownCredentials {
  /** key (member id, or `gateway:ID`) -> SHA-256 hex. Insertion order is recency: the first is dropped first. */
  private readonly hashes = new Map<string, string>();
  private loading: Promise<void> | undefined;
  private nextReloadAt = 0;
  /** When the last load that succeeded started (undefined: none yet, the next reads everything). */
  private loadedAt: number | undefined;

  constructor(
    private readonly maxEntries: number,
    private readonly loader?: AgentSecretLoader,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Remembers the hash the store holds for this member, or `gateway:ID`'s newest registration key, as the most
   *  recently seen entry. */
  remember(key: string, hash: string): void {
    this.hashes.delete(key);
    if (this.hashes.size >= this.maxEntries) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(key, hash);
  }

  /** Forgets a member the store no longer has. */
  forget(key: string): void {
    this.hashes.delete(key);
  }

  /** Whether this hub knows a hash for the member (or `gateway:ID`). */
  knows(key: string): boolean {
    return this.hashes.has(key);
  }

  /** Whether `secret` hashes to the known hash of `key` (false when this hub knows none). */
  vouches(key: string, secret: string): boolean {
    const known = this.hashes.get(key);
    if (known === undefined) return false;
    const a = Buffer.from(secretHash(secret), 'latin1');
    const b = Buffer.from(known, 'latin1');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  get size(): number {
    return this.hashes.size;
  }

  /** The first load, at the hub's start: waits for it at most `waitMs` (then it goes on while the hub serves). */
  async loadAtStart(waitMs = START_LOAD_WAIT_MS): Promise<void> {
    if (!this.loader) return;
    // Not counted as a reload: a member made through another hub just before this one listened is read at once.
    const load = this.load('start');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), waitMs);
    });
    if ((await Promise.race([load, late])) === 'late') this.log?.warn({ waitedMs: waitMs }, 'agent credentials still loading: the hub listens meanwhile');
    clearTimeout(timer);
  }

  /** For a limited request whose member or gateway is not known: waits for the reload in progress, or starts one
   *  when none started in the last RELOAD_INTERVAL_MS, else returns at once (the caller refuses it). */
  async reloadForUnknown(): Promise<void> {
    if (this.loading) return this.loading;
    if (!this.loader || this.now() < this.nextReloadAt) return;
    this.nextReloadAt = this.now() + RELOAD_INTERVAL_MS;
    return this.load('unknown credential while limited');
  }

  /** Milliseconds until the next reload may start (0: now). */
  msUntilReload(): number {
    return Math.max(0, this.nextReloadAt - this.now());
  }

  private load(why: string): Promise<void> {
    const started = this.now();
    const since = this.loadedAt === undefined ? undefined : this.loadedAt - CLOCK_SKEW_MS;
    this.loading = this.loader!(this.maxEntries, since)
      .then((found) => {
        this.loadedAt = started;
        // Least recent first, so that the most recently seen members end last (dropped last). Registration keys
        // before members: a gateway's key is needed once, its members' credentials at every reconnect.
        for (let i = found.registrationKeys.length - 1; i >= 0; i--) {
          const k = found.registrationKeys[i]!;
          this.remember(`gateway:${k.gatewayId}`, k.keyHash);
        }
        for (let i = found.members.length - 1; i >= 0; i--) {
          const m = found.members[i]!;
          this.remember(m.id, m.credentialHash);
        }
        this.log?.info(
          {
            why,
            all: since === undefined,
            members: found.members.length,
            registrationKeys: found.registrationKeys.length,
            known: this.hashes.size,
            ms: this.now() - started,
          },
          'agent credentials loaded',
        );
      })
      .catch((err: unknown) => {
        this.log?.warn({ why, err: (err as Error).message }, 'could not load the agent credentials; valid agents may get 429 while their address is limited');
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
