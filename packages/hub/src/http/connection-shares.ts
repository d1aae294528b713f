// Connection shares (SPEC section 3 ★): `PUT`/`GET`/`DELETE /v1/connections/{id}/shares[/{principalId}]`, for the
// connection's owner. A share lets a user, a group's members or an app use the connection (invoke, raw route, its
// metadata), never change or delete it or see its credentials. On a gateway, sharing needs the owner's
// ConnectionCreatorWithSharing or Admin role there. Every change is on the audit record (audit/audit.ts).
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { allows, connectionFor, gatewayRole } from '../auth/access.js';
import type { ShareRecord } from '../store/store.js';
import { principalIdOf, principalTypeOf } from './principal-input.js';
import { invalid, readJson, sendJson } from './respond.js';
import { route, type Route } from './router.js';
import { CONNECTION_DOCS } from './connection-docs.js';
import { recordByCaller } from './audit-record.js';

/** Most principals one connection is shared with; docs/operations.md "Teams". */
export const MAX_SHARES_PER_CONNECTION = 100;

const shareView = (s: ShareRecord) => ({ principalId: s.principalId, principalType: s.principalType });

export function connectionShareRoutes(deps: HubDeps): Route[] {
  return [
    route('GET', '/v1/connections/{id}/shares', CONNECTION_DOCS.shares, async (ctx) => {
      const { conn } = await connectionFor(deps, ctx, ctx.params[0]!, 'own');
      sendJson(ctx.res, 200, { value: (await deps.store.listShares(conn.id)).map(shareView) });
    }),
    route('PUT', '/v1/connections/{id}/shares/{principalId}', CONNECTION_DOCS.share, async (ctx) => {
      const { conn, caller } = await connectionFor(deps, ctx, ctx.params[0]!, 'own');
      const principalId = principalIdOf(ctx.params[1]!);
      const body = await readJson(ctx.req, deps.config);
      const principalType = principalTypeOf(body);
      if (principalId === caller.oid) throw invalid('the owner already has the connection: share it with another principal');
      if (conn.gatewayId !== null) {
        const found = await gatewayRole(deps, caller, conn.gatewayId);
        if (!allows(found?.role, 'share'))
          throw new GatehouseError(
            'Forbidden',
            `caller -> hub: sharing a connection on gateway ${conn.gatewayId} needs the ConnectionCreatorWithSharing or Admin role there; you hold ${found?.role ?? 'none'}`,
          );
      }
      const existing = await deps.store.listShares(conn.id);
      const known = existing.some((s) => s.principalTid === caller.tid && s.principalId === principalId);
      if (!known && existing.length >= MAX_SHARES_PER_CONNECTION)
        throw invalid(`a connection is shared with at most ${MAX_SHARES_PER_CONNECTION} principals: remove one first`);
      const share: ShareRecord = { connectionId: conn.id, principalTid: caller.tid, principalId, principalType, createdAt: deps.now().toISOString() };
      await deps.store.putShare(share);
      // The owner's groups as of now: whether they still hold a role on the gateway when others call is judged by them.
      if (conn.gatewayId !== null && conn.ownerGroups.join() !== caller.groups.join())
        await deps.store.updateConnection({ ...conn, ownerGroups: caller.groups });
      await recordByCaller(deps, ctx, {
        action: 'share.set',
        target: { type: 'share', id: principalId },
        connectionId: conn.id,
        gatewayId: conn.gatewayId,
        details: { principalId, principalType },
      });
      sendJson(ctx.res, 200, shareView(share));
    }),
    route('DELETE', '/v1/connections/{id}/shares/{principalId}', CONNECTION_DOCS.unshare, async (ctx) => {
      const { conn, caller } = await connectionFor(deps, ctx, ctx.params[0]!, 'own');
      const principalId = principalIdOf(ctx.params[1]!);
      if (!(await deps.store.deleteShare(conn.id, caller.tid, principalId)))
        throw new GatehouseError('NotFound', 'caller -> hub: the connection is not shared with that principal');
      await recordByCaller(deps, ctx, {
        action: 'share.delete',
        target: { type: 'share', id: principalId },
        connectionId: conn.id,
        gatewayId: conn.gatewayId,
        details: { principalId },
      });
      ctx.res.writeHead(204).end();
    }),
  ];
}
