// Connections API (SPEC section 3): the caller's own connections and those shared with it (auth/access.ts says
// which it may do what with); secrets write-only, sealed at once or sealed by the client (connection-credentials.ts).
// Shares themselves: http/connection-shares.ts.
import { randomUUID } from 'node:crypto';
import { checkOwnershipCap } from './ownership-caps.js';
import { byCreation, listWindow, pageOf } from './list-page.js';
import { GatehouseError, normaliseBaseUrl, parseBaseUrl } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { Caller } from '../auth/caller-auth.js';
import { allows, connectionFor, gatewayRole, principalIds, type ConnectionAccess } from '../auth/access.js';
import { ENTRA_ID_GUID, cloudsOfResource } from '../auth/clouds.js';
import type { AuthType, ConnectionRecord, ConnectionSummary } from '../store/store.js';
import { credentialsFor, hasCredentials } from './connection-credentials.js';
import { invalid, optString, readJson, sendJson, type JsonObject } from './respond.js';
import { route, type Ctx, type Route } from './router.js';
import { CONNECTION_DOCS } from './connection-docs.js';
import { recordByCaller } from './audit-record.js';
import { MAX_CONNECTIONS_PER_GATEWAY } from './rotate-commit-body.js';

const AUTH_TYPES: readonly AuthType[] = ['EntraAuth', 'AnonymousGateway', 'BasicGateway', 'WindowsGateway'];
/** Built so far; the others answer a clear 400 until their issue lands. */
const SUPPORTED: ReadonlySet<AuthType> = new Set(['EntraAuth', 'AnonymousGateway', 'BasicGateway', 'WindowsGateway']);
const LEGACY: Record<string, AuthType> = { anonymous: 'AnonymousGateway', basic: 'BasicGateway', windows: 'WindowsGateway' };

/** What the API shows of a connection, whole or as the lists read it (never the credentials, only whether it has them). */
export function connectionView(c: ConnectionRecord | ConnectionSummary, access?: ConnectionAccess) {
  return {
    id: c.id,
    ...(access ? { access } : {}),
    authType: c.authType,
    displayName: c.displayName,
    baseResourceUrl: c.baseResourceUrl,
    ...(c.resourceUri ? { resourceUri: c.resourceUri } : {}),
    ...(c.gatewayId ? { gatewayId: c.gatewayId } : {}),
    hasCredentials: 'hasCredentials' in c ? c.hasCredentials : c.sealedCredentials !== null,
    bodyEncoding: c.bodyEncoding,
    timeoutSeconds: c.timeoutMs / 1000,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/** The connection, when the caller owns it (404 when it is neither theirs nor shared with them, 403 when shared). */
export async function ownConnection(deps: HubDeps, ctx: Ctx, id: string): Promise<ConnectionRecord> {
  return (await connectionFor(deps, ctx, id, 'own')).conn;
}

/** What PATCH may change (the audit record of a change names these fields, never their values). */
const PATCHABLE = ['displayName', 'baseResourceUrl', 'bodyEncoding', 'timeoutSeconds', 'username', 'password', 'sealedCredentials'];

/** The connector's single form (authenticationType + gatewayId) mapped onto authType. */
function authTypeOf(body: JsonObject): AuthType {
  const explicit = optString(body, 'authType', 32);
  if (explicit !== undefined) {
    if (!(AUTH_TYPES as readonly string[]).includes(explicit)) throw invalid(`authType must be one of ${AUTH_TYPES.join(', ')}`);
    return explicit as AuthType;
  }
  // The connector's form: with a gateway, authenticationType picks the gateway type; without one, the
  // connection calls an Entra ID-protected resource.
  const legacy = optString(body, 'authenticationType', 32);
  const hasGateway = typeof body.gatewayId === 'string' && body.gatewayId !== '';
  if (legacy !== undefined && hasGateway) {
    const t = LEGACY[legacy.toLowerCase()];
    if (!t) throw invalid('authenticationType must be Anonymous, Basic or Windows');
    return t;
  }
  if (hasGateway) return 'AnonymousGateway';
  if (body.resourceUri !== undefined) return 'EntraAuth';
  throw invalid('authType is required');
}

function timeoutOf(deps: HubDeps, body: JsonObject, current: number): number {
  const v = body.timeoutSeconds;
  if (v === undefined || v === null) return current;
  const max = deps.config.maxTimeoutMs / 1000;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw invalid(`timeoutSeconds must be an integer from 1 to ${max}`);
  return v * 1000;
}

function bodyEncodingOf(body: JsonObject, current: 'raw' | 'base64'): 'raw' | 'base64' {
  const v = optString(body, 'bodyEncoding', 16);
  if (v === undefined) return current;
  if (v !== 'raw' && v !== 'base64') throw invalid('bodyEncoding must be raw or base64');
  return v;
}

function baseUrlOf(deps: HubDeps, raw: unknown): string {
  if (typeof raw !== 'string') throw invalid('baseResourceUrl is required');
  if (raw.length > deps.config.maxUrlLength)
    throw new GatehouseError('UriTooLong', `caller -> hub: baseResourceUrl is over ${deps.config.maxUrlLength} characters`);
  const p = parseBaseUrl(raw);
  if (!p.ok) throw invalid(`baseResourceUrl ${p.reason}`);
  return normaliseBaseUrl(p.url);
}

/** The resource as Entra ID names it: an http(s) URL or a URI like api://…, without a trailing slash, or the
 *  resource app's Application (client) ID (for APIs registered without an Application ID URI). */
function resourceUriOf(deps: HubDeps, body: JsonObject): string {
  const raw = optString(body, 'resourceUri', 2048);
  if (!raw) throw invalid('resourceUri is required for EntraAuth connections (the Application ID URI of the resource)');
  if (ENTRA_ID_GUID.test(raw)) return raw.toLowerCase();
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid("resourceUri must be a URI such as https://graph.microsoft.com or api://…, or the resource app's Application (client) ID");
  }
  if (u.username || u.password || u.search || u.hash) throw invalid('resourceUri must not carry userinfo, query or fragment');
  const uri = raw.replace(/\/+$/, '');
  const clouds = cloudsOfResource(uri);
  if (clouds && !clouds.includes(deps.config.cloud)) {
    throw invalid(
      `resourceUri ${uri} belongs to ${clouds.join(' or ')}, but this hub signs in to ${deps.config.cloud} (GATEHOUSE_CLOUD): use the resource's ${deps.config.cloud} equivalent`,
    );
  }
  return uri;
}

async function createEntraConnection(deps: HubDeps, caller: Caller, body: JsonObject, baseResourceUrl: string): Promise<ConnectionRecord> {
  if (typeof body.gatewayId === 'string' && body.gatewayId !== '') throw invalid('EntraAuth connections have no gatewayId');
  const resourceUri = resourceUriOf(deps, body);
  // Given by address, one the hub does not call is refused at once (names are checked when it connects).
  deps.directNetworks.checkLiteral(new URL(baseResourceUrl), 'caller -> hub');
  // Acquiring a token once proves consent now instead of at the first call (ConsentRequired with the URL).
  await deps.obo.token(caller, resourceUri);
  const now = deps.now().toISOString();
  const c: ConnectionRecord = {
    id: randomUUID(),
    ownerTid: caller.tid,
    ownerOid: caller.oid,
    displayName: optString(body, 'displayName', 256) ?? null,
    authType: 'EntraAuth',
    baseResourceUrl,
    resourceUri,
    gatewayId: null,
    sealedCredentials: null,
    bodyEncoding: bodyEncodingOf(body, 'raw'),
    timeoutMs: timeoutOf(deps, body, deps.config.defaultTimeoutMs),
    createdAt: now,
    updatedAt: now,
    ownerGroups: caller.groups,
  };
  await deps.store.createConnection(c);
  return c;
}

/** The audit record of a new connection: what it is and where it goes; never its credentials. */
function recordCreate(deps: HubDeps, ctx: Ctx, c: ConnectionRecord): Promise<void> {
  return recordByCaller(deps, ctx, {
    action: 'connection.create',
    target: { type: 'connection', id: c.id },
    connectionId: c.id,
    gatewayId: c.gatewayId,
    details: {
      authType: c.authType,
      displayName: c.displayName,
      baseResourceUrl: c.baseResourceUrl,
      resourceUri: c.resourceUri,
      bodyEncoding: c.bodyEncoding,
      timeoutSeconds: c.timeoutMs / 1000,
    },
  });
}

export function connectionRoutes(deps: HubDeps): Route[] {
  return [
    route('POST', '/v1/connections', CONNECTION_DOCS.create, async (ctx) => {
      const caller = await deps.caller(ctx);
      const body = await readJson(ctx.req, deps.config);
      await checkOwnershipCap(deps, 'connections', caller);
      const authType = authTypeOf(body);
      if (!SUPPORTED.has(authType)) throw invalid(`authType ${authType} is not supported by this hub yet`);
      const baseResourceUrl = baseUrlOf(deps, body.baseResourceUrl);
      if (authType === 'EntraAuth') {
        const c = await createEntraConnection(deps, caller, body, baseResourceUrl);
        await recordCreate(deps, ctx, c);
        sendJson(ctx.res, 201, connectionView(c, 'Owner'));
        return;
      }
      const gatewayId = optString(body, 'gatewayId', 64);
      if (!gatewayId) throw invalid('gatewayId is required for gateway connections');
      // Any role on the gateway lets the caller create connections on it; without one it is as if there were none.
      const found = await gatewayRole(deps, caller, gatewayId);
      if (!found || !allows(found.role, 'create')) throw invalid('gatewayId does not name a gateway you can use');
      // A key rotation reseals every connection in one request, whose body is bounded by their number (red team B1).
      if ((await deps.store.countGatewayConnections(gatewayId)) >= MAX_CONNECTIONS_PER_GATEWAY) {
        throw invalid(`a gateway has at most ${MAX_CONNECTIONS_PER_GATEWAY} connections; delete one first`);
      }
      const now = deps.now().toISOString();
      const c: ConnectionRecord = {
        id: randomUUID(),
        ownerTid: caller.tid,
        ownerOid: caller.oid,
        displayName: optString(body, 'displayName', 256) ?? null,
        authType,
        baseResourceUrl,
        resourceUri: optString(body, 'resourceUri', 2048) ?? null,
        gatewayId,
        sealedCredentials: authType === 'BasicGateway' || authType === 'WindowsGateway' ? await credentialsFor(deps, gatewayId, authType, body) : null,
        bodyEncoding: bodyEncodingOf(body, 'raw'),
        timeoutMs: timeoutOf(deps, body, deps.config.defaultTimeoutMs),
        createdAt: now,
        updatedAt: now,
        ownerGroups: caller.groups,
      };
      await deps.store.createConnection(c);
      await recordCreate(deps, ctx, c);
      sendJson(ctx.res, 201, connectionView(c, 'Owner'));
    }),
    route('GET', '/v1/connections', CONNECTION_DOCS.list, async (ctx) => {
      const caller = await deps.caller(ctx);
      // One page (and one item more, to know whether there is a next) of each list, read in order by the store: a
      // caller with 1,000 connections, or shares to thousands, no longer has every row read per GET (red team,
      // session 17). The first top + 1 of the union are among the first top + 1 of each.
      const { top, after } = listWindow(ctx.req.url ?? '');
      const window = { after, limit: top + 1 };
      const [own, shared] = await Promise.all([
        deps.store.listConnections(caller, window),
        deps.store.listSharedConnections(caller.tid, principalIds(caller), window),
      ]);
      const mine = new Set(own.map((c) => c.id));
      const { page, nextLink } = pageOf('/v1/connections', top, [...own, ...shared.filter((c) => !mine.has(c.id))].sort(byCreation));
      sendJson(ctx.res, 200, { value: page.map((c) => connectionView(c, mine.has(c.id) ? 'Owner' : 'User')), ...(nextLink ? { nextLink } : {}) });
    }),
    route('GET', '/v1/connections/{id}', CONNECTION_DOCS.get, async (ctx) => {
      const { conn, access } = await connectionFor(deps, ctx, ctx.params[0]!, 'see');
      sendJson(ctx.res, 200, connectionView(conn, access));
    }),
    route('PATCH', '/v1/connections/{id}', CONNECTION_DOCS.update, async (ctx) => {
      const { conn: c, caller } = await connectionFor(deps, ctx, ctx.params[0]!, 'own');
      const body = await readJson(ctx.req, deps.config);
      for (const k of ['authType', 'authenticationType', 'gatewayId', 'resourceUri']) {
        if (body[k] !== undefined) throw invalid(`${k} cannot be changed: create a new connection`);
      }
      const next: ConnectionRecord = {
        ...c,
        displayName: body.displayName === undefined ? c.displayName : (optString(body, 'displayName', 256) ?? null),
        baseResourceUrl: body.baseResourceUrl === undefined ? c.baseResourceUrl : baseUrlOf(deps, body.baseResourceUrl),
        bodyEncoding: bodyEncodingOf(body, c.bodyEncoding),
        timeoutMs: timeoutOf(deps, body, c.timeoutMs),
        updatedAt: deps.now().toISOString(),
        ownerGroups: caller.groups,
      };
      if (c.authType === 'EntraAuth' && body.baseResourceUrl !== undefined) deps.directNetworks.checkLiteral(new URL(next.baseResourceUrl), 'caller -> hub');
      if (hasCredentials(body)) {
        if (c.authType !== 'BasicGateway' && c.authType !== 'WindowsGateway') throw invalid(`${c.authType} connections have no credentials`);
        next.sealedCredentials = await credentialsFor(deps, c.gatewayId!, c.authType, body);
      }
      await deps.store.updateConnection(next);
      await recordByCaller(deps, ctx, {
        action: 'connection.update',
        target: { type: 'connection', id: c.id },
        connectionId: c.id,
        gatewayId: c.gatewayId,
        details: { changed: PATCHABLE.filter((k) => body[k] !== undefined) },
      });
      sendJson(ctx.res, 200, connectionView(next, 'Owner'));
    }),
    route('DELETE', '/v1/connections/{id}', CONNECTION_DOCS.remove, async (ctx) => {
      const c = await ownConnection(deps, ctx, ctx.params[0]!);
      await deps.store.deleteConnection(c.id);
      await recordByCaller(deps, ctx, {
        action: 'connection.delete',
        target: { type: 'connection', id: c.id },
        connectionId: c.id,
        gatewayId: c.gatewayId,
        details: { authType: c.authType, displayName: c.displayName },
      });
      ctx.res.writeHead(204).end();
    }),
  ];
}
