// The agent's last resort: a fault that no call caught. Every call's faults end that call (served-request.ts
// turns them into a FAILURE or CANCEL frame, every stream has its 'error' heard), so reaching this is a bug in
// the agent. It is logged, coded, and the process exits (shared last-resort.ts): a clean restart by the service
// manager (systemd's Restart=on-failure, the Windows service's recovery) serves the gateway's calls more reliably
// than a process that carries on in an unknown state. Its members on other agents keep serving meanwhile.
import { FAULT_EXIT_CODE, guardProcessWith } from '@gatehouse/shared';
import type { Logger } from './log.js';

export { FAULT_EXIT_CODE };

/** The log line's `code`, stable for alerting (docs/operations.md). */
export const FAULT_CODE = 'AgentFault';

export function guardProcess(log: Logger, exit?: (code: number) => void): void {
  guardProcessWith(log, FAULT_CODE, 'agent', exit);
}
