// Hub-to-hub relay: a call that reaches hub A for a gateway whose agents are connected to hub B goes to B
// as plain HTTP: the request body starts with the call's head (a 4-byte length, then the head as JSON), the
// service's body follows, streamed both ways (TCP backpressure carries the flow control across), the caller's
// abort carried as an aborted request, the deadline in the head. The head travels in the body, not in a header,
// so any request a hub takes can be relayed (a header would meet the other hub's GATEHOUSE_MAX_HEADER_BYTES).
// Authenticated with an HMAC over the head under GATEHOUSE_CLUSTER_SECRET; the head names the hub it is for and
// carries a nonce, so a captured relay cannot be sent again, to that hub or to another.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { GatehouseError, NOT_CONNECTED_CODES, headerListFrom, isErrorCode, relayableBody, type RequestHeadMessage } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx, Route } from '../http/router.js';
import { writeHeadFromList } from '../http/respond.js';
import type { StartedCall } from '../relay/relay.js';
import { answered, hubError, type CallWatch } from '../relay/call-watch.js';
import { HttpAttempt } from '../relay/http-attempt.js';
import type { PresenceEntry } from './presence.js';

export const RELAY_PATH = '/internal/v1/relay';
const SIG = 'x-gatehouse-relay-signature';
const ERR = 'x-gatehouse-relay-error';
const BACKEND = 'x-gatehouse-relay-backend-ms';

/** `to`: the advertised URL of the hub the relay is for; `ts`: when it was signed (ms); `nonce`: used once. */
interface RelayEnvelope { gatewayId: string; memberId: string; head: RequestHeadMessage; to: string; ts: number; nonce: string }

/** How far a relay's signing time may be from the receiving hub's clock (both ways). */
const MAX_AGE_MS = 60_000;
/** Largest head a hub reads before it has checked the signature (a head is at most the relay frame's 64 KiB of
 *  JSON, plus the envelope's own fields), and how long it waits for it. */
const MAX_ENVELOPE_BYTES = 80 * 1024;
const ENVELOPE_WAIT_MS = 30_000;

/** The nonces of the relays a hub has taken while their signing time is acceptable: a second use is refused.
 *  Two generations of 2 * MAX_AGE_MS each: a nonce is remembered for at least as long as its relay could pass
 *  the age check (at most 2 * MAX_AGE_MS after it was taken). */
class NonceGuard {
  private current = new Set<string>();
  private previous = new Set<string>();
  private rotatedAt = Date.now();

  /** False when the nonce was seen before. */
  take(nonce: string): boolean {
    if (Date.now() - this.rotatedAt >= 2 * MAX_AGE_MS) {
      this.previous = this.current;
      this.current = new Set();
      this.rotatedAt = Date.now();
    }
    if (this.current.has(nonce) || this.previous.has(nonce)) return false;
    this.current.add(nonce);
    return true;
  }
}

/** The other hub certainly never took the call (no connection, or no member there any more): another hub may. */
export class RemoteNotTaken extends GatehouseError {}

const sign = (secret: string, payload: Buffer) => createHmac('sha256', secret).update(payload).digest('base64url');

/** Hub B: the envelope at the start of a relay's body, and the rest of the body (the service's). `release` lets
 *  go of the request without destroying it, so the hub can drop what nobody reads (call it when the answer is over). */
async function readEnvelope(req: IncomingMessage): Promise<{ envelope: Buffer; rest: AsyncIterable<Buffer>; release: () => void }> {
  const source = (req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const refused = (why: string) => new GatehouseError('Unauthorized', `hub -> hub: ${why}`);
  // Chunks are kept and joined once the head is whole (or its length known): joining on every chunk cost the
  // square of the head's size, and this is read before the signature is checked, from anyone.
  const chunks: Buffer[] = [];
  let length = 0;
  let got: Buffer = Buffer.alloc(0);
  const joined = (): Buffer => { if (chunks.length > 1) chunks.splice(0, chunks.length, Buffer.concat(chunks, length)); return chunks[0] ?? got; };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(refused(`the relay's head did not arrive within ${ENVELOPE_WAIT_MS / 1000} s`)), ENVELOPE_WAIT_MS); });
  try {
    let need = 4;
    while (length < need) {
      const next = await Promise.race([source.next(), late]);
      if (next.done) throw refused('the relay ended before its head');
      chunks.push(next.value);
      length += next.value.length;
      if (need === 4 && length >= 4) {
        const declared = joined().readUInt32BE(0);
        if (declared > MAX_ENVELOPE_BYTES) throw refused('the relay\'s head is too large');
        need = 4 + declared;
      }
    }
    got = joined();
  } finally { clearTimeout(timer); }
  const end = 4 + got.readUInt32BE(0);
  const left = got.subarray(end);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (left.length) yield left;
      for (let n = await source.next(); !n.done; n = await source.next()) yield n.value;
    } finally {
      // The relay stopped reading early (a service that answered before the body's end): the hub drops the rest.
      await source.return?.();
    }
  }
  return { envelope: got.subarray(4, end), rest: rest(), release: () => void source.return?.() };
}

/**
 * Hub A: relays the call to the hub holding `entry`, as the `watch`'s current attempt (the watch keeps the
 * deadline and idle time here, on the caller's hub; hub B only times the head as it would its own call).
 */
export async function startRemote(deps: HubDeps, watch: CallWatch, entry: PresenceEntry, gatewayId: string, head: RequestHeadMessage,
  body: AsyncIterable<Uint8Array> | null, maxResponseBytes: number): Promise<StartedCall> {
  const envelope = Buffer.from(JSON.stringify({
    gatewayId, memberId: entry.memberId, head, to: entry.hubUrl, ts: Date.now(), nonce: randomBytes(16).toString('base64url'),
  } satisfies RelayEnvelope));
  const prefix = Buffer.concat([Buffer.alloc(4), envelope]);
  prefix.writeUInt32BE(envelope.length, 0);
  const attempt = new HttpAttempt();
  watch.current = attempt;
  Object.assign(watch.fields, { viaHub: entry.hubId, member: entry.memberId });
  let res: Dispatcher.ResponseData;
  try {
    res = await request(`${entry.hubUrl}${RELAY_PATH}`, {
      method: 'POST', dispatcher: deps.hubDispatcher, signal: attempt.signal,
      // x-request-id: the other hub's log lines for this call carry the call's id too.
      headers: { [SIG]: sign(deps.config.clusterSecret!, envelope), 'x-request-id': head.requestId, ...(head.bodyLength !== null ? { 'content-length': String(prefix.length + head.bodyLength) } : {}) },
      body: attempt.body(body, prefix), headersTimeout: 0, bodyTimeout: 0,
    });
  } catch (err) {
    const code = attempt.failure(err);
    if (typeof code !== 'string') throw code;
    const message = `hub -> hub: the hub holding the agent (${new URL(entry.hubUrl).host}) cannot be reached`;
    if (NOT_CONNECTED_CODES.has(code)) throw new RemoteNotTaken('BadGateway', message);
    throw new GatehouseError('BadGateway', message);
  }
  const relayError = res.headers[ERR];
  // A relay error comes with a JSON body; a service's 304 (or answer to HEAD) has none, whatever it declares.
  attempt.responded(typeof relayError === 'string' ? res.body : relayableBody(head.method, res.statusCode, res.body));
  if (typeof relayError === 'string') {
    const text = await res.body.text().catch(() => '');
    if (attempt.cancelled) throw attempt.cancelled;
    let message = 'hub -> hub: the other hub failed the call';
    try { message = (JSON.parse(text) as { error: { message: string } }).error.message; } catch { /* keep */ }
    // GatewayOffline: that hub had no member for the gateway any more, so it opened no call.
    if (relayError === 'GatewayOffline') throw new RemoteNotTaken('GatewayOffline', message);
    // The other hub refusing this hub (another cluster secret, clocks apart) is a fault between hubs, not the caller's.
    throw new GatehouseError(isErrorCode(relayError) && relayError !== 'Unauthorized' ? relayError : 'BadGateway', message);
  }
  const headers = headerListFrom(res.headers).filter(([k]) => !k.startsWith('x-gatehouse-relay-'));
  const backendMs = Number(res.headers[BACKEND] ?? 0);
  return {
    head: { status: res.statusCode, headers, backendMs },
    logger: watch.logger,
    pipeResponse: (sink) => pipeline(attempt.countResponse(maxResponseBytes, 'hub -> hub'), sink, () => watch.settle()),
    cancel: (reason) => attempt.cancel(reason, new GatehouseError('BadGateway', `hub: call cancelled (${reason})`)),
    settle: watch.settle,
  };
}

/** Hub B: serves a relayed call with one of its own agent sessions. */
export function relayRoutes(deps: HubDeps): Route[] {
  const nonces = new NonceGuard();
  const handler = async (ctx: Ctx): Promise<void> => {
    const secret = deps.config.clusterSecret;
    const signature = String(ctx.req.headers[SIG] ?? '');
    const fail = (e: GatehouseError): void => {
      ctx.res.setHeader(ERR, e.code);
      throw e;
    };
    if (!secret) return fail(new GatehouseError('Unauthorized', 'hub -> hub: this hub takes no relays (no cluster secret)'));
    let envelope: Buffer;
    let rest: AsyncIterable<Buffer>;
    try {
      let release: () => void;
      ({ envelope, rest, release } = await readEnvelope(ctx.req));
      ctx.res.once('close', release);
    } catch (err) { return fail(err as GatehouseError); }
    const expected = Buffer.from(sign(secret, envelope));
    if (expected.length !== Buffer.byteLength(signature) || !timingSafeEqual(expected, Buffer.from(signature))) {
      return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay is not signed with this cluster\'s secret'));
    }
    const env = JSON.parse(envelope.toString()) as RelayEnvelope;
    if (env.to !== deps.config.advertiseUrl) return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay is addressed to another hub'));
    if (!(Math.abs(Date.now() - env.ts) <= MAX_AGE_MS)) return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay is too old (or the hubs\' clocks differ by over 60 s)'));
    if (typeof env.nonce !== 'string' || !nonces.take(env.nonce)) return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay was used before'));
    const sessions = deps.registry.sessions(env.gatewayId).filter((s) => s.isAvailable);
    const session = sessions.find((s) => s.member.memberId === env.memberId) ?? sessions[0];
    if (!session) return fail(new GatehouseError('GatewayOffline', `hub -> agent: gateway ${env.gatewayId} has no online member on this hub`));
    const call = session.open(env.head);
    let status = 0;
    ctx.res.on('close', () => {
      // Also after a hub error written instead of the answer: a call still running is cancelled (no-op when over).
      call.cancel(ctx.res.writableFinished ? 'the relayed answer is over' : 'caller disconnected (relayed)');
      // This hub's access line for the call (the caller's hub writes its own, with viaHub).
      ctx.access({ relayed: true, gateway: env.gatewayId, member: session.member.memberId, method: env.head.method, host: new URL(env.head.url).host,
        status, answered: answered(ctx.res), error: hubError(ctx.res), finished: ctx.res.writableFinished,
        requestBytes: call.requestBytes, responseBytes: call.responseBytes, ms: Math.round(performance.now() - ctx.started) });
    });
    const deadline = setTimeout(() => call.cancel('deadline', new GatehouseError('GatewayTimeout', `agent -> service: no answer within ${env.head.timeoutMs / 1000} s`)), env.head.timeoutMs);
    const coded = (err: unknown) => (err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'hub -> hub: the relayed request broke off'));
    const answer = call.sendBodyThenHead(env.head.bodyLength === 0 ? null : rest, coded);
    let head;
    try { head = await answer; } catch (err) {
      clearTimeout(deadline);
      return fail(coded(err));
    }
    clearTimeout(deadline);
    status = head.status;
    // Exactly the service's headers go back (hub A adds its own): not this hub's request id for the relay request.
    ctx.res.removeHeader('x-request-id');
    writeHeadFromList(ctx.res, head.status, [...head.headers, [BACKEND, String(head.backendMs ?? 0)]]);
    call.pipeResponse(ctx.res);
  };
  return [{ method: 'POST', pattern: new RegExp(`^${RELAY_PATH}$`), handler }];
}
