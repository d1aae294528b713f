// The agent's last resort: a fault that no call caught. Every call's faults end that call (served-request.ts
// turns them into a FAILURE or CANCEL frame, every stream has its 'error' heard), so reaching this is a bug in
// the agent. It is logged, coded, and the process exits: after an uncaught exception Node's state is not known
// to be sound (a half-run handler, a lost callback), and a clean restart by the service manager (systemd's
// Restart=on-failure, the Windows service's recovery) serves the gateway's calls more reliably than a process
// that carries on in an unknown state. Its members on other agents keep serving meanwhile.
import type { Logger } from './log.js';

/** The exit status after an uncaught fault (EX_SOFTWARE, sysexits.h): a service manager restarts on it. */
export const FAULT_EXIT_CODE = 70;

/** The log line's `code`, stable for alerting (docs/operations.md). */
export const FAULT_CODE = 'AgentFault';

export function guardProcess(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  let exiting = false;
  const onFault = (err: unknown, origin: string) => {
    if (exiting) return;
    exiting = true;
    const e = err instanceof Error ? err : new Error(String(err));
    // The message and the stack only: they name code, never a call's headers or credentials (errors the agent
    // makes never carry them; docs/errors.md).
    log.fatal({ code: FAULT_CODE, origin, err: { type: e.name, message: e.message.slice(0, 500), stack: e.stack?.slice(0, 4000) } },
      'uncaught fault in the agent: exiting so that the service manager starts a clean process');
    exit(FAULT_EXIT_CODE);
  };
  process.on('uncaughtException', onFault);
  process.on('unhandledRejection', (reason) => onFault(reason, 'unhandledRejection'));
}
