// The agent's side of one relayed request: request body in under our credit, the service's answer out under
// the hub's credit, a deadline, and cancellation from either end.
import { PassThrough, type Readable } from 'node:stream';
import {
  FrameType,
  InboundBody,
  Limits,
  checkAgentAnswer,
  OutboundBody,
  WHOLE_MESSAGES_VERSION,
  encodeFrame,
  foreignCodingMessage,
  forwardResponseHeaders,
  hasForeignTransferCoding,
  relayableBody,
  type FailureMessage,
  type RequestHeadMessage,
  type ResponseHeadMessage,
  type WriteGate,
} from '@gatehouse/shared';
import { ExecError, type ExecRequest, type ExecResponse } from '../executor/http-executor.js';
import type { AnswerBody } from '../executor/dispatch-call.js';
import { CallCancel } from '../executor/call-cancel.js';
import type { Logger } from '../log.js';
import type { AgentMetrics } from '../metrics.js';

const ignore = (): void => {};

/**
 * The pipe the request body goes through to the executor. undici listens for its errors only while it sends
 * it; a call that fails before (the Windows handshake, a refused connection) or after leaves it to us, and its
 * abort (InboundBody.abort destroys it with an error) would otherwise be an 'error' nobody hears, which ends the
 * agent's process with every call on it (issue 21, finding 4).
 */
function requestSink(): PassThrough {
  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  body.on('error', ignore);
  return body;
}

/** Drops a service's answer body. undici turns a destroy before the body's end into an 'error' event, and an
 *  'error' nobody listens for would end the agent's process. */
function discard(body: AnswerBody): void {
  body.on('error', ignore);
  body.destroy();
}

/**
 * The frame that carries a service's answer head: RESPONSE with the whole body when `whole` is given and fits
 * in one frame (version 2 on), else RESPONSE_HEAD, encoded for the connection's `version`. An ExecError (BadGateway) for an answer the relay cannot carry:
 * the hub refuses a head outside HTTP's status range or with more header lines than it takes by closing this
 * agent's connection, which would fail every call on it.
 */
function answerFrame(stream: number, method: string, msg: ResponseHeadMessage, whole: Buffer | undefined, version: number): Buffer {
  if (msg.status < 100 || msg.status > 599) throw new ExecError('BadGateway', `the service answered with status ${msg.status}, outside HTTP's 100-599`);
  if (msg.headers.length > Limits.maxHeaderLines) {
    throw new ExecError('BadGateway', `the service's answer has ${msg.headers.length} header lines, over the ${Limits.maxHeaderLines} the relay carries`);
  }
  // The hub's own check of an agent's answer, applied first here: a service's fault (a header name HTTP does
  // not allow, an over-long one) is then the agent -> service link's failure, not this agent's.
  const check = checkAgentAnswer(method, msg.status, msg.headers, whole?.length);
  if (!check.ok) throw new ExecError('BadGateway', `the service's answer cannot be relayed: ${check.reason}`);
  if (whole) {
    try {
      return encodeFrame({ type: FrameType.Response, stream, msg, data: whole }, version);
    } catch {
      /* over one frame: head, then the body as DATA */
    }
  }
  try {
    return encodeFrame({ type: FrameType.ResponseHead, stream, msg }, version);
  } catch {
    // Headers under the head limit whose JSON (versions 1 and 2) is over the frame's (quotes and non-ASCII bytes take two).
    throw new ExecError(
      'BadGateway',
      `the service's response headers are too large to relay (over ${Limits.maxJsonBytes / 1024} KiB as the relay encodes them)`,
    );
  }
}

const NO_BODY = Buffer.alloc(0);

/** The whole answer body if it has already arrived (a small answer comes with its head): empty for an answer
 *  that has none (HEAD, 204, 304: relayableBody replaced its body), undefined while it is still coming. */
const arrivedWhole = (answer: AnswerBody | Readable, body: AnswerBody): Buffer | undefined =>
  answer !== body ? NO_BODY : body.takeIfComplete?.(Limits.maxDataBytes);

export interface ServeContext {
  gate: WriteGate;
  windowBytes: number;
  maxDataBytes: number;
  /** Runs the call against the service (Anonymous, Basic or Windows). */
  execute(req: ExecRequest): Promise<ExecResponse>;
  log: Logger;
  /** Opens sealed credentials and checks the allow-list; throws ExecError on refusal. */
  prepare(head: RequestHeadMessage): Promise<{ url: URL; auth: ExecRequest['auth'] }>;
  done(stream: number): void;
  metrics?: AgentMetrics;
  /** The connection's protocol version: from 2 a whole answer may leave as one RESPONSE frame, from 3 heads are
   *  binary (codec.ts). */
  version: number;
}

export class ServedRequest {
  readonly requestBody: InboundBody;
  readonly responseBody: OutboundBody;
  private readonly abort = new CallCancel();
  private cancelled = false;

  constructor(
    readonly stream: number,
    private readonly head: RequestHeadMessage,
    private readonly c: ServeContext,
  ) {
    this.requestBody = new InboundBody(
      c.windowBytes,
      (bytes) => {
        if (!this.cancelled) c.gate.send(encodeFrame({ type: FrameType.Credit, stream, bytes }));
      },
      Math.max(c.windowBytes, Limits.maxStreamWindowBytes),
    );
    this.responseBody = new OutboundBody(c.windowBytes);
  }

  /** The hub gave up on this call (caller gone, deadline): stop the backend call, send nothing more. */
  cancel(reason: string): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.abort.abort(new Error(reason));
    this.requestBody.abort(new Error(reason));
    this.responseBody.close(reason);
    this.c.log.info({ stream: this.stream, requestId: this.head.requestId, reason }, 'call cancelled by hub');
  }

  /** Serves the call; never rejects (the tunnel starts it without waiting, and a rejection nobody handles
   *  would reach the process's last resort). */
  run(): Promise<void> {
    return this.serve().catch((err: unknown) => {
      this.c.log.error({ err, stream: this.stream }, 'agent fault after serving a call');
    });
  }

  private async serve(): Promise<void> {
    const { head, c } = this;
    const started = Date.now();
    // The deadline runs to the response head from the end of the request body (an upload may take longer;
    // while it moves the hub's idle time watches it, and for invoke the hub's whole-call deadline still holds).
    let timer: NodeJS.Timeout | undefined;
    let clockDone = false;
    const arm = () => {
      if (!clockDone) timer ??= setTimeout(() => this.abort.abort(new Error(`deadline of ${head.timeoutMs} ms passed`)), head.timeoutMs);
    };
    let status = 0;
    try {
      const { url, auth } = await c.prepare(head);
      // A request without a body needs no sink: its End just marks the inbound side done, and a peer that sent
      // data anyway is held to the window like any other.
      let body: PassThrough | null = null;
      if (head.bodyLength !== 0) {
        body = requestSink();
        body.once('finish', arm);
        this.requestBody.attach(body);
      } else arm();
      const sent = performance.now();
      const res = await c.execute({
        method: head.method,
        url,
        headers: head.headers,
        body,
        bodyLength: head.bodyLength,
        auth,
        cancel: this.abort,
        timeoutMs: head.timeoutMs,
      });
      // A Readable answer body (the Windows paths) may fail before the relay starts reading it (while it waits
      // for the hub's credit, say); the failure still surfaces from its iterator, but never as an unheard 'error'.
      res.body.on('error', ignore);
      if (hasForeignTransferCoding(res.headers)) {
        discard(res.body);
        throw new ExecError('BadGateway', foreignCodingMessage(`${url.protocol}//${url.host}`));
      }
      status = res.status;
      const answer = relayableBody(head.method, res.status, res.body);
      if (this.cancelled) {
        discard(answer);
        return;
      }
      // From here on the hub owns the clock (whole-call deadline for invoke, idle time for the raw route);
      // undici's bodyTimeout still ends a service that stops sending.
      clockDone = true;
      clearTimeout(timer);
      const msg: ResponseHeadMessage = {
        status: res.status,
        headers: forwardResponseHeaders(res.headers, true),
        backendMs: Math.round(performance.now() - sent),
      };
      const whole = c.version >= WHOLE_MESSAGES_VERSION ? arrivedWhole(answer, res.body) : undefined;
      let headFrame: Buffer;
      try {
        headFrame = answerFrame(this.stream, head.method, msg, whole, c.version);
      } catch (err) {
        discard(answer);
        throw err;
      }
      c.gate.send(headFrame);
      c.metrics?.backend.observe((performance.now() - sent) / 1000);
      if (headFrame[0] === FrameType.Response) {
        this.responseBody.sentWhole(whole!.length);
        return;
      }
      try {
        const complete = await this.responseBody.pump(
          whole ? [whole] : answer,
          c.gate,
          (chunk) => c.gate.sendData(this.stream, chunk),
          () => c.gate.send(encodeFrame({ type: FrameType.End, stream: this.stream })),
          c.maxDataBytes,
        );
        if (!complete) discard(answer);
      } catch (err) {
        discard(answer);
        if (!this.cancelled) {
          const reason = this.abort.aborted
            ? 'deadline passed while the service was answering'
            : `the service broke off its answer (${(err as { code?: string }).code ?? 'error'})`;
          c.log.info({ stream: this.stream, requestId: head.requestId, why: reason }, 'call broken off');
          c.gate.send(encodeFrame({ type: FrameType.Cancel, stream: this.stream, msg: { reason } }));
        }
      }
    } catch (err) {
      if (this.cancelled) return;
      // (The hub takes messages of up to 2,048 characters; these are short, but a longer one must not cost the connection.)
      const f: FailureMessage =
        err instanceof ExecError
          ? { code: err.code, message: err.message.slice(0, 2000), ...(err.notSent ? { notSent: true } : {}) }
          : { code: 'BadGateway', message: 'agent fault' };
      if (!(err instanceof ExecError)) c.log.error({ err }, 'agent fault serving a call');
      // The call's coded end, as the hub will report it (messages name the service's origin, never a path or query).
      c.log.info({ stream: this.stream, requestId: head.requestId, code: f.code, why: f.message }, 'call failed');
      c.gate.send(encodeFrame({ type: FrameType.Failure, stream: this.stream, msg: f }));
      this.requestBody.abort(new Error('call failed'));
    } finally {
      clockDone = true;
      clearTimeout(timer);
      c.log.debug({ requestId: head.requestId, method: head.method, status, ms: Date.now() - started, cancelled: this.cancelled }, 'call served');
      c.metrics?.calls.inc({ status: this.cancelled ? 'cancelled' : status ? String(status) : 'failed' });
      c.metrics?.bytes.inc({ direction: 'request' }, this.requestBody.receivedBytes);
      c.metrics?.bytes.inc({ direction: 'response' }, this.responseBody.sentBytes);
      c.done(this.stream);
    }
  }
}
