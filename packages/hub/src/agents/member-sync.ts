// Member changes reach the sessions of every hub. PATCH or DELETE …/members/{id} acts at once on the sessions
// of the hub that takes it, but with several hubs the member may be connected to another: every few seconds
// each hub compares its sessions with the stored members (one read, past any cache) and applies what changed.
import { CloseCode } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';
import type { Presence } from '../cluster/presence.js';
import type { AgentRegistry } from './registry.js';

/** How often a hub checks its sessions against the stored members. */
export const MEMBER_SYNC_MS = 5000;

export interface MemberSyncDeps {
  store: Store;
  registry: AgentRegistry;
  presence: Presence;
  log: Logger;
}

/** Starts the periodic check; returns the function that stops it. */
export function syncMembers(deps: MemberSyncDeps, intervalMs = MEMBER_SYNC_MS): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    syncOnce(deps)
      .catch((err: unknown) => deps.log.warn({ err: (err as Error).message }, 'member check failed; sessions left as they are'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function syncOnce(deps: MemberSyncDeps): Promise<void> {
  // The sessions as they were before the read: one that opens meanwhile has a member the read already sees.
  const sessions = deps.registry
    .gatewayIds()
    .flatMap((g) => deps.registry.sessions(g))
    .filter((s) => s.isOpen);
  if (sessions.length === 0) return;
  // One read for every member connected here, whatever the number of gateways.
  const members = new Map((await deps.store.getMembers(sessions.map((s) => s.member.memberId))).map((m) => [m.id, m]));
  for (const s of sessions) {
    const gateway = s.member.gatewayId;
    const m = members.get(s.member.memberId);
    if (!m) {
      deps.log.info({ gateway, member: s.member.memberId }, 'member removed (through another hub): closing its session');
      s.close(CloseCode.CredentialRevoked, 'member removed');
    } else if (m.enabled !== s.enabled) {
      s.enabled = m.enabled;
      deps.presence.announce(s);
      deps.log.info({ gateway, member: m.id, enabled: m.enabled }, 'member enabled changed (through another hub)');
    }
  }
}
