// The agent routes that read a body before anything authenticates the sender (register, join-info): small
// bodies and a short deadline, so strangers cannot hold the hub's requests (issue 22, finding 4: 300 slow
// bodies to these routes were all held). The sender's address is checked against the agent authentication limiter
// before a byte is read, and a body that does not name a gateway and key counts as a failure (red team B5: 706
// junk-key bodies in 4 s were parsed and answered 400, never 429).
import type { IncomingMessage } from 'node:http';
import type { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { clientAddress } from './client-address.js';
import { parseJsonObject, readBody, reqString, requireJson, type JsonObject } from './respond.js';
import type { Ctx } from './router.js';

/** Largest body (PayloadTooLarge past it): register's fields at their own limits (public key 8 KiB, sealed private key 16 KiB, proof 2 KiB
 *  and short names) fit with room to spare; real ones are about 3 KiB. */
export const AGENT_ROUTE_MAX_BODY = 32 * 1024;
/** The whole body must arrive within this, from when the route starts reading it. */
export const AGENT_ROUTE_DEADLINE_MS = 10_000;

export async function readAgentRouteJson(req: IncomingMessage): Promise<JsonObject> {
  return parseJsonObject(await readAgentRouteBody(req));
}

/** An unauthenticated agent route's body: AGENT_ROUTE_MAX_BODY bytes within AGENT_ROUTE_DEADLINE_MS, however it
 *  trickles in. */
async function readAgentRouteBody(req: IncomingMessage): Promise<Buffer> {
  requireJson(req);
  return readBody(req, AGENT_ROUTE_MAX_BODY, { stallMs: AGENT_ROUTE_DEADLINE_MS, wholeMs: AGENT_ROUTE_DEADLINE_MS, setBy: 'unauthenticated agent route' });
}

/** The two fields a registration body must name, read from its raw text without parsing it (bounded: the body is
 *  at most AGENT_ROUTE_MAX_BODY; the patterns are linear). Only for deciding whether a limited address presents a
 *  registration key this hub knows; the body is parsed properly afterwards. */
function namedKey(raw: Buffer): { gatewayId: string; key: string } | undefined {
  const text = raw.toString('latin1');
  const gatewayId = /"gatewayId"\s*:\s*"([A-Za-z0-9_-]{1,64})"/.exec(text)?.[1];
  const key = /"registrationKey"\s*:\s*"([A-Za-z0-9_\-.~+/=]{1,128})"/.exec(text)?.[1];
  return gatewayId && key ? { gatewayId, key } : undefined;
}

/** A registration route's body, with the gateway id and registration key it must name. A body that is late, too
 *  large, not JSON or without the two fields counts as one failed agent authentication from that address. While the
 *  address is over its failure limit, the body (small, bounded) is read but parsed only when it names its gateway's
 *  newest registration key (agents/known-credentials.ts, reloaded from the store at most once per
 *  RELOAD_INTERVAL_MS for a gateway this hub does not know: a valid key is never refused, red team B3 and R2);
 *  anything else gets 429 without a parse (red team B5: 706 junk-key bodies in 4 s were parsed, never 429). */
export async function readRegistrationBody(deps: HubDeps, ctx: Ctx): Promise<{ body: JsonObject; gatewayId: string; key: string }> {
  const address = clientAddress(ctx.req, deps.config.trustedProxies);
  const limited = await deps.agentAuth.refusal(address, undefined);
  let refused: GatehouseError | undefined;
  try {
    const raw = await readAgentRouteBody(ctx.req);
    if (limited) {
      const named = namedKey(raw);
      refused = named ? await deps.agentAuth.refusal(address, `gateway:${named.gatewayId}`, named.key) : limited;
      if (refused) throw refused;
    }
    const body = parseJsonObject(raw);
    return { body, gatewayId: reqString(body, 'gatewayId', 64), key: reqString(body, 'registrationKey', 128) };
  } catch (err) {
    if (err !== refused) deps.agentAuth.failure(address, undefined, 'registration');
    throw err;
  }
}
