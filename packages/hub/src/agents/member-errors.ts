// The last error of each member as this hub saw it (issue 25: the console's "Last error" column): an agent's
// FAILURE of a call, an agent's CANCEL of one, an answer the hub refused, or its connection closed for an error (a protocol violation, a
// heartbeat timeout, not reading, a frame flood, a close without a close frame...). Not the caller going away, not
// throttling, not a normal stop of the agent or of the hub: the session reports only the agent's part
// (agents/session.ts). Kept in memory per hub, one entry a member, past the session's close (a member that went
// offline shows why); bounded by MAX_MEMBER_ERRORS, the oldest entry giving way.
import type { ErrorCode } from '@gatehouse/shared';

/** Members whose last error one hub keeps (each entry is a code, a message of at most MAX_ERROR_MESSAGE
 *  characters and a time: about 1.2 KB, so at most about 12 MB). */
export const MAX_MEMBER_ERRORS = 10_000;
/** A message is cut to this many characters (agent text inside it is already bounded by agentWords). */
export const MAX_ERROR_MESSAGE = 600;

export interface MemberError {
  code: ErrorCode;
  /** The hub's words (a coded error's message); agent text in it passed agentWords. Never a secret. */
  message: string;
  /** ISO 8601. */
  at: string;
}

export class MemberErrors {
  private readonly byMember = new Map<string, MemberError>();

  constructor(private readonly max = MAX_MEMBER_ERRORS) {}

  record(memberId: string, code: ErrorCode, message: string, at = new Date()): void {
    // Deleted first so the member moves to the newest end of the map's order.
    this.byMember.delete(memberId);
    this.byMember.set(memberId, {
      code,
      message: cut(message),
      at: at.toISOString(),
    });
    if (this.byMember.size > this.max) {
      const oldest = this.byMember.keys().next().value;
      if (oldest !== undefined) this.byMember.delete(oldest);
    }
  }

  get(memberId: string): MemberError | undefined {
    return this.byMember.get(memberId);
  }

  forget(memberId: string): void {
    this.byMember.delete(memberId);
  }

  get size(): number {
    return this.byMember.size;
  }
}

/** At most MAX_ERROR_MESSAGE code points (never half a surrogate pair), then "...". */
function cut(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE) return message;
  const points = Array.from(message);
  return points.length > MAX_ERROR_MESSAGE ? `${points.slice(0, MAX_ERROR_MESSAGE).join('')}...` : message;
}
