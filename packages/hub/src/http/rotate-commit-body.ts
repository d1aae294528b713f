// What the body of POST /v1/agent/rotate/commit may be, and reading it (red team B1: one member credential posting
// 16 MB of tiny JSON keys blocked the hub's event loop 2.5 s and grew its heap 200 MB; four at once made it
// unresponsive for 25 s). The bound is what the route really needs, worked out from the gateway before a byte is
// read; the bytes count in the held-body pool (GATEHOUSE_MAX_HELD_BODIES and its per-tenant share) while read; and
// the body's shape (keys, depth) is checked by a linear scan before JSON.parse builds anything.
import type { IncomingMessage } from 'node:http';
import { MAX_GATEWAY_KEY_BITS, maxSealedChars } from '@gatehouse/shared';
import type { HeldShare } from '../relay/invoke-body.js';
import { invalid, jsonShapeProblem, parseShapedObject, readBody, requireJson, type BodyTimes, type JsonObject } from './respond.js';

/** Connections one gateway may have: each sealed one is an entry of the rotation's resealed list. */
export const MAX_CONNECTIONS_PER_GATEWAY = 256;
/** The largest new gateway key a rotation takes, in bits (the agent makes 3072-bit keys). */
export const MAX_ROTATED_KEY_BITS = MAX_GATEWAY_KEY_BITS;
/** The fields besides the list: two public keys (8 KiB each), the sealed private key and the hand-off (16 KiB
 *  each), with room for JSON's quotes and escapes. */
export const COMMIT_FIXED_BYTES = 64 * 1024;
/** One resealed entry: a blob sealed to a key of MAX_ROTATED_KEY_BITS (11,648 base64 characters) with its
 *  connection id and JSON around it. */
export const RESEALED_ENTRY_BYTES = maxSealedChars(MAX_ROTATED_KEY_BITS / 8) + 128;

/** The body bound for a gateway with `sealed` connections holding credentials (at most 256: about 3 MiB). */
export function commitBodyLimit(sealed: number): number {
  return COMMIT_FIXED_BYTES + sealed * RESEALED_ENTRY_BYTES;
}

/** The commit body of a gateway with `sealed` connections holding credentials, its bytes taken from `held` as
 *  they arrive (503 past the pool or the tenant's share), refused (400) before parsing when its shape could not
 *  be a commit. */
export async function readCommitBody(req: IncomingMessage, sealed: number, times: BodyTimes, held: HeldShare): Promise<JsonObject> {
  requireJson(req);
  const raw = await readBody(req, commitBodyLimit(sealed), times, (n) => held.take(n));
  // Five fields and a list at the top; each resealed entry `{"connectionId":…,"sealed":…}` and the comma after it
  // count 5 (an object, two keys, a comma inside, a comma between).
  const shape = { tokens: 16 + 5 * sealed, depth: 3 };
  const problem = jsonShapeProblem(raw, shape);
  if (problem)
    throw invalid(
      `the rotation's body ${problem}: it is {previousPublicKeyPem, publicKeyPem, sealedPrivateKey, keyHandoff, resealed: [{connectionId, sealed}]}`,
    );
  return parseShapedObject(raw);
}
