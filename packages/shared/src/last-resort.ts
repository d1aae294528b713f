// The last resort of a Gatehouse process (the hub's and the agent's): a fault that nothing caught. It is logged
// at fatal with a stable code and the process exits with EX_SOFTWARE, for the service manager (or container
// runtime) to start a clean process: after an uncaught exception Node's state is not known to be sound (a
// half-run handler, a lost callback, a count never given back). Each program says why reaching it is a bug in
// its own last-resort.ts.

/** The exit status after an uncaught fault (EX_SOFTWARE, sysexits.h): a service manager restarts on it. */
export const FAULT_EXIT_CODE = 70;

export interface FaultLog {
  fatal(fields: object, message: string): void;
}

/** Installs the handlers. `code` is the log line's code (HubFault, AgentFault), `who` names the program. */
export function guardProcessWith(log: FaultLog, code: string, who: string, exit: (status: number) => void = (status) => process.exit(status)): void {
  let exiting = false;
  const onFault = (err: unknown, origin: string) => {
    if (exiting) return;
    exiting = true;
    const e = err instanceof Error ? err : new Error(String(err));
    // The error's name, message and stack only: they name code, never a request's headers, tokens or
    // credentials (the errors either program makes never carry them; docs/errors.md).
    log.fatal(
      { code, origin, err: { type: e.name, message: e.message.slice(0, 500), stack: e.stack?.slice(0, 4000) } },
      `uncaught fault in the ${who}: exiting so that the service manager starts a clean process`,
    );
    exit(FAULT_EXIT_CODE);
  };
  process.on('uncaughtException', onFault);
  process.on('unhandledRejection', (reason) => onFault(reason, 'unhandledRejection'));
}
