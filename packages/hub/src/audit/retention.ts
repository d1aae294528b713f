// Audit retention (GATEHOUSE_AUDIT_DAYS): records older than the retention are deleted when the hub starts and
// then periodically. Every hub of a cluster does it; deleting what another hub already deleted is harmless.
import type { Logger } from '../log.js';
import type { AuditStore } from '../store/audit-store.js';

/** Records one statement deletes: on SQLite a statement holds the hub's thread (better-sqlite3 is synchronous),
 *  so a sweep after a long stop, or after the retention was shortened, deletes in batches with the event loop
 *  served between them (docs/performance.md, "Audit retention"). */
export const AUDIT_DELETE_BATCH = 1000;

/** How often the sweep runs: a tenth of the retention, between 1 s and 1 h, so an entry outlives its retention
 *  by at most that. */
export function sweepEveryMs(retentionMs: number): number {
  return Math.min(3_600_000, Math.max(1000, Math.round(retentionMs / 10)));
}

/** Sweeps once now, then every sweepEveryMs (never two sweeps at once); `stop` ends it, waiting for a sweep under way. */
export function startAuditRetention(store: AuditStore, retentionMs: number, log: Logger, now: () => Date): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> | undefined;
  const sweep = async () => {
    const before = new Date(now().getTime() - retentionMs).toISOString();
    try {
      let n = 0;
      for (let batch = AUDIT_DELETE_BATCH; batch === AUDIT_DELETE_BATCH && !stopped; ) {
        batch = await store.deleteBefore(before, AUDIT_DELETE_BATCH);
        n += batch;
        await new Promise((r) => setImmediate(r));
      }
      if (n > 0) log.info({ deleted: n, before }, 'audit records past retention deleted');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not delete audit records past retention (tried again later)');
    }
  };
  const run = () => {
    running ??= sweep().finally(() => {
      running = undefined;
    });
  };
  run();
  const timer = setInterval(run, sweepEveryMs(retentionMs));
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
