// Audit retention (GATEHOUSE_AUDIT_DAYS): records older than the retention are deleted when the hub starts and
// then periodically. Every hub of a cluster does it; deleting what another hub already deleted is harmless.
import type { Logger } from '../log.js';
import type { AuditStore } from '../store/audit-store.js';

/** How often the sweep runs: a tenth of the retention, between 1 s and 1 h, so an entry outlives its retention
 *  by at most that. */
export function sweepEveryMs(retentionMs: number): number {
  return Math.min(3_600_000, Math.max(1000, Math.round(retentionMs / 10)));
}

/** Sweeps once now, then every sweepEveryMs; the returned function stops it. */
export function startAuditRetention(store: AuditStore, retentionMs: number, log: Logger, now: () => Date): { first: Promise<void>; stop(): void } {
  const sweep = async () => {
    const before = new Date(now().getTime() - retentionMs).toISOString();
    try {
      const n = await store.deleteBefore(before);
      if (n > 0) log.info({ deleted: n, before }, 'audit records past retention deleted');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not delete audit records past retention (tried again later)');
    }
  };
  const first = sweep();
  const timer = setInterval(() => void sweep(), sweepEveryMs(retentionMs));
  timer.unref();
  return { first, stop: () => clearInterval(timer) };
}
