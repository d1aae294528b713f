// An upstream that is an agent session on this hub: the call goes out as a stream of the agent's tunnel. The agent
// proves the service never saw a call when it refused before sending or could not connect (notSent).
import type { Writable } from 'node:stream';
import type { GatehouseError, RequestHeadMessage, ResponseHeadMessage } from '@gatehouse/shared';
import type { AgentSession } from '../agents/session.js';
import type { RelayCall } from '../agents/relay-call.js';
import type { Upstream } from './call-types.js';

export class MemberUpstream implements Upstream {
  readonly viaHub = undefined;
  private call: RelayCall | undefined;

  /** `bodyFailure`: the caller's error for a request body that broke off (one not coded already). */
  constructor(
    private readonly session: AgentSession,
    private readonly head: RequestHeadMessage,
    private readonly maxResponseBytes: number,
    private readonly bodyFailure: (err: unknown) => GatehouseError,
  ) {}

  get member(): string {
    return this.session.member.memberId;
  }
  get notTaken(): boolean {
    return this.call?.notSent === true;
  }
  get lastActivity(): number {
    return this.call?.lastActivity ?? Date.now();
  }
  get requestBytes(): number {
    return this.call?.requestBytes ?? 0;
  }
  get responseBytes(): number {
    return this.call?.responseBytes ?? 0;
  }

  /** Throws at once when the session takes no more calls (session.open). */
  send(body: AsyncIterable<Uint8Array> | null): Promise<ResponseHeadMessage> {
    const call = this.session.open(this.head);
    call.maxResponseBytes = this.maxResponseBytes;
    this.call = call;
    return call.sendBodyThenHead(body, this.bodyFailure);
  }

  cancel(reason: string, err: GatehouseError): void {
    this.call?.cancel(reason, err);
  }

  pipeResponse(sink: Writable): void {
    this.call!.pipeResponse(sink);
  }

  takeCompleteBody(): Buffer | undefined {
    return this.call!.takeCompleteBody();
  }
}
