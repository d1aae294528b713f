// An upstream that is the service itself (EntraAuth): the hub makes the request with undici, its headers already
// made (the On-Behalf-Of token among them). Bodies stream both ways, as through an agent.
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import {
  GatehouseError,
  UNREACHABLE_CODES,
  foreignCodingMessage,
  hasForeignTransferCoding,
  headerListFrom,
  relayableBody,
  unreadableAnswer,
  type ResponseHeadMessage,
} from '@gatehouse/shared';
import type { Upstream } from './call-types.js';
import { HttpAttempt } from './http-attempt.js';
import { HUB_MARKER_HEADER, REFUSED_ADDRESS } from './direct-networks.js';

export class ServiceUpstream extends HttpAttempt implements Upstream {
  readonly member = undefined;
  readonly viaHub = undefined;
  /** The service is never tried twice: a call that failed is not moved. */
  readonly notTaken = false;

  /** `headers`: the request's lines as sent (flat name, value pairs). */
  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly method: string,
    private readonly url: URL,
    private readonly headers: string[],
    private readonly maxResponseBytes: number,
    /** This hub's marker (DirectNetworks.marker): an answer carrying it came from the hub itself. */
    private readonly ownMarker: string,
  ) {
    super();
  }

  async send(body: AsyncIterable<Uint8Array> | null): Promise<ResponseHeadMessage> {
    const { url, method } = this;
    const target = `${url.protocol}//${url.host}`;
    let res: Dispatcher.ResponseData;
    try {
      // The watch owns the clock (deadline, idle time); undici's own timeouts are off.
      res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        headers: this.headers,
        body: this.body(body),
        signal: this.signal,
        dispatcher: this.dispatcher,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (err) {
      const code = this.failure(err);
      if (typeof code !== 'string') throw code;
      if (code === REFUSED_ADDRESS) throw new GatehouseError('UrlNotAllowed', (err as { cause?: Error }).cause?.message ?? (err as Error).message);
      const unreadable = unreadableAnswer(err, target);
      if (unreadable) throw new GatehouseError('BadGateway', `hub -> service: ${unreadable}`);
      if (UNREACHABLE_CODES.has(code)) throw new GatehouseError('BackendUnreachable', `hub -> service: could not reach ${target} (${code})`);
      throw new GatehouseError('BadGateway', `hub -> service: the call to ${target} failed (${code || (err as Error).name})`);
    }
    if (res.headers[HUB_MARKER_HEADER] === this.ownMarker) {
      res.body.on('error', () => {}).destroy();
      throw new GatehouseError('UrlNotAllowed', `hub -> service: ${target} answered as this hub (its metrics), which EntraAuth connections do not call`);
    }
    const head = headerListFrom(res.headers);
    if (hasForeignTransferCoding(head)) {
      res.body.on('error', () => {}).destroy();
      throw new GatehouseError('BadGateway', `hub -> service: ${foreignCodingMessage(target)}`);
    }
    this.responded(relayableBody(method, res.statusCode, res.body));
    return { status: res.statusCode, headers: head };
  }

  pipeResponse(sink: Writable, done: () => void): void {
    pipeline(this.countResponse(this.maxResponseBytes, 'hub -> service'), sink, () => done());
  }

  takeCompleteBody(): undefined {
    return undefined;
  }
}
