// The types of a call, whichever way it runs (the service called by the hub itself, an agent on this hub, an agent
// on another hub): a leaf module, so the modules that run a call import it and never each other.
import type { Writable } from 'node:stream';
import type { GatehouseError, HeaderList, ResponseHeadMessage } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';

type Logger = HubDeps['log'];

export interface RelayRequest {
  method: string;
  url: URL;
  /** The caller's headers for the service, before the header rules. */
  headers: HeaderList;
  body: AsyncIterable<Uint8Array> | null;
  bodyLength: number | null;
  /** For bodies held in memory: the same body again, so a call the service never saw can move to another member. */
  replayBody?: () => AsyncIterable<Uint8Array> | null;
  /** The caller's Authorization is its token for the hub, never the service's (the raw route without
   *  X-Gatehouse-Authorization). Any header holding the caller's token is dropped in any case (CallerView.token). */
  dropAuthorization?: boolean;
}

export interface RelayTiming {
  /** invoke: the whole call must complete within the connection timeout (the Power Automate contract).
   *  proxy: the response head must arrive within it of the end of the request body; before and after, idle time counts. */
  wholeCall: boolean;
  /** The hub that serves a call relayed from another hub: the deadline runs from the start of the call to the
   *  response head, and no idle clock (the caller's hub keeps the call's own clocks). Default false. */
  toHeadOnly?: boolean;
  idleMs: number;
  /** A response body over this cancels the service's call: the caller gets a 502 if its answer has not begun (invoke reads up to 1 MiB whole), else its answer is cut off. */
  maxResponseBytes: number;
}

/** A call whose response head has arrived, however it runs (through an agent, or from the hub itself). */
export interface StartedCall {
  head: ResponseHeadMessage;
  /** A logger naming the call (made when asked: most calls never log). A method, not a getter: see RequestCtx. */
  logger(): Logger;
  /** Delivers the response body into `sink` with backpressure. */
  pipeResponse(sink: Writable): void;
  /** The whole response body when it has already arrived (small answers; never one over the route's
   *  limit), instead of pipeResponse; undefined when it must be streamed. */
  takeCompleteBody?(): Buffer | undefined;
  /** Abandons the call (the caller's answer broke): the service's request is aborted. */
  cancel(reason: string): void;
  /** Call when the answer has been written (or abandoned): clears the timers. */
  settle(): void;
}

/** The attempt a CallWatch looks after, as the way the call runs exposes it. */
export interface Watched {
  /** Stops the call and aborts the service's request; before the response head, `err` is what the caller gets. */
  cancel(reason: string, err: GatehouseError): void;
  /** Date.now() when body bytes last moved, either way. */
  readonly lastActivity: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

/**
 * One attempt of a call toward one place that can answer it: the service itself (EntraAuth, upstream-service.ts),
 * an agent session on this hub (upstream-member.ts), or an agent on another hub (cluster/upstream-remote.ts).
 * Made per attempt; the call's CallWatch looks after it from `send` on.
 */
export interface Upstream extends Watched {
  /** For the access line: the member that takes the call, and the hub that holds it when not this one. */
  readonly member: string | undefined;
  readonly viaHub: string | undefined;
  /** Sends the request with this body; resolves with the response head, or fails with the caller's error. */
  send(body: AsyncIterable<Uint8Array> | null): Promise<ResponseHeadMessage>;
  /** After `send` failed: the call certainly never reached the service, so another upstream may take it. */
  readonly notTaken: boolean;
  /** Delivers the response body into `sink`; `done` when the piping is over (the watch's settle). */
  pipeResponse(sink: Writable, done: () => void): void;
  /** The whole response body when it has already arrived, else undefined. */
  takeCompleteBody(): Buffer | undefined;
}

/** What an access line says about where a call went (also the fields of the call's log lines). */
export interface CallFields {
  /** The connection called (unknown to the hub that serves a call relayed from another hub). */
  connection?: string;
  /** EntraAuth: the resource its token is for. */
  resource?: string;
  /** A call relayed from another hub: the gateway it named. */
  relayed?: boolean;
  gateway?: string;
  /** The agent (member) that took the call. */
  member?: string;
  /** The hub that holds that member, when it is not this one. */
  viaHub?: string;
}

export interface WatchOptions {
  timeoutMs: number;
  timing: RelayTiming;
  /** Which route's phase metrics the call counts in (default: the request's route tag, else invoke). */
  route?: 'invoke' | 'proxy';
  method: string;
  host: string;
  /** Which link a deadline blames: 'agent -> service' or 'hub -> service'. */
  link: string;
  /** The access line's own fields; kept by reference, so a path may update them. */
  fields: CallFields;
}

/** The upstreams a call may go to, in order: asked for the next only when the last one certainly never took the
 *  call (undefined: there is none). */
export interface Upstreams {
  next(): Upstream | undefined | Promise<Upstream | undefined>;
}
