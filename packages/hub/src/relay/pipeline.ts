// The one way a call runs once the hub knows where it may go: one CallWatch (deadline, idle time, settle, metrics,
// access line), the upstreams tried in order, and the one StartedCall the routes answer from. A call moves to the
// next upstream only when it certainly was never taken and its body can be sent again; the first attempt sends the
// body as it came.
import type { Writable } from 'node:stream';
import { GatehouseError, type ResponseHeadMessage } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { Logger } from '../log.js';
import { CallWatch } from './call-watch.js';
import type { StartedCall, Upstream, Upstreams, WatchOptions } from './call-types.js';

/** The request body of a call, as the pipeline sends it. */
export interface CallBody {
  body: AsyncIterable<Uint8Array> | null;
  /** The same body again (a body held in memory, or none), so a call never taken can go to the next upstream. */
  replayBody?: () => AsyncIterable<Uint8Array> | null;
}

/** A call whose head has arrived. A class (methods on the prototype): the one object a call's answer is read from. */
class Started implements StartedCall {
  readonly logger: () => Logger;
  readonly settle: () => void;

  constructor(
    readonly head: ResponseHeadMessage,
    private readonly up: Upstream,
    watch: CallWatch,
  ) {
    this.logger = watch.logger;
    this.settle = watch.settle;
  }

  pipeResponse(sink: Writable): void {
    this.up.pipeResponse(sink, this.settle);
  }

  takeCompleteBody(): Buffer | undefined {
    return this.up.takeCompleteBody();
  }

  cancel(reason: string): void {
    this.up.cancel(reason, new GatehouseError('BadGateway', `hub: call cancelled (${reason})`));
  }
}

/**
 * Runs a call through `first`, then (when it never took the call) the next of `others`. Resolves at the response
 * head; on failure the watch is settled and the caller's error thrown.
 */
export async function runCall(deps: HubDeps, ctx: Ctx, o: WatchOptions, req: CallBody, first: Upstream, others: Upstreams): Promise<StartedCall> {
  const watch = new CallWatch(deps, ctx, o);
  const body = watch.track(req.body);
  const replayable = req.replayBody !== undefined || req.body === null;
  let up = first;
  try {
    for (let attempt = 0; ; attempt++) {
      watch.fields.member = up.member;
      watch.fields.viaHub = up.viaHub;
      watch.current = up;
      let head: ResponseHeadMessage;
      try {
        head = await up.send(attempt === 0 || !req.replayBody ? body : req.replayBody());
      } catch (err) {
        if (!up.notTaken || !replayable || ctx.res.destroyed) throw err;
        const why = (err as Error).message;
        // The same lines as ever: a hub that never took the call is left at once; a member only for another one.
        if (up.viaHub !== undefined) watch.logger().info({ why }, 'relayed call moved on: the other hub never took it');
        const following = await others.next();
        if (!following) throw err;
        if (up.viaHub === undefined) watch.logger().info({ next: following.member, why }, 'call moved to another member: the service never saw it');
        up = following;
        continue;
      }
      // Through an agent (a member named) the service's own time is the agent's to say; one that does not leaves
      // it all to the relay phase. The hub's own call to the service (no member) is all backend.
      watch.headArrived(head.status, up.member === undefined ? undefined : (head.backendMs ?? 0));
      return new Started(head, up, watch);
    }
  } catch (err) {
    watch.settle();
    throw err;
  }
}
