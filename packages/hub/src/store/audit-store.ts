// Where the audit log is kept (audit/audit.ts writes it): one row per change, in the hub's database beside what
// it describes. Kept apart from store.ts so the audit's reads and writes are one small interface.

/** Who made a change: a caller (user or service principal, by tenant and object id) or a gateway member, which
 *  authenticates with its own credential on the agent routes (registration, key rotation). */
export type AuditActor = { type: 'User' | 'ServicePrincipal'; tid: string; oid: string } | { type: 'Agent'; memberId: string };

/** A detail's value: what changed, never a secret (audit/audit.ts). */
export type AuditDetail = string | number | boolean | null | readonly string[];

export interface AuditRecord {
  /** Sortable: the time in ms (15 digits), a per-process counter (6) and a random part (8), all digits, so the
   *  newest-first order is the same under any collation, on SQLite and PostgreSQL alike. */
  id: string;
  /** ISO 8601, UTC. */
  time: string;
  actor: AuditActor;
  action: string;
  target: { type: string; id: string };
  /** The gateway's audit list shows it (a change to the gateway, its members and keys, or a connection on it). */
  gatewayId: string | null;
  /** The connection's audit list shows it. */
  connectionId: string | null;
  details: Readonly<Record<string, AuditDetail>>;
}

/** One audit list: a gateway's or a connection's. */
export type AuditScope = { gatewayId: string } | { connectionId: string };

export interface AuditStore {
  insert(r: AuditRecord): Promise<void>;
  /** Newest first: up to `limit` records of the scope with an id below `before` (all, when undefined). */
  page(scope: AuditScope, before: string | undefined, limit: number): Promise<AuditRecord[]>;
  /** Deletes up to `limit` of the records older than `time` (ISO 8601); how many went. */
  deleteBefore(time: string, limit: number): Promise<number>;
}

type Row = Record<string, unknown>;

/** A record as its row's values, in the column order of AUDIT_COLUMNS. */
export function auditValues(r: AuditRecord): unknown[] {
  const a = r.actor;
  return [
    r.id,
    r.time,
    a.type,
    a.type === 'Agent' ? null : a.tid,
    a.type === 'Agent' ? null : a.oid,
    a.type === 'Agent' ? a.memberId : null,
    r.action,
    r.target.type,
    r.target.id,
    r.gatewayId,
    r.connectionId,
    JSON.stringify(r.details),
  ];
}

export const AUDIT_COLUMNS = 'id, time, actor_type, actor_tid, actor_oid, actor_member, action, target_type, target_id, gateway_id, connection_id, details';

export function auditFrom(r: Row): AuditRecord {
  const type = r.actor_type as string;
  const actor: AuditActor =
    type === 'Agent'
      ? { type, memberId: r.actor_member as string }
      : { type: type as 'User' | 'ServicePrincipal', tid: r.actor_tid as string, oid: r.actor_oid as string };
  return {
    id: r.id as string,
    time: r.time as string,
    actor,
    action: r.action as string,
    target: { type: r.target_type as string, id: r.target_id as string },
    gatewayId: (r.gateway_id as string | null) ?? null,
    connectionId: (r.connection_id as string | null) ?? null,
    details: JSON.parse(r.details as string) as AuditRecord['details'],
  };
}
