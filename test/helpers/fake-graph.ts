// A local Microsoft Graph for `gatehouse-hub grant`: service principals with their delegated scopes, users,
// and oAuth2PermissionGrants, with Graph's URL shapes, $filter forms and error bodies. Writes can be refused
// the way Graph refuses an administrator without the right directory role.
import { createServer, type Server } from 'node:https';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { TestCa } from './fake-entra.js';

export interface Grant {
  id: string;
  clientId: string;
  consentType: string;
  principalId: string | null;
  resourceId: string;
  scope: string;
}

export interface FakeGraph {
  url: string;
  servicePrincipals: Array<{
    id: string;
    appId: string;
    displayName: string;
    servicePrincipalNames: string[];
    oauth2PermissionScopes: Array<{ value: string; type: string; isEnabled: boolean }>;
  }>;
  users: Array<{ id: string; userPrincipalName: string }>;
  grants: Grant[];
  /** Requests as "METHOD /path?query", in order. */
  log: string[];
  denyWrites: boolean;
  close(): Promise<void>;
}

export async function startFakeGraph(ca: TestCa): Promise<FakeGraph> {
  let base = '';
  const g: Omit<FakeGraph, 'url' | 'close'> = { servicePrincipals: [], users: [], grants: [], log: [], denyWrites: false };
  const server: Server = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const u = new URL(req.url ?? '/', base);
    g.log.push(`${req.method} ${u.pathname}${u.search ? decodeURIComponent(u.search) : ''}`);
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' }).end(body === undefined ? undefined : JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string) => send(status, { error: { code, message, innerError: { 'request-id': randomUUID() } } });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let claims: Record<string, unknown> = {};
    try {
      claims = decodeJwt(token ?? '');
    } catch {
      /* below */
    }
    if (claims.aud !== base) return error(401, 'InvalidAuthenticationToken', 'Access token is empty or has the wrong audience.');
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const filter = u.searchParams.get('$filter') ?? '';
      let m: RegExpExecArray | null;
      if (req.method === 'GET' && u.pathname === '/v1.0/servicePrincipals') {
        if ((m = /^appId eq '([^']+)'$/.exec(filter))) return send(200, { value: g.servicePrincipals.filter((s) => s.appId === m![1]) });
        if ((m = /^servicePrincipalNames\/any\(n:n eq '([^']+)'\)$/.exec(filter)))
          return send(200, { value: g.servicePrincipals.filter((s) => s.servicePrincipalNames.includes(m![1]!)) });
        return error(400, 'Request_UnsupportedQuery', 'Unsupported query.');
      }
      if (req.method === 'GET' && u.pathname === '/v1.0/oauth2PermissionGrants') {
        m = /^clientId eq '([^']+)' and resourceId eq '([^']+)'$/.exec(filter);
        if (!m) return error(400, 'Request_UnsupportedQuery', 'Unsupported query.');
        return send(200, { value: g.grants.filter((x) => x.clientId === m![1] && x.resourceId === m![2]) });
      }
      if (req.method === 'GET' && (m = /^\/v1\.0\/users\/([^/]+)$/.exec(u.pathname))) {
        const key = decodeURIComponent(m[1]!).toLowerCase();
        const user = g.users.find((x) => x.id === key || x.userPrincipalName.toLowerCase() === key);
        return user
          ? send(200, user)
          : error(404, 'Request_ResourceNotFound', `Resource '${key}' does not exist or one of its queried reference-property objects are not present.`);
      }
      if (req.method === 'POST' && u.pathname === '/v1.0/oauth2PermissionGrants') {
        if (g.denyWrites) return error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        const b = JSON.parse(body) as Omit<Grant, 'id'>;
        if (!g.servicePrincipals.some((s) => s.id === b.clientId) || !g.servicePrincipals.some((s) => s.id === b.resourceId))
          return error(400, 'Request_BadRequest', 'Invalid clientId or resourceId.');
        const grant: Grant = {
          id: randomUUID(),
          clientId: b.clientId,
          consentType: b.consentType,
          principalId: b.principalId ?? null,
          resourceId: b.resourceId,
          scope: ` ${b.scope} `,
        };
        g.grants.push(grant);
        return send(201, grant);
      }
      if (req.method === 'DELETE' && (m = /^\/v1\.0\/oauth2PermissionGrants\/([^/]+)$/.exec(u.pathname))) {
        if (g.denyWrites) return error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        const i = g.grants.findIndex((x) => x.id === decodeURIComponent(m![1]!));
        if (i < 0) return error(404, 'Request_ResourceNotFound', 'Not found.');
        g.grants.splice(i, 1);
        return send(204);
      }
      return error(404, 'Request_ResourceNotFound', 'Unknown route.');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return Object.assign(g, {
    url: base,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
