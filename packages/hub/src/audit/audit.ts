// The audit log (SPEC section 6): every change to gateways, members, registration keys, routing, the gateway key,
// roles, connections and shares, recorded with time, actor, action, target and details, in the hub's database
// (store/audit-store.ts) and as one log line (`msg: "audit"`). Never a secret: details are chosen by the route
// that makes the change (field names and non-secret values), and record() drops the value of a detail named like a secret.
import { randomInt } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Caller } from '../auth/caller-auth.js';
import type { AuditActor, AuditDetail, AuditRecord, AuditStore } from '../store/audit-store.js';

export type { AuditActor, AuditDetail, AuditRecord } from '../store/audit-store.js';

/** Every action the hub records; docs/operations.md ("Audit log") lists them. Stable: scripts may filter on them. */
export type AuditAction =
  | 'gateway.create'
  | 'gateway.update'
  | 'gateway.delete'
  | 'gateway.keyRotate'
  | 'registrationKey.create'
  | 'member.register'
  | 'member.enable'
  | 'member.disable'
  | 'member.delete'
  | 'connection.create'
  | 'connection.update'
  | 'connection.delete'
  | 'role.set'
  | 'role.delete'
  | 'share.set'
  | 'share.delete';

export type AuditTargetType = 'gateway' | 'member' | 'connection' | 'role' | 'share';

export interface AuditEntry {
  actor: AuditActor;
  action: AuditAction;
  target: { type: AuditTargetType; id: string };
  /** The gateway whose audit list shows it (set for a connection on a gateway too). */
  gatewayId?: string | null;
  /** The connection whose audit list shows it. */
  connectionId?: string | null;
  /** What changed: field names and values that are not secret. */
  details?: Record<string, AuditDetail>;
}

/** Detail names a secret could hide behind: a route that passed one is a bug, refused loudly (never stored). */
const SECRET_NAME = /password|secret|token|credential|registrationkey|sealed|privatekey|authorization/i;

/** The caller as an audit actor: a service principal when its token is app-only (`kind: 'app'`), else a user. */
export function callerActor(caller: Caller): AuditActor {
  const kind = (caller as Caller & { kind?: string }).kind;
  return { type: kind === 'app' ? 'ServicePrincipal' : 'User', tid: caller.tid, oid: caller.oid };
}

export interface Audit {
  /** Records a change that has been made: one log line on `log` (the request's, so it carries its request id),
   *  then the row. A row that cannot be stored is logged as an error; the change itself stands. */
  record(entry: AuditEntry, log?: Logger): Promise<void>;
}

export function createAudit(store: AuditStore, log: Logger, now: () => Date): Audit {
  let lastMs = 0;
  let counter = 0;
  /** Sortable ids (store/audit-store.ts): never decreasing within this process, even if the clock steps back. */
  const nextId = (ms: number): string => {
    if (ms > lastMs) {
      lastMs = ms;
      counter = 0;
    } else counter++;
    return `${String(lastMs).padStart(15, '0')}${String(counter % 1_000_000).padStart(6, '0')}${String(randomInt(100_000_000)).padStart(8, '0')}`;
  };
  return {
    async record(entry, requestLog = log) {
      const details = { ...entry.details };
      for (const name of Object.keys(details)) {
        if (!SECRET_NAME.test(name)) continue;
        // A route's mistake: its value is not kept (the change itself is made already; it stands).
        details[name] = '[redacted]';
        requestLog.error({ action: entry.action, detail: name }, 'audit detail named like a secret: its value was not recorded');
      }
      const at = now();
      const r: AuditRecord = {
        id: nextId(at.getTime()),
        time: at.toISOString(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target,
        gatewayId: entry.gatewayId ?? null,
        connectionId: entry.connectionId ?? null,
        details,
      };
      requestLog.info({ actor: r.actor, action: r.action, target: r.target, gateway: r.gatewayId, connection: r.connectionId, details }, 'audit');
      try {
        await store.insert(r);
      } catch (err) {
        requestLog.error({ action: r.action, target: r.target, err: (err as Error).message }, 'audit record not stored');
      }
    },
  };
}
