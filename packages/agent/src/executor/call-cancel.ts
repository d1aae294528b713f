// Cancellation of one served call (the hub cancelled it, or its deadline passed).
//
// Not an AbortController: on Node 20 every AbortSignal made (one per call) stayed, with what it reached, through
// V8's young collections (a bare HTTP server that made one per request and read its `signal`: about 0.6 MB
// promoted per young collection instead of none, and about a third fewer requests a second; docs/performance.md,
// session 10). The call's executor listens here directly; the Windows paths, which hand undici's request() an
// AbortSignal, get a real one made on demand.

export class CallCancel {
  private why: Error | undefined;
  private listener: ((reason: Error) => void) | undefined;
  private controller: AbortController | undefined;

  get aborted(): boolean {
    return this.why !== undefined;
  }

  /** Why the call was cancelled (undefined while it is not). */
  get reason(): Error | undefined {
    return this.why;
  }

  /** Cancels the call, once: the listener runs, and a signal handed out is aborted with the same reason. */
  abort(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
    this.controller?.abort(reason);
  }

  /** The one listener (the executor running the call); `undefined` removes it. Not called when already aborted. */
  onAbort(listener: ((reason: Error) => void) | undefined): void {
    this.listener = listener;
  }

  /** An AbortSignal that follows this cancellation (for APIs that take one). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController(); // lint-allow: per-call (Windows paths only)
      if (this.why) this.controller.abort(this.why);
    }
    return this.controller.signal;
  }
}
