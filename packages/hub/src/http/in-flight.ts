// What stop() changes and the front door counts: whether the hub is stopping (/readyz turns red, agents are
// refused, answers close their connections) and how many requests are being answered (not agents' WebSockets),
// so stop() can let them finish.

export class InFlight {
  /** Set once, by stop(). */
  stopping = false;
  private active = 0;
  private onIdle: (() => void) | undefined;

  get count(): number {
    return this.active;
  }

  /** A request arrived (the front door, per request). */
  enter(): void {
    this.active++;
  }

  /** Its response closed. */
  leave(): void {
    if (--this.active === 0) this.onIdle?.();
  }

  /** Resolves when no request is being answered, or after timeoutMs, whichever comes first. */
  idle(timeoutMs: number): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
