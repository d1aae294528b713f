// Hub-to-hub relay: a call that reaches hub A for a gateway whose agents are connected to hub B goes to B
// as plain HTTP: the request body starts with the call's head (a 4-byte length, then the head as JSON), the
// service's body follows, streamed both ways (TCP backpressure carries the flow control across), the caller's
// abort carried as an aborted request, the deadline in the head. The head travels in the body, not in a header,
// so any request a hub takes can be relayed (a header would meet the other hub's GATEHOUSE_MAX_HEADER_BYTES).
// Authenticated with an HMAC over the head under GATEHOUSE_CLUSTER_SECRET; the head names the hub it is for and
// carries a nonce, so a captured relay cannot be sent again, to that hub or to another (relay-envelope.ts).
// Hub A's side is an upstream (upstream-remote.ts); hub B serves the call here through the same pipeline as its
// own calls: its members of the gateway tried in turn (the one named first), one deadline to the head, the phase
// metrics and an access line with `relayed: true`. Hub B signs its answer to a relay it took (ANSWER_SIG, over the
// nonce and the status or error code), so hub A takes an answer only from a hub of the cluster.
import { timingSafeEqual } from 'node:crypto';
import { GatehouseError, type RequestHeadMessage } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx, Route } from '../http/router.js';
import { internal } from '../http/route-doc.js';
import { writeHeadFromList } from '../http/respond.js';
import type { AgentSession } from '../agents/session.js';
import type { Upstream, Upstreams } from '../relay/call-types.js';
import { runCall } from '../relay/pipeline.js';
import { MemberUpstream } from '../relay/upstream-member.js';
import {
  ANSWER_SIG,
  BACKEND,
  ERR,
  MAX_AGE_MS,
  answerSignature,
  NonceGuard,
  RELAY_PATH,
  SIG,
  readEnvelope,
  sign,
  type RelayEnvelope,
} from './relay-envelope.js';

export { RELAY_PATH };

/** The relayed request's body broke off (or another uncoded failure): what hub A gets. */
const coded = (err: unknown): GatehouseError =>
  err instanceof GatehouseError ? err : new GatehouseError('BadGateway', 'hub -> hub: the relayed request broke off');

/** This hub's members of the gateway, the one the envelope names first, each tried once. */
class Members implements Upstreams {
  private readonly tried = new Set<string>();

  constructor(
    private readonly deps: HubDeps,
    private readonly gatewayId: string,
    private readonly head: RequestHeadMessage,
  ) {}

  first(preferred: string): Upstream | undefined {
    const sessions = this.deps.registry.sessions(this.gatewayId);
    return this.upstream(sessions.find((s) => s.isAvailable && s.member.memberId === preferred) ?? sessions.find((s) => s.isAvailable));
  }

  next(): Upstream | undefined {
    return this.upstream(this.deps.registry.sessions(this.gatewayId).find((s) => s.isAvailable && !this.tried.has(s.member.memberId)));
  }

  private upstream(session: AgentSession | undefined): Upstream | undefined {
    if (!session) return undefined;
    this.tried.add(session.member.memberId);
    return new MemberUpstream(session, this.head, Number.POSITIVE_INFINITY, coded);
  }
}

/** The serving hub's clocks: the deadline (the head's timeoutMs) to the response head; hub A keeps the rest. Its
 *  answer is as long as the service's: hub A holds it to the route's limit. */
const RELAYED_TIMING = { wholeCall: false, toHeadOnly: true, idleMs: 0, maxResponseBytes: Number.POSITIVE_INFINITY } as const;

/** Hub B: serves a relayed call with one of its own agent sessions. */
export function relayRoutes(deps: HubDeps): Route[] {
  const nonces = new NonceGuard();
  const handler = async (ctx: Ctx): Promise<void> => {
    const secret = deps.config.clusterSecret;
    const signature = String(ctx.req.headers[SIG] ?? '');
    /** The relay's nonce once its signature, address, age and nonce checked: only then is the answer signed. */
    let taken: string | undefined;
    const fail = (e: GatehouseError): void => {
      ctx.res.setHeader(ERR, e.code);
      if (taken !== undefined && secret) ctx.res.setHeader(ANSWER_SIG, answerSignature(secret, taken, e.code));
      throw e;
    };
    if (!secret) return fail(new GatehouseError('Unauthorized', 'hub -> hub: this hub takes no relays (no cluster secret)'));
    let envelope: Buffer;
    let rest: AsyncIterable<Buffer>;
    try {
      let release: () => void;
      ({ envelope, rest, release } = await readEnvelope(ctx.req));
      ctx.res.once('close', release);
    } catch (err) {
      return fail(err as GatehouseError);
    }
    const expected = Buffer.from(sign(secret, envelope));
    if (expected.length !== Buffer.byteLength(signature) || !timingSafeEqual(expected, Buffer.from(signature))) {
      return fail(new GatehouseError('Unauthorized', "hub -> hub: the relay is not signed with this cluster's secret"));
    }
    const env = JSON.parse(envelope.toString()) as RelayEnvelope;
    if (env.to !== deps.config.advertiseUrl) return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay is addressed to another hub'));
    if (!(Math.abs(Date.now() - env.ts) <= MAX_AGE_MS))
      return fail(new GatehouseError('Unauthorized', "hub -> hub: the relay is too old (or the hubs' clocks differ by over 60 s)"));
    if (typeof env.nonce !== 'string' || !nonces.take(env.nonce)) return fail(new GatehouseError('Unauthorized', 'hub -> hub: the relay was used before'));
    taken = env.nonce;
    const members = new Members(deps, env.gatewayId, env.head);
    const first = members.first(env.memberId);
    if (!first) return fail(new GatehouseError('GatewayOffline', `hub -> agent: gateway ${env.gatewayId} has no online member on this hub`));
    let call;
    try {
      // The relayed body streams through once: a call moves to another member only when it has none.
      call = await runCall(
        deps,
        ctx,
        {
          timeoutMs: env.head.timeoutMs,
          timing: RELAYED_TIMING,
          route: env.route === 'proxy' ? 'proxy' : 'invoke',
          method: env.head.method,
          host: new URL(env.head.url).host,
          link: 'agent -> service',
          fields: { relayed: true, gateway: env.gatewayId, member: undefined, viaHub: undefined },
        },
        { body: env.head.bodyLength === 0 ? null : rest },
        first,
        members,
      );
    } catch (err) {
      return fail(coded(err));
    }
    // Exactly the service's headers go back (hub A adds its own): not this hub's request id for the relay request.
    ctx.res.removeHeader('x-request-id');
    // (a service's own x-gatehouse-relay-* headers would pass for this hub's)
    const headers = call.head.headers.filter(([k]) => !k.toLowerCase().startsWith('x-gatehouse-relay-'));
    writeHeadFromList(ctx.res, call.head.status, [
      ...headers,
      [BACKEND, String(call.head.backendMs ?? 0)],
      [ANSWER_SIG, answerSignature(secret, taken, call.head.status)],
    ]);
    call.pipeResponse(ctx.res);
  };
  return [
    {
      method: 'POST',
      path: RELAY_PATH,
      pattern: new RegExp(`^${RELAY_PATH}$`),
      handler,
      doc: internal("the hubs' relay: one hub to another, signed with the cluster secret"),
    },
  ];
}
