// `gatehouse-hub grant`: the cross-platform replacement for the connector's ManagePermissionGrant.ps1.
// Finds the hub's and the resource's service principals in Microsoft Graph, lists the resource's delegated
// scopes, and lists, creates and deletes oAuth2PermissionGrants (AllPrincipals, or Principal for one user).
import type { Graph } from './graph.js';
import { ENTRA_ID_GUID } from '../auth/clouds.js';

export interface ServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  servicePrincipalNames?: string[];
  oauth2PermissionScopes?: Array<{ value: string; type: string; isEnabled?: boolean; adminConsentDisplayName?: string }>;
}
export interface PermissionGrant {
  id: string;
  clientId: string;
  consentType: 'AllPrincipals' | 'Principal';
  principalId: string | null;
  resourceId: string;
  scope: string;
}

const q = (s: string) => s.replace(/'/g, "''");

export class GrantError extends Error {}

export async function findServicePrincipal(g: Graph, idOrName: string, what: string): Promise<ServicePrincipal> {
  const filter = ENTRA_ID_GUID.test(idOrName) ? `appId eq '${q(idOrName)}'` : `servicePrincipalNames/any(n:n eq '${q(idOrName)}')`;
  const r = await g.send<{ value: ServicePrincipal[] }>({ method: 'GET', path: `/servicePrincipals?$filter=${encodeURIComponent(filter)}` });
  const sp = r?.value[0];
  if (!sp) throw new GrantError(`${what} ${idOrName} has no service principal in this tenant (is the app registered, and consented once?)`);
  return sp;
}

export async function userId(g: Graph, upnOrId: string): Promise<string> {
  if (ENTRA_ID_GUID.test(upnOrId)) return upnOrId.toLowerCase();
  const u = await g.send<{ id: string }>({ method: 'GET', path: `/users/${encodeURIComponent(upnOrId)}` });
  if (!u?.id) throw new GrantError(`no user ${upnOrId}`);
  return u.id;
}

export async function listGrants(g: Graph, client: ServicePrincipal, resource: ServicePrincipal): Promise<PermissionGrant[]> {
  const filter = `clientId eq '${client.id}' and resourceId eq '${resource.id}'`;
  return (await g.send<{ value: PermissionGrant[] }>({ method: 'GET', path: `/oauth2PermissionGrants?$filter=${encodeURIComponent(filter)}` }))?.value ?? [];
}

export function delegatedScopes(resource: ServicePrincipal): string[] {
  return (resource.oauth2PermissionScopes ?? [])
    .filter((s) => s.isEnabled !== false)
    .map((s) => s.value)
    .sort();
}

export interface CreateOptions {
  scopes: string[];
  consentType: 'AllPrincipals' | 'Principal';
  principalId: string | null;
  replace: boolean;
}

export async function createGrant(
  g: Graph,
  client: ServicePrincipal,
  resource: ServicePrincipal,
  o: CreateOptions,
): Promise<{ created: PermissionGrant | undefined; deleted: string[] }> {
  const known = new Set(delegatedScopes(resource));
  const unknown = o.scopes.filter((s) => !known.has(s));
  if (unknown.length)
    throw new GrantError(`${resource.displayName} has no delegated scope ${unknown.join(', ')} (it offers: ${[...known].join(', ') || 'none'})`);
  const existing = (await listGrants(g, client, resource)).filter(
    (x) => x.consentType === o.consentType && (o.consentType === 'AllPrincipals' || x.principalId === o.principalId),
  );
  const deleted: string[] = [];
  if (existing.length && !o.replace) {
    throw new GrantError(
      `a ${o.consentType} grant already exists (${existing.map((x) => `${x.id}: ${x.scope.trim()}`).join('; ')}): pass --replace to replace it`,
    );
  }
  for (const x of existing) {
    await g.send({ method: 'DELETE', path: `/oauth2PermissionGrants/${encodeURIComponent(x.id)}` });
    deleted.push(x.id);
  }
  const created = await g.send<PermissionGrant>({
    method: 'POST',
    path: '/oauth2PermissionGrants',
    body: { clientId: client.id, consentType: o.consentType, principalId: o.principalId, resourceId: resource.id, scope: o.scopes.join(' ') },
  });
  return { created, deleted };
}

export async function deleteGrants(
  g: Graph,
  client: ServicePrincipal,
  resource: ServicePrincipal,
  o: { grantId?: string; consentType?: 'AllPrincipals' | 'Principal'; principalId?: string | null },
): Promise<string[]> {
  const all = await listGrants(g, client, resource);
  const chosen = all.filter((x) =>
    o.grantId ? x.id === o.grantId : (!o.consentType || x.consentType === o.consentType) && (o.principalId === undefined || x.principalId === o.principalId),
  );
  if (o.grantId && chosen.length === 0) throw new GrantError(`no grant ${o.grantId} between these two service principals`);
  for (const x of chosen) await g.send({ method: 'DELETE', path: `/oauth2PermissionGrants/${encodeURIComponent(x.id)}` });
  return chosen.map((x) => x.id);
}
