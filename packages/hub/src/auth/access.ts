// Who may do what on a gateway and on a connection (SPEC sections 3 and 6), decided here for every route.
// Gateways: a principal's role (Admin > ConnectionCreatorWithSharing > ConnectionCreator), given to it directly or
// to a group its token lists; no role, no gateway (404). Connections: the owner, or a principal it is shared with
// (use only); a gateway connection is usable only while its owner holds a role on the gateway.
// The roles and shares come through the store's read cache (store/read-cache.ts), so a call costs no database
// round trip for them; a change made on another hub applies here within that cache's lifetime (2 s).
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Ctx } from '../http/router.js';
import type { ConnectionRecord, GatewayRecord, GatewayRole, GatewayRoleRecord, ShareRecord } from '../store/store.js';
import type { Caller } from './caller-auth.js';

/** Who a role or a share is matched against: an object id, and the groups it is in, of one tenant. */
export interface Principal {
  tid: string;
  oid: string;
  groups: readonly string[];
}

const RANK: Readonly<Record<GatewayRole, number>> = { ConnectionCreator: 1, ConnectionCreatorWithSharing: 2, Admin: 3 };

/** What a route needs on a gateway: `see` it and its members' status, `create` connections on it, `share` those,
 *  or `admin` it (members, keys, routing, roles, its connections' list, removal). */
export type GatewayNeed = 'see' | 'create' | 'share' | 'admin';
const NEEDS: Readonly<Record<GatewayNeed, GatewayRole>> = {
  see: 'ConnectionCreator',
  create: 'ConnectionCreator',
  share: 'ConnectionCreatorWithSharing',
  admin: 'Admin',
};

const matches = (p: Principal, tid: string, id: string): boolean => tid === p.tid && (id === p.oid || p.groups.includes(id));

/** The highest role `p` holds among a gateway's roles (its own or a group's), if any. */
export function roleAmong(roles: readonly GatewayRoleRecord[], p: Principal): GatewayRole | undefined {
  let best: GatewayRole | undefined;
  for (const r of roles) if (matches(p, r.principalTid, r.principalId) && (!best || RANK[r.role] > RANK[best])) best = r.role;
  return best;
}

export const allows = (role: GatewayRole | undefined, need: GatewayNeed): boolean => role !== undefined && RANK[role] >= RANK[NEEDS[need]];

export function sharedWith(shares: readonly ShareRecord[], p: Principal): boolean {
  return shares.some((s) => matches(p, s.principalTid, s.principalId));
}

/** The ids a caller is matched by in a list query: itself and its groups. */
export const principalIds = (p: Principal): string[] => [p.oid, ...p.groups];

const noGateway = () => new GatehouseError('NotFound', 'caller -> hub: no such gateway');

/** The caller's role on a gateway; undefined when there is no such gateway or the caller holds no role on it. */
export async function gatewayRole(deps: HubDeps, caller: Caller, id: string): Promise<{ gateway: GatewayRecord; role: GatewayRole } | undefined> {
  const gateway = await deps.store.getGateway(id);
  if (!gateway) return undefined;
  const role = roleAmong(await deps.store.listGatewayRoles(id), caller);
  return role && { gateway, role };
}

/** The gateway, when the caller's role allows `need`: 404 without a role (as for no gateway), 403 naming the role
 *  needed when the caller's is lesser. */
export async function gatewayFor(deps: HubDeps, ctx: Ctx, id: string, need: GatewayNeed): Promise<{ gateway: GatewayRecord; role: GatewayRole }> {
  const found = await gatewayRole(deps, await deps.caller(ctx), id);
  if (!found) throw noGateway();
  if (!allows(found.role, need))
    throw new GatehouseError('Forbidden', `caller -> hub: this needs the ${NEEDS[need]} role (or a higher one) on the gateway; you hold ${found.role}`);
  return found;
}

export type ConnectionAccess = 'Owner' | 'User';

/** What a route needs on a connection: `see` its metadata, `use` it (invoke, raw route) or `own` it (change,
 *  delete, share, its credentials). A share allows the first two. */
export type ConnectionNeed = 'see' | 'use' | 'own';

/**
 * The connection, when the caller may `need` it: 404 when it is neither the owner's nor shared with the caller;
 * 403 when a principal it is shared with would change it; for use, 403 when it runs through a gateway on which
 * its owner no longer holds a role.
 */
export async function connectionFor(
  deps: HubDeps,
  ctx: Ctx,
  id: string,
  need: ConnectionNeed,
): Promise<{ conn: ConnectionRecord; access: ConnectionAccess; caller: Caller }> {
  const caller = await deps.caller(ctx);
  // A call (invoke, raw route) refused here never reaches the connection's throttle, and calls are not under the
  // management API rate: a caller looping calls to connections it cannot use (1,140 404s a second, red team
  // session 18) is counted against that rate instead, and gets its 429 past it.
  const refused = (err: GatehouseError): GatehouseError => {
    if (ctx.tags.route === undefined) return err;
    try {
      deps.apiRate.admit(caller);
    } catch (over) {
      return over as GatehouseError;
    }
    return err;
  };
  const conn = await deps.store.getConnection(id);
  if (!conn) throw refused(new GatehouseError('NotFound', 'caller -> hub: no such connection'));
  const owner = conn.ownerTid === caller.tid && conn.ownerOid === caller.oid;
  if (!owner) {
    // Another principal's connection, not shared with the caller, is indistinguishable from none.
    if (!sharedWith(await deps.store.listShares(id), caller)) throw refused(new GatehouseError('NotFound', 'caller -> hub: no such connection'));
    if (need === 'own')
      throw new GatehouseError('Forbidden', "caller -> hub: only the connection's owner may change, delete or share it; a share grants its use only");
  }
  if (need === 'use' && conn.gatewayId !== null) {
    // The owner as their own call shows them (their token's groups), or as they were when they last changed it.
    const ownerNow: Principal = { tid: conn.ownerTid, oid: conn.ownerOid, groups: owner ? caller.groups : conn.ownerGroups };
    if (!roleAmong(await deps.store.listGatewayRoles(conn.gatewayId), ownerNow))
      throw refused(
        new GatehouseError(
          'Forbidden',
          `caller -> hub: the connection's owner no longer holds a role on its gateway ${conn.gatewayId}: a gateway Admin must give them one for it to be used again`,
        ),
      );
  }
  return { conn, access: owner ? 'Owner' : 'User', caller };
}
