// Which agent sessions are connected, per gateway, and which one takes the next call (routing).
import { MemberErrors } from './member-errors.js';
import type { AgentSession } from './session.js';

export class AgentRegistry {
  /** Each member's last error as this hub saw it, kept past its sessions (the member view's `lastError`). */
  readonly lastErrors = new MemberErrors();
  private readonly byGateway = new Map<string, AgentSession[]>();

  add(s: AgentSession): AgentSession | undefined {
    const list = this.byGateway.get(s.member.gatewayId) ?? [];
    const previous = list.find((x) => x.member.memberId === s.member.memberId);
    this.byGateway.set(s.member.gatewayId, [...list.filter((x) => x !== previous), s]);
    return previous;
  }

  remove(s: AgentSession): void {
    const list = this.byGateway.get(s.member.gatewayId);
    if (!list) return;
    const rest = list.filter((x) => x !== s);
    if (rest.length) this.byGateway.set(s.member.gatewayId, rest);
    else this.byGateway.delete(s.member.gatewayId);
  }

  sessions(gatewayId: string): readonly AgentSession[] {
    return this.byGateway.get(gatewayId) ?? [];
  }

  /** The gateways with at least one session on this hub. */
  gatewayIds(): string[] {
    return [...this.byGateway.keys()];
  }

  private turn = 0;

  /**
   * 'primary': the first available member in registration order (the next one while it is away).
   * 'distribute': the least busy available member, taking turns among equals. `exclude` skips members a
   * call has already failed on. A member carrying its most calls (GATEHOUSE_AGENT_MAX_STREAMS), or whose link is
   * backed up (AgentSession.isBackedUp), is passed over while another has room; when none has, one is still
   * returned and refuses the call (503).
   */
  pick(gatewayId: string, routing: 'primary' | 'distribute', exclude: ReadonlySet<string> = new Set()): AgentSession | undefined {
    const byAge = (a: AgentSession, b: AgentSession) =>
      a.member.createdAt.localeCompare(b.member.createdAt) || a.member.memberId.localeCompare(b.member.memberId);
    const available = this.sessions(gatewayId)
      .filter((s) => s.isAvailable && !exclude.has(s.member.memberId))
      .sort(byAge);
    if (available.length === 0) return undefined;
    const roomy = available.filter((s) => !s.isFull && !s.isBackedUp);
    const ok = roomy.length ? roomy : available;
    if (routing === 'primary') return ok[0];
    const least = Math.min(...ok.map((s) => s.inFlight));
    const idle = ok.filter((s) => s.inFlight === least);
    this.turn = (this.turn + 1) % 1_000_000;
    return idle[this.turn % idle.length];
  }

  all(): AgentSession[] {
    return [...this.byGateway.values()].flat();
  }

  /** Calls open on this hub's sessions, by gateway (every gateway with a session, 0 included). */
  streamsOpen(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [gatewayId, list] of this.byGateway)
      out.set(
        gatewayId,
        list.reduce((n, s) => n + s.inFlight, 0),
      );
    return out;
  }
}
