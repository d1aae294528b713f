// Authenticated agent connections that have not sent HELLO yet: at most `perMember` per member and `total` on
// the hub. A valid credential therefore cannot hold more than a few idle sockets open (each for at most the
// HELLO deadline); one past either cap is closed at once with 4012.

export class PendingHellos {
  private readonly byMember = new Map<string, number>();
  private count = 0;

  constructor(private readonly perMember: number, private readonly total: number) {}

  /** Takes a place for `memberId`; false (nothing taken) when a cap is reached. */
  admit(memberId: string): boolean {
    const mine = this.byMember.get(memberId) ?? 0;
    if (mine >= this.perMember || this.count >= this.total) return false;
    this.byMember.set(memberId, mine + 1);
    this.count++;
    return true;
  }

  /** Gives the place back (once per admitted connection: HELLO arrived or the connection closed). */
  release(memberId: string): void {
    const mine = this.byMember.get(memberId) ?? 0;
    if (mine === 0) return;
    if (mine === 1) this.byMember.delete(memberId); else this.byMember.set(memberId, mine - 1);
    this.count--;
  }

  get size(): number { return this.count; }
}
