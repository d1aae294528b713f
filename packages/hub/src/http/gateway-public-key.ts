// GET /v1/gateways/{id}/public-key (SPEC section 3 ★, issue 25): the gateway's current public key, so a client
// (the console) seals a connection's credentials itself and the hub never holds them. Whoever may create
// connections on the gateway (ConnectionCreator or above: auth/access.ts) may read it.
import { GatehouseError, SEAL_ALGORITHM, gatewayKeyInfo } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { gatewayFor } from '../auth/access.js';
import { GATEWAY_DOCS } from './gateway-docs.js';
import { sendJson } from './respond.js';
import { route, type Route } from './router.js';

export function gatewayKeyRoutes(deps: HubDeps): Route[] {
  return [
    route('GET', '/v1/gateways/{id}/public-key', GATEWAY_DOCS.publicKey, async (ctx) => {
      const { gateway: g } = await gatewayFor(deps, ctx, ctx.params[0]!, 'create');
      if (!g.publicKeyPem) {
        throw new GatehouseError('NotFound', 'caller -> hub: the gateway has no public key yet: register its first agent (gatehouse-agent register)');
      }
      const k = gatewayKeyInfo(g.publicKeyPem);
      sendJson(ctx.res, 200, { gatewayId: g.id, keyId: k.keyId, publicKeyPem: k.publicKeyPem, algorithm: SEAL_ALGORITHM });
    }),
  ];
}
