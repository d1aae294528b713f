// The hub's last resort: a fault that no request, call or session caught. Every route's faults end that request
// with a coded answer (http/respond.ts), every agent session's end that session (agents/session.ts), so reaching
// this is a bug in the hub. It is logged, coded, and the process exits non-zero, as the agent's does
// (packages/agent/src/last-resort.ts): after an uncaught exception Node's state is not known to be sound (a
// half-run handler, a lost callback, a count never given back), and a clean restart by the container runtime or
// service manager serves every tenant more reliably than a process that carries on in an unknown state. Agents
// reconnect to it (or to another hub of the cluster) with their usual backoff.
import type { Logger } from './log.js';

/** The exit status after an uncaught fault (EX_SOFTWARE, sysexits.h): a service manager restarts on it. */
export const FAULT_EXIT_CODE = 70;

/** The log line's `code`, stable for alerting (docs/operations.md). */
export const FAULT_CODE = 'HubFault';

export function guardProcess(log: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  let exiting = false;
  const onFault = (err: unknown, origin: string) => {
    if (exiting) return;
    exiting = true;
    const e = err instanceof Error ? err : new Error(String(err));
    // The error's name, message and stack only: they name code, never a request's headers or tokens (the hub's
    // own errors never carry them; docs/errors.md).
    log.fatal({ code: FAULT_CODE, origin, err: { type: e.name, message: e.message.slice(0, 500), stack: e.stack?.slice(0, 4000) } },
      'uncaught fault in the hub: exiting so that the service manager starts a clean process');
    exit(FAULT_EXIT_CODE);
  };
  process.on('uncaughtException', onFault);
  process.on('unhandledRejection', (reason) => onFault(reason, 'unhandledRejection'));
}
