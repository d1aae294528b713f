// The agent routes that read a body before anything authenticates the sender (register, join-info): small
// bodies and a short deadline, so strangers cannot hold the hub's requests (issue 22, finding 4: 300 slow
// bodies to these routes were all held).
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '@gatehouse/shared';
import { readJson, type JsonObject } from './respond.js';

/** Largest body: register's fields at their own limits (public key 8 KiB, sealed private key 16 KiB, proof 2 KiB
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
