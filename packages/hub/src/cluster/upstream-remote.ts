// An upstream that is an agent on another hub (hub A's side of the hub-to-hub relay, hub-relay.ts): one HTTP request
// to the hub holding the member, its body the signed envelope then the service's body. The caller's hub keeps the
// call's clocks (its CallWatch); the other hub only times the head as it would its own call.
import { randomBytes } from 'node:crypto';
import { pipeline, type Writable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import {
  GatehouseError,
  NOT_CONNECTED_CODES,
  headerListFrom,
  isErrorCode,
  relayableBody,
  type RequestHeadMessage,
  type ResponseHeadMessage,
} from '@gatehouse/shared';
import type { Upstream } from '../relay/call-types.js';
import { HttpAttempt } from '../relay/http-attempt.js';
import type { PresenceEntry } from './presence.js';
import { ANSWER_SIG, BACKEND, ERR, RELAY_PATH, SIG, answerChecks, sign, type RelayEnvelope } from './relay-envelope.js';

/** What a remote upstream needs of the hub (a part of HubDeps). */
export interface RemoteLink {
  hubDispatcher: Dispatcher;
  clusterSecret: string;
}

export class RemoteUpstream extends HttpAttempt implements Upstream {
  /** The other hub certainly never took the call (no connection, or no member there any more): another hub may. */
  notTaken = false;

  constructor(
    private readonly link: RemoteLink,
    private readonly entry: PresenceEntry,
    private readonly gatewayId: string,
    private readonly head: RequestHeadMessage,
    private readonly route: 'invoke' | 'proxy',
    private readonly maxResponseBytes: number,
  ) {
    super();
  }

  get member(): string {
    return this.entry.memberId;
  }
  get viaHub(): string {
    return this.entry.hubId;
  }

  async send(body: AsyncIterable<Uint8Array> | null): Promise<ResponseHeadMessage> {
    const { entry, head } = this;
    const nonce = randomBytes(16).toString('base64url');
    const envelope = Buffer.from(
      JSON.stringify({
        gatewayId: this.gatewayId,
        memberId: entry.memberId,
        head,
        to: entry.hubUrl,
        ts: Date.now(),
        nonce,
        route: this.route,
      } satisfies RelayEnvelope),
    );
    const prefix = Buffer.concat([Buffer.alloc(4), envelope]);
    prefix.writeUInt32BE(envelope.length, 0);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(`${entry.hubUrl}${RELAY_PATH}`, {
        method: 'POST',
        dispatcher: this.link.hubDispatcher,
        signal: this.signal,
        // x-request-id: the other hub's log lines for this call carry the call's id too.
        headers: {
          [SIG]: sign(this.link.clusterSecret, envelope),
          'x-request-id': head.requestId,
          ...(head.bodyLength !== null ? { 'content-length': String(prefix.length + head.bodyLength) } : {}),
        },
        body: this.body(body, prefix),
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (err) {
      const code = this.failure(err);
      if (typeof code !== 'string') throw code;
      this.notTaken = NOT_CONNECTED_CODES.has(code);
      throw new GatehouseError('BadGateway', `hub -> hub: the hub holding the agent (${new URL(entry.hubUrl).host}) cannot be reached`);
    }
    const relayError = res.headers[ERR];
    // Only a hub of the cluster that took this relay signs its answer: anything else never reaches the caller.
    if (!answerChecks(this.link.clusterSecret, nonce, typeof relayError === 'string' ? relayError : res.statusCode, res.headers[ANSWER_SIG])) {
      res.body.destroy();
      throw new GatehouseError(
        'BadGateway',
        `hub -> hub: the answer from ${new URL(entry.hubUrl).host} is not signed by a hub of this cluster (its cluster secret differs, or it is no hub)`,
      );
    }
    // A relay error comes with a JSON body; a service's 304 (or answer to HEAD) has none, whatever it declares.
    this.responded(typeof relayError === 'string' ? res.body : relayableBody(head.method, res.statusCode, res.body));
    if (typeof relayError === 'string') {
      const text = await res.body.text().catch(() => '');
      if (this.cancelled) throw this.cancelled;
      let message = 'hub -> hub: the other hub failed the call';
      try {
        message = (JSON.parse(text) as { error: { message: string } }).error.message;
      } catch {
        /* keep */
      }
      // GatewayOffline: that hub had no member for the gateway any more, so it opened no call.
      this.notTaken = relayError === 'GatewayOffline';
      // The other hub refusing this hub (another cluster secret, clocks apart) is a fault between hubs, not the caller's.
      throw new GatehouseError(isErrorCode(relayError) && relayError !== 'Unauthorized' ? relayError : 'BadGateway', message);
    }
    const headers = headerListFrom(res.headers).filter(([k]) => !k.startsWith('x-gatehouse-relay-'));
    return { status: res.statusCode, headers, backendMs: Number(res.headers[BACKEND] ?? 0) };
  }

  pipeResponse(sink: Writable, done: () => void): void {
    pipeline(this.countResponse(this.maxResponseBytes, 'hub -> hub'), sink, () => done());
  }

  takeCompleteBody(): undefined {
    return undefined;
  }
}
