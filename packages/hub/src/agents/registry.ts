// Which agent sessions are connected, per gateway, and which one takes the next call (routing).
import type { AgentSession } from './session.js';

export class AgentRegistry {
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
    if (rest.length) this.byGateway.set(s.member.gatewayId, rest); else this.byGateway.delete(s.member.gatewayId);
  }

  sessions(gatewayId: string): readonly AgentSession[] { return this.byGateway.get(gatewayId) ?? []; }

  member(memberId: string, gatewayId: string): AgentSession | undefined {
    return this.sessions(gatewayId).find((s) => s.member.memberId === memberId && s.isOpen);
  }

  /** Routing 'primary': the first available member in connection order (failover when it goes). */
  pick(gatewayId: string, routing: 'primary' | 'distribute'): AgentSession | undefined {
    const ok = this.sessions(gatewayId).filter((s) => s.isAvailable);
    if (ok.length === 0) return undefined;
    if (routing === 'distribute') return ok.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    return ok[0];
  }

  all(): AgentSession[] { return [...this.byGateway.values()].flat(); }
}
