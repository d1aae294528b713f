// The audit log in SQLite (store/audit-store.ts), on the hub store's own database handle.
import type Database from 'better-sqlite3';
import { AUDIT_COLUMNS, auditFrom, auditValues, type AuditStore } from './audit-store.js';

export function sqliteAuditStore(db: Database.Database): AuditStore {
  const insert = db.prepare(`INSERT INTO audit_log (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const byGateway = db.prepare('SELECT * FROM audit_log WHERE gateway_id = ? AND id < ? ORDER BY id DESC LIMIT ?');
  const byConnection = db.prepare('SELECT * FROM audit_log WHERE connection_id = ? AND id < ? ORDER BY id DESC LIMIT ?');
  const deleteBefore = db.prepare('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < ? LIMIT ?)');
  // Every id is 29 digits: this one sorts after all of them.
  const END = ':';
  return {
    async insert(r) {
      insert.run(...auditValues(r));
    },
    async page(scope, before, limit) {
      const rows = 'gatewayId' in scope ? byGateway.all(scope.gatewayId, before ?? END, limit) : byConnection.all(scope.connectionId, before ?? END, limit);
      return (rows as Array<Record<string, unknown>>).map(auditFrom);
    },
    async deleteBefore(time, limit) {
      return deleteBefore.run(time, limit).changes;
    },
  };
}
