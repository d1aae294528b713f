// `gatehouse-hub grant` against the fake Entra ID (device-code sign-in) and a fake Microsoft Graph.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { CLIENT_ID, TENANT_A, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startFakeGraph, type FakeGraph } from '../helpers/fake-graph.js';
import { HUB_MAIN, startProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

let entra: FakeEntra;
let graph: FakeGraph;
const HUB_SP = randomUUID();
const GRAPH_SP = randomUUID();
const USER = { id: randomUUID(), userPrincipalName: 'alice@contoso.example' };

async function grant(...args: string[]): Promise<{ code: number | null; out: string }> {
  const p = startProc(
    [HUB_MAIN, 'grant', ...args, '--tenant', TENANT_A, '--client-id', CLIENT_ID, '--authority-host', entra.authorityHost, '--graph-host', graph.url],
    { NODE_EXTRA_CA_CERTS: entra.ca.caPath },
  );
  const code = await p.exited;
  return { code, out: p.lines.join('\n') };
}

beforeAll(async () => {
  entra = await startFakeEntra();
  graph = await startFakeGraph(entra.ca);
  graph.servicePrincipals.push(
    { id: HUB_SP, appId: CLIENT_ID, displayName: 'Gatehouse hub', servicePrincipalNames: [`api://${CLIENT_ID}`], oauth2PermissionScopes: [] },
    {
      id: GRAPH_SP,
      appId: '00000003-0000-0000-c000-000000000000',
      displayName: 'Microsoft Graph',
      servicePrincipalNames: ['https://graph.microsoft.com'],
      oauth2PermissionScopes: [
        { value: 'Calendars.Read', type: 'User', isEnabled: true },
        { value: 'User.Read', type: 'User', isEnabled: true },
        { value: 'Directory.Read.All', type: 'Admin', isEnabled: true },
      ],
    },
  );
  graph.users.push(USER);
});
afterAll(async () => {
  await graph?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('gatehouse-hub grant', () => {
  it('signs in with device code and lists the resource scopes', async () => {
    const r = await grant('scopes', '--resource', 'https://graph.microsoft.com');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/To sign in, open .* enter the code FAKE-CODE/);
    expect(r.out).toContain('Calendars.Read\nDirectory.Read.All\nUser.Read');
    expect(entra.tokenRequests.some((t) => t.grant === 'device_code' && t.resource === graph.url)).toBe(true);
  });

  it('create, list and delete round trip for AllPrincipals', async () => {
    const c = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'Calendars.Read User.Read');
    expect(c.code, c.out).toBe(0);
    expect(graph.grants).toHaveLength(1);
    expect(graph.grants[0]).toMatchObject({
      clientId: HUB_SP,
      resourceId: GRAPH_SP,
      consentType: 'AllPrincipals',
      principalId: null,
      scope: ' Calendars.Read User.Read ',
    });
    const l = await grant('list', '--resource', '00000003-0000-0000-c000-000000000000');
    expect(l.out).toContain(`${graph.grants[0]!.id}  AllPrincipals  Calendars.Read User.Read`);
    // a second create is refused unless --replace
    const again = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'User.Read');
    expect(again.code).toBe(2);
    expect(again.out).toMatch(/already exists.*--replace/);
    const rep = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'User.Read', '--replace');
    expect(rep.code, rep.out).toBe(0);
    expect(graph.grants).toHaveLength(1);
    expect(graph.grants[0]!.scope.trim()).toBe('User.Read');
    const d = await grant('delete', '--resource', 'https://graph.microsoft.com', '--consent-type', 'AllPrincipals');
    expect(d.code, d.out).toBe(0);
    expect(graph.grants).toHaveLength(0);
  });

  it('a Principal grant for one user by UPN', async () => {
    const c = await grant(
      'create',
      '--resource',
      'https://graph.microsoft.com',
      '--scopes',
      'Calendars.Read',
      '--consent-type',
      'Principal',
      '--user',
      'alice@contoso.example',
    );
    expect(c.code, c.out).toBe(0);
    expect(graph.grants.at(-1)).toMatchObject({ consentType: 'Principal', principalId: USER.id });
    const d = await grant('delete', '--resource', 'https://graph.microsoft.com', '--grant-id', graph.grants.at(-1)!.id);
    expect(d.code, d.out).toBe(0);
    expect(graph.grants).toHaveLength(0);
  });

  it('--dry-run sends only reads and prints the write it would send', async () => {
    const before = graph.log.length;
    const r = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'User.Read', '--dry-run');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(
      `dry run: POST ${graph.url}/v1.0/oauth2PermissionGrants {"clientId":"${HUB_SP}","consentType":"AllPrincipals","principalId":null,"resourceId":"${GRAPH_SP}","scope":"User.Read"}`,
    );
    expect(graph.log.slice(before).every((l) => l.startsWith('GET '))).toBe(true);
    expect(graph.grants).toHaveLength(0);
  });

  it("Graph's refusals are shown plainly; unknown scopes and missing flags are caught before any write", async () => {
    graph.denyWrites = true;
    try {
      const r = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'User.Read');
      expect(r.code).toBe(2);
      expect(r.out).toMatch(/Microsoft Graph refused POST \/oauth2PermissionGrants: Authorization_RequestDenied: Insufficient privileges/);
    } finally {
      graph.denyWrites = false;
    }
    const bad = await grant('create', '--resource', 'https://graph.microsoft.com', '--scopes', 'Mail.Send');
    expect(bad.out).toMatch(/has no delegated scope Mail\.Send/);
    const missing = await grant('create', '--resource', 'https://graph.microsoft.com');
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/--scopes is required/);
    const help = startProc([HUB_MAIN, 'grant', '--help'], {});
    expect(await help.exited).toBe(0);
    expect(help.lines.join('\n')).toMatch(/ManagePermissionGrant\.ps1/);
  });

  it('an existing Graph token instead of signing in (unattended)', async () => {
    const before = entra.tokenRequests.length;
    const t = await entra.token({ aud: graph.url, scp: 'DelegatedPermissionGrant.ReadWrite.All' });
    const p = startProc(
      [HUB_MAIN, 'grant', 'list', '--resource', 'https://graph.microsoft.com', '--client-id', CLIENT_ID, '--graph-host', graph.url, '--token', t],
      { NODE_EXTRA_CA_CERTS: entra.ca.caPath },
    );
    expect(await p.exited).toBe(0);
    expect(p.lines.join('\n')).toMatch(/no grants from Gatehouse hub to Microsoft Graph/);
    expect(entra.tokenRequests.length).toBe(before);
  });
});
