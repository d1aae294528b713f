// The hub's last resort: a fault that no request, call or session caught. Every route's faults end that request
// with a coded answer (http/respond.ts), every agent session's end that session (agents/session.ts), so reaching
// this is a bug in the hub. It is logged, coded, and the process exits non-zero, as the agent's does (shared
// last-resort.ts): a clean restart by the container runtime or service manager serves every tenant more reliably
// than a process that carries on in an unknown state. Agents reconnect to it (or to another hub of the cluster)
// with their usual backoff.
import { FAULT_EXIT_CODE, guardProcessWith } from '@gatehouse/shared';
import type { Logger } from './log.js';

export { FAULT_EXIT_CODE };

/** The log line's `code`, stable for alerting (docs/operations.md). */
export const FAULT_CODE = 'HubFault';

export function guardProcess(log: Logger, exit?: (code: number) => void): void {
  guardProcessWith(log, FAULT_CODE, 'hub', exit);
}
