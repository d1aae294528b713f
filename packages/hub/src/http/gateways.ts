// Gateways API (SPEC section 6): gateways, their members, registration keys and the list of their connections, as
// the caller's role on each allows (auth/access.ts); roles themselves are http/gateway-roles.ts. The agents' own
// routes are http/agent-api.ts.
import { randomUUID } from 'node:crypto';
import { CloseCode, GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { GatewayRecord, GatewayRole, MemberRecord } from '../store/store.js';
import { gatewayFor, principalIds, roleAmong } from '../auth/access.js';
import { invalid, optString, readJson, reqString, sendJson } from './respond.js';
import { route, type Ctx, type Route } from './router.js';
import { GATEWAY_DOCS } from './gateway-docs.js';
import { newRegistrationKey } from './registration-keys.js';
import { connectionView } from './connections.js';
import { recordByCaller } from './audit-record.js';
import { listWindow, pageOf } from './list-page.js';
import { checkOwnershipCap } from './ownership-caps.js';

/** How many of the connections still using a gateway its refused delete names. */
const NAMED_IN_USE = 5;

/** The gateway, when the caller is one of its Admins (404 without a role, 403 with a lesser one). */
export async function ownGateway(deps: HubDeps, ctx: Ctx, id: string): Promise<GatewayRecord> {
  return (await gatewayFor(deps, ctx, id, 'admin')).gateway;
}

/** `known`: the gateway's members when the caller read them already (a page of the list reads them in one query). */
export async function gatewayView(deps: HubDeps, g: GatewayRecord, role?: GatewayRole, known?: MemberRecord[]) {
  const [members, entries] = await Promise.all([known ?? deps.store.listMembers(g.id), deps.presence.entries(g.id)]);
  const view = members.map((m) => {
    // A member may be connected to several hubs: the earliest connection speaks for it.
    const here = entries.filter((e) => e.memberId === m.id).sort((a, b) => a.connectedAt.localeCompare(b.connectedAt));
    const e = here[0];
    // What this hub itself sees of the member's connections to it (other hubs' are not shared).
    const local = deps.registry.sessions(g.id).filter((s) => s.member.memberId === m.id && s.isOpen);
    const trips = local.map((s) => s.roundTripMs).filter((t) => t !== undefined);
    // Its last error as this hub saw it (agents/member-errors.ts), kept after it went offline.
    const lastError = deps.registry.lastErrors.get(m.id);
    return {
      id: m.id,
      name: m.name,
      hostname: e?.hostname || m.hostname,
      version: e?.version || m.version,
      status: e ? 'online' : 'offline',
      enabled: m.enabled,
      hubs: here.length,
      connectedAt: e?.connectedAt ?? null,
      lastSeenAt:
        here
          .map((x) => x.lastSeenAt)
          .sort()
          .at(-1) ?? m.lastSeenAt,
      ...(local.length > 0 ? { inFlight: local.reduce((n, s) => n + s.inFlight, 0) } : {}),
      ...(trips.length > 0 ? { roundTripMs: Math.min(...trips) } : {}),
      ...(lastError ? { lastError } : {}),
    };
  });
  return {
    id: g.id,
    name: g.name,
    status: view.some((m) => m.status === 'online') ? 'online' : 'offline',
    routing: g.routing,
    members: view,
    createdAt: g.createdAt,
    ...(role ? { role } : {}),
  };
}

export function adminRoutes(deps: HubDeps): Route[] {
  return [
    route('POST', '/v1/gateways', GATEWAY_DOCS.create, async (ctx) => {
      const caller = await deps.caller(ctx);
      const body = await readJson(ctx.req, deps.config);
      const name = reqString(body, 'name', 128);
      await checkOwnershipCap(deps, 'gateways', caller);
      const g: GatewayRecord = {
        id: randomUUID(),
        name,
        ownerTid: caller.tid,
        ownerOid: caller.oid,
        publicKeyPem: null,
        sealedPrivateKey: null,
        routing: 'primary',
        createdAt: deps.now().toISOString(),
        keyHandoff: null,
        previousPublicKeyPem: null,
      };
      await deps.store.createGateway(g, caller.kind === 'app' ? 'ServicePrincipal' : 'User');
      const registrationKey = await newRegistrationKey(deps, g.id);
      await recordByCaller(deps, ctx, { action: 'gateway.create', target: { type: 'gateway', id: g.id }, gatewayId: g.id, details: { name } });
      sendJson(ctx.res, 201, { id: g.id, name: g.name, registrationKey });
    }),
    route('GET', '/v1/gateways', GATEWAY_DOCS.list, async (ctx) => {
      const caller = await deps.caller(ctx);
      // One page (and one gateway more, to know whether there is a next) read in order by the store, not every
      // gateway the caller has a role on; views (members, roles, presence) only for that page.
      const { top, after } = listWindow(ctx.req.url ?? '');
      const list = await deps.store.listGatewaysFor(caller.tid, principalIds(caller), { after, limit: top + 1 });
      const { page, nextLink } = pageOf('/v1/gateways', top, list);
      const members = await deps.store.listMembersOf(page.map((g) => g.id));
      const views = page.map(async (g) => gatewayView(deps, g, roleAmong(await deps.store.listGatewayRoles(g.id), caller), members.get(g.id)));
      sendJson(ctx.res, 200, { value: await Promise.all(views), ...(nextLink ? { nextLink } : {}) });
    }),
    route('GET', '/v1/gateways/{id}', GATEWAY_DOCS.get, async (ctx) => {
      const { gateway, role } = await gatewayFor(deps, ctx, ctx.params[0]!, 'see');
      sendJson(ctx.res, 200, await gatewayView(deps, gateway, role));
    }),
    route('GET', '/v1/gateways/{id}/connections', GATEWAY_DOCS.connections, async (ctx) => {
      // Admins see every connection on the gateway: metadata and owner, never credentials, never the use of it.
      // Paged as the other lists, a page (and one more) read in order by the store.
      const { gateway } = await gatewayFor(deps, ctx, ctx.params[0]!, 'admin');
      const { top, after } = listWindow(ctx.req.url ?? '');
      const list = await deps.store.listGatewayConnections(gateway.id, { after, limit: top + 1 });
      const { page, nextLink } = pageOf(`/v1/gateways/${gateway.id}/connections`, top, list);
      sendJson(ctx.res, 200, {
        value: page.map((c) => ({ ...connectionView(c), owner: { tenantId: c.ownerTid, objectId: c.ownerOid } })),
        ...(nextLink ? { nextLink } : {}),
      });
    }),
    route('POST', '/v1/gateways/{id}/registration-keys', GATEWAY_DOCS.registrationKey, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const registrationKey = await newRegistrationKey(deps, g.id);
      // (never the key, nor its hash)
      await recordByCaller(deps, ctx, { action: 'registrationKey.create', target: { type: 'gateway', id: g.id }, gatewayId: g.id });
      sendJson(ctx.res, 201, { registrationKey });
    }),
    route('PATCH', '/v1/gateways/{id}', GATEWAY_DOCS.update, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const body = await readJson(ctx.req, deps.config);
      const routing = optString(body, 'routing', 16);
      if (routing !== 'primary' && routing !== 'distribute') throw invalid('routing must be primary or distribute');
      await deps.store.setGatewayRouting(g.id, routing);
      await recordByCaller(deps, ctx, {
        action: 'gateway.update',
        target: { type: 'gateway', id: g.id },
        gatewayId: g.id,
        details: { changed: ['routing'], routing, previousRouting: g.routing },
      });
      sendJson(ctx.res, 200, await gatewayView(deps, { ...g, routing }, 'Admin'));
    }),
    route('DELETE', '/v1/gateways/{id}', GATEWAY_DOCS.remove, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      if (!(await deps.store.deleteGateway(g.id))) {
        // The first five by creation are named, and one more read tells whether there are others.
        const using = (await deps.store.listGatewayConnections(g.id, { after: undefined, limit: NAMED_IN_USE + 1 })).map((c) => c.id);
        throw invalid(
          `connections still use this gateway (${using.slice(0, NAMED_IN_USE).join(', ')}${using.length > NAMED_IN_USE ? ', …' : ''}): delete them first`,
        );
      }
      // Its agents are told their credential is gone (they stop reconnecting); other hubs close theirs within
      // MEMBER_SYNC_MS (agents/member-sync.ts).
      for (const s of deps.registry.sessions(g.id)) s.close(CloseCode.CredentialRevoked, 'gateway deleted');
      await recordByCaller(deps, ctx, { action: 'gateway.delete', target: { type: 'gateway', id: g.id }, gatewayId: g.id, details: { name: g.name } });
      ctx.res.writeHead(204).end();
    }),
    route('PATCH', '/v1/gateways/{id}/members/{memberId}', GATEWAY_DOCS.updateMember, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const m = await deps.store.getMember(ctx.params[1]!);
      if (!m || m.gatewayId !== g.id) throw new GatehouseError('NotFound', 'caller -> hub: no such member');
      const body = await readJson(ctx.req, deps.config);
      if (typeof body.enabled !== 'boolean') throw invalid('enabled must be true or false');
      await deps.store.setMemberEnabled(m.id, body.enabled);
      for (const s of deps.registry.sessions(g.id))
        if (s.member.memberId === m.id) {
          s.enabled = body.enabled;
          deps.presence.announce(s);
        }
      await recordByCaller(deps, ctx, {
        action: body.enabled ? 'member.enable' : 'member.disable',
        target: { type: 'member', id: m.id },
        gatewayId: g.id,
        details: { name: m.name, wasEnabled: m.enabled },
      });
      sendJson(ctx.res, 200, await gatewayView(deps, g, 'Admin'));
    }),
    route('DELETE', '/v1/gateways/{id}/members/{memberId}', GATEWAY_DOCS.removeMember, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const m = await deps.store.getMember(ctx.params[1]!);
      if (!m || m.gatewayId !== g.id) throw new GatehouseError('NotFound', 'caller -> hub: no such member');
      await deps.store.deleteMember(m.id);
      deps.registry.lastErrors.forget(m.id);
      for (const s of deps.registry.sessions(g.id)) if (s.member.memberId === m.id) s.close(CloseCode.CredentialRevoked, 'member removed');
      await recordByCaller(deps, ctx, {
        action: 'member.delete',
        target: { type: 'member', id: m.id },
        gatewayId: g.id,
        details: { name: m.name, hostname: m.hostname },
      });
      ctx.res.writeHead(204).end();
    }),
  ];
}
