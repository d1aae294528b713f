// What every call on invoke and the raw route gets, whichever way it runs (through an agent on this hub,
// through the hub that holds the agent, or from the hub itself for EntraAuth): the connection's deadline
// (invoke: the whole call; raw route: from the end of the request body to the response head) and the raw route's
// idle time (while the request body goes out, and after the head); cancellation when the caller goes away; the
// in-flight gauge, phase histograms and byte counters; one access line when it is over. The hub that serves a call
// relayed from another hub watches it too (toHeadOnly: the deadline to the head; the caller's hub keeps the rest).
import type { ServerResponse } from 'node:http';
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { Logger } from '../log.js';
import type { CallFields, Watched, WatchOptions } from './call-types.js';

/** A call cancelled because its caller closed the connection: normal, worth a debug line, never a warning. */
export class CallerGone extends GatehouseError {
  constructor() {
    super('BadGateway', 'caller -> hub: the caller went away');
  }
}

/** Whether a stream's failure is its caller going away: Node 20's pipeline names it ERR_STREAM_PREMATURE_CLOSE;
 *  Node 24's gives the call's own cancel (CallerGone), wrapped in an AggregateError with the premature close. */
export function callerWentAway(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(callerWentAway);
  return err instanceof CallerGone || (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export class CallWatch {
  /** The running attempt; replaced when a call moves to another member or hub. */
  current: Watched | undefined;
  /** When the call was opened (performance.now()): the end of the hub's own phase. */
  private readonly opened = performance.now();
  private readonly route: 'invoke' | 'proxy';
  private deadline: NodeJS.Timeout | undefined;
  private idle: NodeJS.Timeout | undefined;
  private settled = false;
  private readonly counted: boolean;
  private status = 0;
  /** The request body has all been sent (or there was none). */
  private bodySent = false;

  constructor(
    private readonly deps: HubDeps,
    private readonly ctx: Ctx,
    private readonly o: WatchOptions,
  ) {
    this.route = o.route ?? ctx.tags.route ?? 'invoke';
    // A call relayed from another hub is that hub's in the in-flight gauge and byte counters (counted once).
    this.counted = o.fields.relayed !== true;
    if (this.counted) deps.metrics.inflight.inc();
    // invoke: the whole call within the deadline. Raw route: idle time while the request body goes out (an
    // upload may take longer than the deadline), then the deadline until the response head (track, requestSent).
    if (o.timing.wholeCall || o.timing.toHeadOnly) this.armDeadline();
    ctx.res.on('close', () => {
      this.settle();
      // Whatever the caller got (the answer, a hub error written instead of it, or nothing: its connection gone),
      // a call still running is cancelled toward the agent, so its stream and buffers go now, not when the agent
      // stops sending. A call that ended normally is over already, and cancel does nothing.
      if (!ctx.res.writableFinished) this.current?.cancel('caller disconnected', new CallerGone());
      else this.current?.cancel("the caller's answer is over", new GatehouseError('BadGateway', "hub: the caller's answer is over"));
      this.report();
    });
  }

  get fields(): CallFields {
    return this.o.fields;
  }

  /** A logger naming the call (made when asked: most calls never log). */
  readonly logger = (): Logger => this.ctx.log.child(this.o.fields);

  private armDeadline(): void {
    this.deadline = setTimeout(() => this.current?.cancel('deadline', this.timeoutError()), this.o.timeoutMs);
  }

  /** The request body as it is sent, watched to its end (null: there is none). Called once, as the call starts:
   *  the raw route's clock starts here (idle time while a body goes out, else the deadline at once). */
  track(body: AsyncIterable<Uint8Array> | null): AsyncIterable<Uint8Array> | null {
    if (this.o.timing.wholeCall || this.o.timing.toHeadOnly) return body; // the deadline already runs
    if (body === null) {
      this.requestSent();
      return null;
    }
    this.idle = setTimeout(this.checkIdle, this.o.timing.idleMs);
    const sent = () => this.requestSent();
    return (async function* () {
      yield* body;
      sent();
    })();
  }

  /** Raw route: the deadline for the response head runs from here (unless the head came first). */
  private requestSent(): void {
    this.bodySent = true;
    if (this.status === 0 && !this.settled) this.armDeadline();
  }

  /** The deadline's error: what a caller gets whose call had no (complete) answer in time. */
  private timeoutError(): GatehouseError {
    return new GatehouseError('GatewayTimeout', `${this.o.link}: no ${this.o.timing.wholeCall ? 'complete ' : ''}answer within ${this.o.timeoutMs / 1000} s`);
  }

  /** The response head arrived: phase times; from here the raw route counts idle time instead of the deadline.
   *  `backendMs`: the service's own time to its head, when an agent measured it. */
  headArrived(status: number, backendMs: number | undefined): void {
    this.status = status;
    const toHead = (performance.now() - this.opened) / 1000;
    const phase = this.deps.metrics.phaseOf[this.route];
    phase.hub.observe((this.opened - this.ctx.started) / 1000);
    if (backendMs === undefined) {
      phase.backend.observe(toHead);
    } else {
      phase.relay.observe(Math.max(0, toHead - backendMs / 1000));
      phase.backend.observe(backendMs / 1000);
    }
    if (this.o.timing.wholeCall) return;
    clearTimeout(this.deadline);
    this.deadline = undefined;
    if (this.o.timing.toHeadOnly) return;
    clearTimeout(this.idle);
    this.idle = setTimeout(this.checkIdle, this.o.timing.idleMs);
  }

  private readonly checkIdle = (): void => {
    const { idleMs } = this.o.timing;
    const before = this.status === 0;
    // The body is out and the head not yet in: that wait is the deadline's (the head re-arms this clock).
    if (before && this.bodySent) {
      this.idle = undefined;
      return;
    }
    const quiet = Date.now() - (this.current?.lastActivity ?? Date.now());
    if (quiet >= idleMs) {
      const what = before ? `the request body moved no further for ${idleMs / 1000} s` : `no bytes moved for ${idleMs / 1000} s`;
      this.current?.cancel('idle', new GatehouseError('GatewayTimeout', what));
    } else this.idle = setTimeout(this.checkIdle, idleMs - quiet);
  };

  /** The service's part is over (its answer read, or the call failed): timers off. */
  readonly settle = (): void => {
    clearTimeout(this.deadline);
    clearTimeout(this.idle);
    this.settled = true;
  };

  /** The caller's answer is over (written, or its connection gone): counters and the access line, which says
   *  both what the service answered (`status`, 0 for none) and what the caller got (`answered`, `error`). */
  private report(): void {
    const { deps, ctx, o } = this;
    const requestBytes = this.current?.requestBytes ?? 0;
    const responseBytes = this.current?.responseBytes ?? 0;
    if (this.counted) {
      deps.metrics.inflight.dec();
      deps.metrics.requestBytes.inc(requestBytes);
      deps.metrics.responseBytes.inc(responseBytes);
    }
    // Written out field by field, not with spreads: an object made as { ...a, b } on every call kept the calls'
    // objects through young collections (0.8 MB promoted per young collection here; docs/performance.md,
    // session 10). Fields left undefined are not written.
    const caller = ctx.tags.caller;
    const f = o.fields;
    ctx.access({
      relayed: f.relayed,
      gateway: f.gateway,
      tid: caller?.tid,
      oid: caller?.oid,
      connection: f.connection,
      resource: f.resource,
      member: f.member,
      viaHub: f.viaHub,
      route: this.route,
      method: o.method,
      host: o.host,
      status: this.status,
      answered: answered(ctx.res),
      error: hubError(ctx.res),
      finished: ctx.res.writableFinished,
      requestBytes,
      responseBytes,
      ms: Math.round(performance.now() - ctx.started),
    });
  }
}

/** For an access line: the status the caller got (0 when none was written). */
export function answered(res: ServerResponse): number {
  return res.headersSent ? res.statusCode : 0;
}

/** For an access line: the hub's own error code, when the caller's answer was one. */
export function hubError(res: ServerResponse): string | undefined {
  const error = res.getHeader('x-gatehouse-error');
  return typeof error === 'string' ? error : undefined;
}
