// Gateway roles (SPEC section 6): `GET /v1/gateways/{id}/roles`, `PUT`/`DELETE …/roles/{principalId}`, for the
// gateway's Admins. Principals are of the caller's tenant; the gateway always keeps an Admin. Every change is on the audit record (audit/audit.ts).
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import { gatewayFor } from '../auth/access.js';
import type { GatewayRole, GatewayRoleRecord } from '../store/store.js';
import { principalIdOf, principalTypeOf } from './principal-input.js';
import { invalid, readJson, sendJson } from './respond.js';
import { route, type Route } from './router.js';
import { GATEWAY_DOCS } from './gateway-docs.js';
import { recordByCaller } from './audit-record.js';

const ROLES: readonly GatewayRole[] = ['Admin', 'ConnectionCreator', 'ConnectionCreatorWithSharing'];
/** Most roles one gateway holds (principals and groups together); docs/operations.md "Teams". */
export const MAX_ROLES_PER_GATEWAY = 100;

const roleView = (r: GatewayRoleRecord) => ({ principalId: r.principalId, principalType: r.principalType, role: r.role });

const lastAdmin = () => invalid("this is the gateway's last Admin: give another principal the Admin role first (a gateway always keeps one)");

export function gatewayRoleRoutes(deps: HubDeps): Route[] {
  return [
    route('GET', '/v1/gateways/{id}/roles', GATEWAY_DOCS.roles, async (ctx) => {
      const { gateway } = await gatewayFor(deps, ctx, ctx.params[0]!, 'admin');
      sendJson(ctx.res, 200, { value: (await deps.store.listGatewayRoles(gateway.id)).map(roleView) });
    }),
    route('PUT', '/v1/gateways/{id}/roles/{principalId}', GATEWAY_DOCS.setRole, async (ctx) => {
      const { gateway } = await gatewayFor(deps, ctx, ctx.params[0]!, 'admin');
      const caller = await deps.caller(ctx);
      const principalId = principalIdOf(ctx.params[1]!);
      const body = await readJson(ctx.req, deps.config);
      const principalType = principalTypeOf(body);
      const role = body.role;
      if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw invalid(`role must be one of ${ROLES.join(', ')}`);
      const existing = await deps.store.listGatewayRoles(gateway.id);
      const known = existing.some((r) => r.principalTid === caller.tid && r.principalId === principalId);
      if (!known && existing.length >= MAX_ROLES_PER_GATEWAY) throw invalid(`a gateway holds at most ${MAX_ROLES_PER_GATEWAY} roles: remove one first`);
      const record: GatewayRoleRecord = {
        gatewayId: gateway.id,
        principalTid: caller.tid,
        principalId,
        principalType,
        role: role as GatewayRole,
        createdAt: deps.now().toISOString(),
      };
      const previous = existing.find((r) => r.principalTid === caller.tid && r.principalId === principalId)?.role ?? null;
      if (!(await deps.store.setGatewayRole(record))) throw lastAdmin();
      await recordByCaller(deps, ctx, {
        action: 'role.set',
        target: { type: 'role', id: principalId },
        gatewayId: gateway.id,
        details: { principalId, principalType, role: record.role, previousRole: previous },
      });
      sendJson(ctx.res, 200, roleView(record));
    }),
    route('DELETE', '/v1/gateways/{id}/roles/{principalId}', GATEWAY_DOCS.removeRole, async (ctx) => {
      const { gateway } = await gatewayFor(deps, ctx, ctx.params[0]!, 'admin');
      const caller = await deps.caller(ctx);
      const principalId = principalIdOf(ctx.params[1]!);
      const before = (await deps.store.listGatewayRoles(gateway.id)).find((r) => r.principalTid === caller.tid && r.principalId === principalId);
      const done = await deps.store.deleteGatewayRole(gateway.id, caller.tid, principalId);
      if (done === 'absent') throw new GatehouseError('NotFound', 'caller -> hub: that principal holds no role on this gateway');
      if (done === 'last-admin') throw lastAdmin();
      await recordByCaller(deps, ctx, {
        action: 'role.delete',
        target: { type: 'role', id: principalId },
        gatewayId: gateway.id,
        details: { principalId, principalType: before?.principalType ?? null, previousRole: before?.role ?? null },
      });
      ctx.res.writeHead(204).end();
    }),
  ];
}
