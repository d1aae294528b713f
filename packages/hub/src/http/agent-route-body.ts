// The agent routes that read a body before anything authenticates the sender (register, join-info): small
// bodies and a short deadline, so strangers cannot hold the hub's requests (issue 22, finding 4: 300 slow
// bodies to these routes were all held). The sender's address is checked against the agent authentication limiter
// before a byte is read, and a body that does not name a gateway and key counts as a failure (red team B5: 706
// junk-key bodies in 4 s were parsed and answered 400, never 429).
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { readJson, reqString, type JsonObject } from './respond.js';
import type { Ctx } from './router.js';

/** Largest body (PayloadTooLarge past it): register's fields at their own limits (public key 8 KiB, sealed private key 16 KiB, proof 2 KiB
 *  and short names) fit with room to spare; real ones are about 3 KiB. */
export const AGENT_ROUTE_MAX_BODY = 32 * 1024;
/** The whole body must arrive within this, from when the route starts reading it. */
export const AGENT_ROUTE_DEADLINE_MS = 10_000;

export async function readAgentRouteJson(req: IncomingMessage): Promise<JsonObject> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new GatehouseError(
            'RequestTimeout',
            `caller -> hub: the request body did not arrive within ${AGENT_ROUTE_DEADLINE_MS / 1000} s (unauthenticated agent route)`,
          ),
        ),
      AGENT_ROUTE_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([readJson(req, AGENT_ROUTE_MAX_BODY, AGENT_ROUTE_DEADLINE_MS), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A registration route's body, with the gateway id and registration key it must name. Refused (429) before
 *  anything is read when the address failed too often lately; a body that is late, too large, not JSON or
 *  without the two fields counts as one failed agent authentication from that address. */
export async function readRegistrationBody(deps: HubDeps, ctx: Ctx): Promise<{ body: JsonObject; gatewayId: string; key: string }> {
  const address = ctx.req.socket.remoteAddress;
  const limited = deps.agentAuth.refusal(address, undefined);
  if (limited) throw limited;
  try {
    const body = await readAgentRouteJson(ctx.req);
    return { body, gatewayId: reqString(body, 'gatewayId', 64), key: reqString(body, 'registrationKey', 128) };
  } catch (err) {
    deps.agentAuth.failure(address, undefined, 'registration');
    throw err;
  }
}
