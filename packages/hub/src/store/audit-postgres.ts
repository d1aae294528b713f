// The audit log in PostgreSQL (store/audit-store.ts), through the hub store's pool.
import { AUDIT_COLUMNS, auditFrom, auditValues, type AuditStore } from './audit-store.js';

type Query = (text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>;

export function postgresAuditStore(q: Query): AuditStore {
  return {
    async insert(r) {
      await q(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`, auditValues(r));
    },
    async page(scope, before, limit) {
      const [column, id] = 'gatewayId' in scope ? ['gateway_id', scope.gatewayId] : ['connection_id', scope.connectionId];
      const rows = before
        ? await q(`SELECT * FROM audit_log WHERE ${column} = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, [id, before, limit])
        : await q(`SELECT * FROM audit_log WHERE ${column} = $1 ORDER BY id DESC LIMIT $2`, [id, limit]);
      return rows.map(auditFrom);
    },
    async deleteBefore(time, limit) {
      const sql = 'WITH d AS (DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < $1 LIMIT $2) RETURNING 1) SELECT count(*) AS n FROM d';
      return Number((await q(sql, [time, limit]))[0]?.n ?? 0);
    },
  };
}
