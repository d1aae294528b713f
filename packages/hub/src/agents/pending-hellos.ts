// Authenticated agent connections that have not sent HELLO yet: at most `perMember` per member and `total` on
// the hub. A valid credential therefore cannot hold more than a few idle sockets open (each for at most the
// HELLO deadline). At a cap the connection that has waited longest (the member's own at the member cap, any at
// the hub's) is closed with 4012 to make room: a real agent sends HELLO at once, so one that connects while
// another tenant keeps the hub's places full still gets in, instead of being refused by the attacker's sockets.

/** One waiting connection's place. */
export interface PendingPlace { readonly memberId: string; readonly evict: () => void }

export class PendingHellos {
  /** Waiting connections, longest-waiting first (a Set keeps insertion order). */
  private readonly waiting = new Set<PendingPlace>();
  private readonly byMember = new Map<string, Set<PendingPlace>>();

  constructor(private readonly perMember: number, private readonly total: number) {}

  /** Takes a place for `memberId`, evicting the longest-waiting connection at a cap; `evict` closes this one if it
   *  is evicted in turn. Give the place back with release once HELLO arrived or the connection closed. */
  admit(memberId: string, evict: () => void): PendingPlace {
    const mine = this.byMember.get(memberId);
    if (mine && mine.size >= this.perMember) this.evict(mine.values().next().value!);
    if (this.waiting.size >= this.total) this.evict(this.waiting.values().next().value!);
    const place: PendingPlace = { memberId, evict };
    this.waiting.add(place);
    const set = this.byMember.get(memberId) ?? new Set<PendingPlace>();
    set.add(place);
    this.byMember.set(memberId, set);
    return place;
  }

  /** Gives the place back (a no-op for a place already given back or evicted). */
  release(place: PendingPlace): void {
    if (!this.waiting.delete(place)) return;
    const set = this.byMember.get(place.memberId);
    set?.delete(place);
    if (set?.size === 0) this.byMember.delete(place.memberId);
  }

  private evict(place: PendingPlace): void {
    this.release(place);
    place.evict();
  }

  get size(): number { return this.waiting.size; }
}
