// One request relayed over an agent session: a stream id, the request body going out under the agent's
// credit, the response body coming in under ours. Everything the hub knows about a call in flight.
import {
  FrameType,
  GatehouseError,
  InboundBody,
  OutboundBody,
  agentWords,
  checkAgentAnswer,
  encodeFrame,
  joinChunks,
  type FailureMessage,
  type ResponseHeadMessage,
  type WriteGate,
} from '@gatehouse/shared';
import type { Writable } from 'node:stream';

export interface CallTransport {
  gate: WriteGate;
  windowBytes: number;
  /** How far this side lets a busy stream's receive window grow. */
  maxWindowBytes: number;
  maxDataBytes: number;
  /** The member (agent) that runs the call: errors about its answer name it. */
  member: string;
  /** The request's method: an answer to HEAD has no body. */
  method: string;
  /** Called once when the call is over, whatever the outcome, so the session forgets the stream. */
  forget(stream: number): void;
  /** The hub refused the agent's answer (the member's last error, agents/member-errors.ts). */
  refusedAnswer?(err: GatehouseError): void;
}

const FAILURE_PREFIX: Record<FailureMessage['code'], string> = {
  BackendUnreachable: 'agent -> service',
  GatewayTimeout: 'agent -> service',
  UrlNotAllowed: 'agent',
  BadGateway: 'agent -> service',
  InvalidRequest: 'hub -> agent',
};

/** An agent's FAILURE as the caller's error: the hub names the link from the code, and the agent's own text is
 *  quoted as the agent's (bounded, control characters removed), never as the hub's words. */
export function failureToError(f: FailureMessage): GatehouseError {
  return new GatehouseError(f.code, `${FAILURE_PREFIX[f.code]}: the agent reported: ${agentWords(f.message)}`);
}

export class RelayCall {
  readonly requestBody: OutboundBody;
  readonly responseBody: InboundBody;
  readonly response: Promise<ResponseHeadMessage>;
  private resolveHead!: (h: ResponseHeadMessage) => void;
  private rejectHead!: (e: Error) => void;
  private headSeen = false;
  private over = false;
  /** The most response body bytes the checked head allows (null: no length known). */
  private bodyLimit: number | null = null;
  /** The checked head of an answer that has no body (HEAD, 204, 205, 304), held until its END: one that brings a body
   *  byte instead is a coded 502, not a clean empty answer with the agent's bytes dropped unseen. */
  private heldHead: ResponseHeadMessage | undefined;
  /** The agent said the service never received this request (see FailureMessage.notSent). */
  notSent = false;
  /** When body bytes last moved either way (idle-time limit of the raw route). */
  lastActivity = Date.now();
  /** A response body beyond this cancels the call and cuts the caller's answer off (set by the route). */
  maxResponseBytes = Number.POSITIVE_INFINITY;
  get requestBytes(): number {
    return this.requestBody.sentBytes;
  }
  get responseBytes(): number {
    return this.responseBody.receivedBytes;
  }

  /** `headIsWholeRequest`: the REQUEST_HEAD said bodyLength 0 to an agent of version 2 or later, which then needs no END. */
  constructor(
    readonly stream: number,
    private readonly t: CallTransport,
    private readonly headIsWholeRequest = false,
  ) {
    this.requestBody = new OutboundBody(t.windowBytes);
    this.responseBody = new InboundBody(
      t.windowBytes,
      (bytes) => {
        if (!this.over) t.gate.send(encodeFrame({ type: FrameType.Credit, stream, bytes }));
      },
      t.maxWindowBytes,
    );
    this.response = new Promise((resolve, reject) => {
      this.resolveHead = resolve;
      this.rejectHead = reject;
    });
    this.response.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /**
   * Sends the request body (a request without one just gets End, at once, unless its head was the whole
   * request) and resolves with the response
   * head. A body that fails while streaming (bad base64, over a limit, caller gone) cancels the call with
   * `failure(err)`, which is also what the returned promise rejects with.
   */
  sendBodyThenHead(source: AsyncIterable<Uint8Array> | null, failure: (err: unknown) => Error): Promise<ResponseHeadMessage> {
    const { gate, maxDataBytes } = this.t;
    const end = () => gate.send(encodeFrame({ type: FrameType.End, stream: this.stream }));
    if (source === null) {
      if (!this.headIsWholeRequest) end();
      return this.response;
    }
    const bodyFailed = this.requestBody
      .pump(
        source,
        gate,
        (c) => {
          this.lastActivity = Date.now();
          gate.sendData(this.stream, c);
        },
        end,
        maxDataBytes,
      )
      .then(
        () => new Promise<never>(() => {}),
        (err: unknown) => {
          const e = failure(err);
          this.cancel('request body failed', e);
          throw e;
        },
      );
    bodyFailed.catch(() => {});
    return Promise.race([this.response, bodyFailed]);
  }

  /** The whole response body if it has already arrived (see InboundBody.takeIfComplete). One over
   *  maxResponseBytes never is: onData cancelled the call when it passed the limit. */
  takeCompleteBody(): Buffer | undefined {
    const parts = this.responseBody.takeIfComplete();
    return parts && joinChunks(parts);
  }

  /** Delivers the response body into `sink` with backpressure; credit flows back as the sink drains. */
  pipeResponse(sink: Writable): void {
    this.responseBody.attach(sink);
  }

  /** Caller gone, deadline passed or the hub gives up: tell the agent, release everything. */
  cancel(reason: string, err: Error = new GatehouseError('BadGateway', `hub: call cancelled (${reason})`)): void {
    if (this.over) return;
    this.t.gate.send(encodeFrame({ type: FrameType.Cancel, stream: this.stream, msg: { reason } }));
    this.finish(err);
  }

  // ---- frames from the agent, dispatched by the session ----
  /** A response head: checked (checkAgentAnswer) before anyone sees it; a bad one fails the call with a 502
   *  naming the agent and cancels it toward the agent. False only for a second head (a protocol violation). */
  onHead(h: ResponseHeadMessage, whole?: number): boolean {
    if (this.headSeen) return false;
    if (this.over) return true; // the call already failed here (a refused head): late frames are dropped
    const checked = checkAgentAnswer(this.t.method, h.status, h.headers, whole);
    if (!checked.ok) {
      this.cancel('the answer was refused by the hub', this.refused(`was refused: ${checked.reason}`));
      return true;
    }
    this.headSeen = true;
    this.bodyLimit = checked.bodyLimit;
    const head = { status: h.status, headers: checked.headers, ...(h.backendMs !== undefined ? { backendMs: h.backendMs } : {}) };
    if (checked.bodyLimit === 0 && whole === undefined) this.heldHead = head;
    else this.resolveHead(head);
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.lastActivity = Date.now();
    if (this.over) return true; // late data of a call this side ended: dropped
    if (!this.headSeen) return false;
    const room = this.bodyLimit === null ? Infinity : this.bodyLimit - this.responseBody.receivedBytes;
    if (this.heldHead && chunk.length > 0) {
      this.cancel(
        'answer with a body where none may be',
        this.refused(`was refused: status ${this.heldHead.status} to ${this.t.method.slice(0, 16)} carries no body, and the answer has one`),
      );
      return true;
    }
    if (chunk.length > room) {
      // Never a byte past the declared length (the rest could be a second, forged response on the caller's
      // connection): what fits goes, then the call is cut off and the caller's connection with it.
      if (room > 0) this.responseBody.onData(chunk.subarray(0, room));
      this.cancel('answer longer than its head declared', this.refused(`was cut off: its body is longer than the ${this.bodyLimit} bytes its head declared`));
      return true;
    }
    if (!this.responseBody.onData(chunk)) return false;
    if (this.responseBody.receivedBytes > this.maxResponseBytes) {
      this.cancel(
        'response over the limit',
        new GatehouseError('BadGateway', `agent -> hub: the service's answer is over the ${this.maxResponseBytes}-byte limit`),
      );
    }
    return true;
  }
  /** A RESPONSE frame: head, whole body and end at once. False for a second head. */
  onResponse(h: ResponseHeadMessage, body: Buffer): boolean {
    if (!this.onHead(h, body.length)) return false;
    if (this.over) return true;
    // The body is at most 64 KiB and a stream's window never less than 256 KiB: onData cannot refuse it. It
    // can cancel the call (an answer over the route's limit), after which there is nothing to end.
    if (body.length > 0) this.onData(body);
    if (!this.over) this.onEnd();
    return true;
  }
  onEnd(): boolean {
    if (this.over) return true;
    if (!this.headSeen) return false;
    if (this.bodyLimit !== null && this.responseBody.receivedBytes < this.bodyLimit) {
      // A short body: the caller's answer (whose length the hub gave) is broken off, its connection never reused.
      this.cancel(
        'answer shorter than its head declared',
        this.refused(`was cut off: its body ended after ${this.responseBody.receivedBytes} of the ${this.bodyLimit} bytes its head declared`),
      );
      return true;
    }
    if (this.heldHead) {
      this.resolveHead(this.heldHead);
      this.heldHead = undefined;
    }
    this.responseBody.onEnd();
    this.over = true;
    this.requestBody.close('response complete');
    this.t.forget(this.stream);
    return true;
  }
  /** The agent's FAILURE: the call fails with it; returned for the member's last error (agents/member-errors.ts). */
  onFailure(f: FailureMessage): GatehouseError {
    this.notSent = f.notSent === true;
    const err = failureToError(f);
    this.finish(err);
    return err;
  }
  /** The agent's CANCEL: the call fails with a 502 naming it; returned for the member's last error. */
  onPeerCancel(reason: string): GatehouseError {
    const err = new GatehouseError('BadGateway', `agent -> hub: the agent cancelled the call; the agent reported: ${agentWords(reason)}`);
    this.finish(err);
    return err;
  }
  onSessionLost(why: string): void {
    this.finish(new GatehouseError('BadGateway', `hub -> agent: the agent connection was lost mid-call (${why})`));
  }

  /** The hub's refusal of something the agent sent: a 502 naming the link and the member. */
  private refused(what: string): GatehouseError {
    const err = new GatehouseError('BadGateway', `hub <- agent: the answer of agent ${this.t.member} ${what}`);
    this.t.refusedAnswer?.(err);
    return err;
  }

  private finish(err: Error): void {
    if (this.over) return;
    this.over = true;
    this.requestBody.close(err.message);
    if (!this.headSeen || this.heldHead) this.rejectHead(err);
    else this.responseBody.abort(err);
    this.t.forget(this.stream);
  }
}
