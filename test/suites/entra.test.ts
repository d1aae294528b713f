// EntraAuth connections end to end: caller tokens v1 and v2, key rotation and kid floods, On-Behalf-Of
// through msal-node against the fake Entra ID, the hub calling an HTTPS API that checks the OBO token,
// Entra's errors mapped to the hub's, caching and consent, national clouds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startCannedServer, startNotHttpServer } from '../helpers/not-http.js';
import { decodeJwt } from 'jose';
import { request } from 'undici';
import { APP_1, CLIENT_ID, TENANT_A, USER_2, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEntraBackend, type EntraBackend } from '../helpers/entra-backend.js';
import { api, b64, nodeHttp, startHub, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const RESOURCE = 'api://backend-api';
let entra: FakeEntra;
let backend: EntraBackend;
let hub: HubProc;
let token: string;

const oboCount = (resource = RESOURCE) => entra.tokenRequests.filter((r) => r.grant === 'obo' && r.resource === resource).length;
async function entraConnection(extra: Record<string, unknown> = {}, t = token, h = hub) {
  return api(h.url, t, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: RESOURCE, baseResourceUrl: `${backend.url}/api`, ...extra });
}
const invoke = (id: string, body: unknown, t = token, h = hub) => api(h.url, t, 'POST', `/v1/connections/${id}/invoke`, body);

beforeAll(async () => {
  entra = await startFakeEntra();
  backend = await startEntraBackend(entra, RESOURCE);
  hub = await startHub(entra, { GATEHOUSE_JWKS_COOLDOWN: '3s' });
  token = await entra.token();
});
afterAll(async () => {
  await hub?.stop();
  await backend?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('caller tokens, complete', () => {
  it('a v1 token (sts.windows.net issuer, client id audience) and a v2 token are both accepted', async () => {
    const v1 = await entra.token({}, { version: '1.0' });
    expect(decodeJwt(v1).iss).toBe(`https://sts.windows.net/${TENANT_A}/`);
    expect((await api(hub.url, v1, 'GET', '/v1/connections')).status).toBe(200);
    expect((await api(hub.url, token, 'GET', '/v1/connections')).status).toBe(200);
    // a v1 token claiming the v2 issuer is refused: the version picks the issuer
    const mixed = await entra.token({ iss: entra.issuer(TENANT_A, '2.0') }, { version: '1.0' });
    expect((await api(hub.url, mixed, 'GET', '/v1/connections')).status).toBe(401);
  });

  it('a rotated signing key is picked up', async () => {
    await new Promise((r) => setTimeout(r, 3100)); // past the refetch cooldown since the first fetch
    await entra.rotate();
    const fresh = await entra.token();
    expect((await api(hub.url, fresh, 'GET', '/v1/connections')).status).toBe(200);
  });

  it('a flood of made-up key ids reaches the authority at most once per cooldown', async () => {
    await new Promise((r) => setTimeout(r, 3100));
    const before = entra.requests.filter((p) => p.includes('/discovery/')).length;
    const started = Date.now();
    const forged = await Promise.all(Array.from({ length: 60 }, () => entra.token({}, { key: 'rogue', header: { kid: randomUUID() } })));
    const results = await Promise.all(forged.map((t) => api(hub.url, t, 'GET', '/v1/connections')));
    expect(results.every((r) => r.status === 401)).toBe(true);
    const fetched = entra.requests.filter((p) => p.includes('/discovery/')).length - before;
    const allowed = 1 + Math.floor((Date.now() - started) / 3000);
    expect(fetched).toBeGreaterThanOrEqual(1);
    expect(fetched).toBeLessThanOrEqual(allowed);
  });

  it('app-only tokens are refused with a clear message', async () => {
    const app = await entra.token({ scp: undefined, roles: ['Access.All'], idtyp: 'app' });
    const r = await api(hub.url, app, 'GET', '/v1/connections');
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('Forbidden');
    expect(r.json.error.message).toMatch(/app-only/);
    expect(r.json.error.message).toContain('Gatehouse.Invoke');
    // an app token without idtyp but with roles (a v1 client-credentials token) is app-only too
    const v1App = await entra.token({ scp: undefined, roles: ['Access.All'] }, { version: '1.0' });
    expect((await api(hub.url, v1App, 'GET', '/v1/connections')).status).toBe(403);
  });

  it('an app-only token with the app role Gatehouse.Invoke acts as its service principal; On-Behalf-Of refuses it with 403', async () => {
    const app = await entra.appToken(APP_1);
    const mine = await api(hub.url, app, 'GET', '/v1/connections');
    expect(mine.status).toBe(200);
    expect(mine.json.value).toEqual([]);
    const gw = await api(hub.url, app, 'POST', '/v1/gateways', { name: 'an-apps-gateway' });
    expect(gw.status).toBe(201);
    expect((await api(hub.url, app, 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(200);
    // the same gateway is not a user's with the same tenant
    expect((await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
    const before = oboCount();
    const c = await entraConnection({}, app);
    expect(c.status).toBe(403);
    expect(c.json.error.code).toBe('Forbidden');
    expect(c.json.error.message).toMatch(/On-Behalf-Of/);
    expect(c.json.error.message).toMatch(/signed-in user/);
    expect(oboCount()).toBe(before); // never asked Entra ID
    expect((await api(hub.url, token, 'DELETE', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
    expect((await api(hub.url, app, 'DELETE', `/v1/gateways/${gw.json.id}`)).status).toBe(204);
  });
});

describe('EntraAuth connections and On-Behalf-Of', () => {
  let connId: string;

  it('creating one acquires a token once; N invokes cost no more token requests', async () => {
    const before = oboCount();
    const c = await entraConnection();
    expect(c.status, c.text).toBe(201);
    expect(c.json).toMatchObject({ authType: 'EntraAuth', resourceUri: RESOURCE, baseResourceUrl: `${backend.url}/api` });
    connId = c.json.id;
    expect(oboCount()).toBe(before + 1);
    for (let i = 0; i < 5; i++) {
      const r = await invoke(connId, { method: 'GET', url: `me/events?i=${i}` });
      expect(r.status).toBe(200);
      expect(r.json.statusCode).toBe(200);
    }
    expect(oboCount()).toBe(before + 1);
  });

  it("red team session 18: msal's own token cache stays empty however many users redeem tokens; the hub's bounded cache holds them", async () => {
    const metric = async (cache: string) => {
      const text = await (await request(`${hub.url}/metrics`)).body.text();
      return Number(new RegExp(`^gatehouse_obo_tokens_held\\{cache="${cache}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    };
    const before = await metric('hub');
    // 30 users of the tenant, each a first On-Behalf-Of (creating an EntraAuth connection proves consent with one).
    const users = Array.from({ length: 30 }, (_, i) => `aaaaaaaa-0000-4000-8000-0000000010${String(i).padStart(2, '0')}`);
    for (const oid of users) {
      const t = await entra.token({ oid });
      const c = await entraConnection({}, t);
      expect(c.status, c.text).toBe(201);
      expect((await invoke(c.json.id, { method: 'GET', url: 'me/events' }, t)).json.statusCode).toBe(200);
    }
    // msal saved each token (with its account and id token) in a cache nothing bounded: 90+ entries here before.
    expect(await metric('msal')).toBe(0);
    expect(await metric('hub')).toBe(before + users.length);
  });

  it("the service gets an OBO token for its own audience, never the caller's token", async () => {
    const r = await invoke(connId, { method: 'POST', url: '/echo', headers: { authorization: `Bearer ${token}`, cookie: 'k=v' }, body: b64('payload') });
    expect(r.json.statusCode).toBe(200);
    expect(Buffer.from(r.json.body, 'base64').toString()).toBe('payload');
    const seen = backend.seen.at(-1)!;
    expect(seen.claims).toMatchObject({ aud: RESOURCE, scp: 'Data.Read', oid: decodeJwt(token).oid, tid: TENANT_A });
    expect(seen.authorization).not.toContain(token);
    expect(seen.cookie).toBe('k=v'); // only gateway connections drop Cookie
  });

  it('a body over 1 MiB goes out with the Content-Length given in headers (the hub calls the service itself); one longer than it fails', async () => {
    const body = Buffer.alloc(1536 * 1024, 3);
    const r = await invoke(connId, { method: 'PUT', url: '/echo', headers: { 'Content-Length': String(body.length) }, body: b64(body) });
    expect(r.status, r.text).toBe(200);
    expect(backend.seen.at(-1)).toMatchObject({ bytes: body.length, contentLength: String(body.length), chunked: false });
    expect((await invoke(connId, { method: 'PUT', url: '/echo', headers: {}, body: b64(body) })).status).toBe(200);
    expect(backend.seen.at(-1)).toMatchObject({ bytes: body.length, contentLength: undefined, chunked: true });
    const before = backend.seen.length;
    const longer = await invoke(connId, { method: 'PUT', url: '/echo', headers: { 'content-length': '1048577' }, body: b64(body) });
    expect(longer.status, longer.text).toBe(400);
    expect(longer.json.error.message).toBe('caller -> hub: the body is longer than the 1048577 bytes its Content-Length header gives');
    await new Promise((res) => setTimeout(res, 300));
    expect(backend.seen.length).toBe(before);
  });

  it('relative and absolute URLs under baseResourceUrl; outside is refused', async () => {
    expect((await invoke(connId, { method: 'GET', url: `${backend.url}/api/abs` })).json.statusCode).toBe(200);
    expect(backend.seen.at(-1)!.url).toBe('/api/abs');
    expect((await invoke(connId, { method: 'GET', url: 'rel/x' })).json.statusCode).toBe(200);
    expect(backend.seen.at(-1)!.url).toBe('/api/rel/x');
    for (const url of ['../outside', `${backend.url}/apix`, 'https://127.0.0.1:1/api/x']) {
      const r = await invoke(connId, { method: 'GET', url });
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('UrlNotAllowed');
    }
  });

  it("the service's 403 Authorization_RequestDenied comes back unchanged in the envelope", async () => {
    const r = await invoke(connId, { method: 'GET', url: 'forbidden' });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(403);
    expect(JSON.parse(Buffer.from(r.json.body, 'base64').toString()).error.code).toBe('Authorization_RequestDenied');
  });

  it('a response head over 32 KiB is a coded 502 naming the limit; 20 KB passes (it was refused at 16 KiB)', async () => {
    const ok = await invoke(connId, { method: 'GET', url: 'bighead?bytes=20000' });
    expect(ok.status).toBe(200);
    expect(ok.json.headers['x-big']).toHaveLength(20000);
    const over = await invoke(connId, { method: 'GET', url: 'bighead?bytes=40000' });
    expect(over.status).toBe(502);
    expect(over.json.error.message).toMatch(/hub -> service: .* answered with a head over the 32 KiB limit for response headers/);
  });

  it('a resource that does not answer with HTTP: 502 naming the hub -> service link, never its bytes', async () => {
    const notHttp = await startNotHttpServer();
    const port = notHttp.port;
    try {
      const c = await entraConnection({ baseResourceUrl: `http://127.0.0.1:${port}` });
      expect(c.status, c.text).toBe(201);
      const r = await invoke(c.json.id, { method: 'GET', url: 'x' });
      expect(r.status).toBe(502);
      expect(r.json.error.message).toBe(`hub -> service: http://127.0.0.1:${port} did not answer with HTTP/1.1 (Expected HTTP/, RTSP/ or ICE/)`);
      expect(r.text).not.toContain('secret-banner');
    } finally {
      notHttp.close();
    }
  });

  it('a resource that breaks off its answer, answers 101 unasked or with a transfer coding other than chunked: 502 naming it (the hub calls it itself)', async () => {
    const odd = await startCannedServer({
      cut: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello',
      switching: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n',
      gzipChunked: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    });
    try {
      const c = await entraConnection({ baseResourceUrl: `http://127.0.0.1:${odd.port}` });
      expect(c.status, c.text).toBe(201);
      const cut = await invoke(c.json.id, { method: 'GET', url: 'cut' });
      expect(cut.status).toBe(502);
      expect(cut.json.error).toMatchObject({ code: 'BadGateway', message: 'hub -> service: the answer broke off (UND_ERR_SOCKET)' });
      // The access line says the caller got the hub's 502, not only the service's 200 (it said status 200,
      // finished false: the line was written when the answer broke off, before the 502 was).
      const line = JSON.parse(await hub.waitForLine((l) => l.includes('"call done"') && l.includes(cut.headers['x-request-id'] as string)));
      expect(line).toMatchObject({ route: 'invoke', status: 200, error: 'BadGateway', answered: 502, finished: true });
      const coded = await invoke(c.json.id, { method: 'GET', url: 'gzipChunked' });
      expect(coded.json.error).toMatchObject({
        code: 'BadGateway',
        message: `hub -> service: http://127.0.0.1:${odd.port} answered with a transfer coding other than chunked, which the relay cannot undo (a compressed answer goes with Content-Encoding)`,
      });
      const switching = await invoke(c.json.id, { method: 'GET', url: 'switching' });
      expect(switching.json.error).toMatchObject({
        code: 'BadGateway',
        message: `hub -> service: http://127.0.0.1:${odd.port} answered 101 (Switching Protocols) to a request that asked for no upgrade`,
      });
    } finally {
      odd.close();
    }
  });

  it("an EntraAuth invoke's access line is written once its answer is (it was written when the service's body had arrived: finished false)", async () => {
    const r = await invoke(connId, { method: 'GET', url: 'me/line' });
    expect(r.status).toBe(200);
    const line = JSON.parse(await hub.waitForLine((l) => l.includes('"call done"') && l.includes(r.headers['x-request-id'] as string)));
    expect(line).toMatchObject({ route: 'invoke', status: 200, answered: 200, finished: true, resource: RESOURCE });
    expect(line.error).toBeUndefined();
  });

  it('the raw proxy route works for EntraAuth too', async () => {
    const r = await request(`${hub.url}/v1/connections/${connId}/proxy/echo`, {
      method: 'PUT',
      body: 'raw bytes',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('raw bytes');
    expect(backend.seen.at(-1)!.claims?.aud).toBe(RESOURCE);
    // With the hub token in X-Gatehouse-Authorization the resource still gets the OBO token only: neither the
    // caller's Authorization nor the hub token's header reaches it.
    const other = await request(`${hub.url}/v1/connections/${connId}/proxy/echo`, {
      method: 'PUT',
      body: 'again',
      headers: { 'x-gatehouse-authorization': `Bearer ${token}`, authorization: 'Token not-for-entra' },
    });
    expect(await other.body.text()).toBe('again');
    expect(backend.seen.at(-1)).toMatchObject({ hubTokenHeader: undefined });
    expect(backend.seen.at(-1)!.claims?.aud).toBe(RESOURCE);
    expect(backend.seen.at(-1)!.authorization).not.toContain(token);
  });

  it('without GATEHOUSE_ENTRA_ALLOW_NETWORKS the hub calls no loopback, link-local or private address for EntraAuth, by name or by number', async () => {
    // Before: an EntraAuth connection could point at any address the hub reaches: the cloud's metadata service
    // (169.254.169.254, which hands out the hub machine's managed-identity tokens), its loopback, its network.
    const strict = await startHub(entra, { GATEHOUSE_ENTRA_ALLOW_NETWORKS: '' });
    try {
      const port = new URL(backend.url).port;
      const seen = backend.seen.length;
      for (const base of ['http://169.254.169.254/metadata', 'http://10.1.2.3/api', 'http://[::1]:8080/x', 'http://[::ffff:127.0.0.1]/x']) {
        const r = await api(strict.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: RESOURCE, baseResourceUrl: base });
        expect(r.status, base).toBe(400);
        expect(r.json.error.code).toBe('UrlNotAllowed');
        expect(r.json.error.message).toMatch(
          /^caller -> hub: \S+ is a loopback, link-local or private address the hub does not call for EntraAuth connections/,
        );
      }
      // nor by changing a connection's base URL to one
      const ok = await api(strict.url, token, 'POST', '/v1/connections', {
        authType: 'EntraAuth',
        resourceUri: RESOURCE,
        baseResourceUrl: 'https://api.example.com/v1',
      });
      expect(ok.status, ok.text).toBe(201);
      const moved = await api(strict.url, token, 'PATCH', `/v1/connections/${ok.json.id}`, { baseResourceUrl: 'http://169.254.169.254/metadata' });
      expect(moved.status).toBe(400);
      expect(moved.json.error.code).toBe('UrlNotAllowed');
      // a name that resolves to loopback is refused when the hub connects, and no request leaves
      const byName = await api(strict.url, token, 'POST', '/v1/connections', {
        authType: 'EntraAuth',
        resourceUri: RESOURCE,
        baseResourceUrl: `https://localhost:${port}/api`,
      });
      expect(byName.status).toBe(201);
      const r = await invoke(byName.json.id, { method: 'GET', url: 'me', headers: { metadata: 'true' } }, token, strict);
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({
        code: 'UrlNotAllowed',
        message: expect.stringMatching(/^hub -> service: localhost is at (127\.0\.0\.1|::1), a loopback/),
      });
      const raw = await request(`${strict.url}/v1/connections/${byName.json.id}/proxy/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(raw.statusCode).toBe(400);
      expect(raw.headers['x-gatehouse-error']).toBe('UrlNotAllowed');
      await raw.body.text();
      expect(backend.seen.length).toBe(seen);
      // (every other test here calls the same backend through a hub whose GATEHOUSE_ENTRA_ALLOW_NETWORKS names 127.0.0.0/8)
    } finally {
      await strict.stop();
    }
  });

  it('a 304 with the Content-Length of its 200 is answered (raw route and invoke)', async () => {
    // Regression: the hub's HTTP client (undici) failed it after its head, and the caller got no answer.
    const r = await nodeHttp(`${hub.url}/v1/connections/${connId}/proxy/notmodified`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(304);
    expect(r.headers['content-length']).toBe('1000');
    expect(r.data.length).toBe(0);
    const inv = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'notmodified' });
    expect(inv.status, inv.text).toBe(200);
    expect(inv.json).toMatchObject({ statusCode: 304, body: '' });
  });

  it("an answer over the raw route's body limit is cut off; one at the limit arrives whole", async () => {
    const small = await startHub(entra, { GATEHOUSE_MAX_RAW_BODY: '1MiB' });
    try {
      const id = (await entraConnection({}, token, small)).json.id as string;
      const over = request(`${small.url}/v1/connections/${id}/proxy/large?bytes=${3 * 1024 * 1024}`, { headers: { authorization: `Bearer ${token}` } }).then(
        (res) => res.body.arrayBuffer(),
      );
      await expect(over).rejects.toThrow();
      const at = await request(`${small.url}/v1/connections/${id}/proxy/large?bytes=${1024 * 1024}`, { headers: { authorization: `Bearer ${token}` } });
      expect((await at.body.arrayBuffer()).byteLength).toBe(1024 * 1024);
    } finally {
      await small.stop();
    }
  });

  it("a service that never answers: 504 at the connection's timeout and the hub abandons its request (raw route and invoke)", async () => {
    const id = (await entraConnection({ timeoutSeconds: 1 })).json.id as string;
    const before = backend.abandoned;
    const raw = await request(`${hub.url}/v1/connections/${id}/proxy/stall`, { headers: { authorization: `Bearer ${token}` } });
    expect(raw.statusCode).toBe(504);
    expect(raw.headers['x-gatehouse-error']).toBe('GatewayTimeout');
    await raw.body.dump();
    // Nothing of the answer has come, so only the request's own cancellation (its signal) can end the call.
    await expect.poll(() => backend.abandoned, { timeout: 5000 }).toBe(before + 1);
    const inv = await invoke(id, { method: 'GET', url: 'stall' });
    expect(inv.status).toBe(504);
    expect(inv.json.error.code).toBe('GatewayTimeout');
    await expect.poll(() => backend.abandoned, { timeout: 5000 }).toBe(before + 2);
  });

  it('raw route timing as through an agent: past the head only idle time counts, and a quiet answer is cut off', async () => {
    const idleHub = await startHub(entra, { GATEHOUSE_IDLE_TIMEOUT: '2s' });
    try {
      const id = (await entraConnection({ timeoutSeconds: 1 }, token, idleHub)).json.id as string;
      const auth = { authorization: `Bearer ${token}` };
      // 8 chunks 400 ms apart: over the 1 s timeout, never 2 s quiet
      const drip = await request(`${idleHub.url}/v1/connections/${id}/proxy/drip?n=8&ms=400`, { headers: auth });
      expect(drip.statusCode).toBe(200);
      expect((await drip.body.arrayBuffer()).byteLength).toBe(8 * 1024);
      const before = backend.abandoned;
      const quiet = await request(`${idleHub.url}/v1/connections/${id}/proxy/headstall`, { headers: auth });
      expect(quiet.statusCode).toBe(200);
      await expect(quiet.body.text()).rejects.toThrow();
      await expect.poll(() => backend.abandoned, { timeout: 5000 }).toBe(before + 1);
      const line = await idleHub.waitForLine((l) => l.includes('"call done"') && l.includes('"responseBytes":8192'), 5000);
      expect(JSON.parse(line)).toMatchObject({ connection: id, resource: RESOURCE, route: 'proxy', status: 200, finished: true });
    } finally {
      await idleHub.stop();
    }
  });

  it('a resource named by its Application (client) ID (an API without an Application ID URI) works like a URI', async () => {
    const appId = randomUUID();
    const byId = await startEntraBackend(entra, appId);
    try {
      const c = await api(hub.url, token, 'POST', '/v1/connections', {
        authType: 'EntraAuth',
        resourceUri: appId.toUpperCase(),
        baseResourceUrl: `${byId.url}/api`,
      });
      expect(c.status, c.text).toBe(201);
      expect(c.json.resourceUri).toBe(appId);
      const r = await invoke(c.json.id, { method: 'GET', url: 'me' });
      expect(r.json.statusCode).toBe(200);
      expect(byId.seen.at(-1)!.claims?.aud).toBe(appId);
      expect(entra.tokenRequests.at(-1)).toMatchObject({ grant: 'obo', resource: appId });
    } finally {
      await byId.close();
    }
  });

  it('another user gets their own token (cache per tid, oid, resource)', async () => {
    const other = await entra.token({ oid: USER_2 });
    const before = oboCount();
    const c = await entraConnection({}, other);
    expect(c.status).toBe(201);
    expect((await invoke(c.json.id, { method: 'GET', url: 'x' }, other)).json.statusCode).toBe(200);
    expect(oboCount()).toBe(before + 1);
    expect(backend.seen.at(-1)!.claims?.oid).toBe(USER_2);
  });
});

describe('token lifetime and consent', () => {
  it('expiry triggers a new token request', async () => {
    const resource = 'api://short-lived';
    const b2 = await startEntraBackend(entra, resource);
    try {
      entra.oboLifetimeSec = 302; // refreshed 5 minutes before expiry: after about 2 s
      const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: resource, baseResourceUrl: b2.url });
      expect(c.status).toBe(201);
      const before = oboCount(resource);
      await invoke(c.json.id, { method: 'GET', url: 'a' });
      expect(oboCount(resource)).toBe(before);
      await new Promise((r) => setTimeout(r, 2600));
      expect((await invoke(c.json.id, { method: 'GET', url: 'b' })).json.statusCode).toBe(200);
      expect(oboCount(resource)).toBe(before + 1);
    } finally {
      entra.oboLifetimeSec = 3600;
      await b2.close();
    }
  });

  it('no consent → 403 ConsentRequired with the admin-consent URL; a grant afterwards works on the next call', async () => {
    const resource = 'api://needs-consent';
    const b3 = await startEntraBackend(entra, resource);
    try {
      entra.obo.set(resource, 'consent');
      const refused = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: resource, baseResourceUrl: b3.url });
      expect(refused.status).toBe(403);
      expect(refused.json.error.code).toBe('ConsentRequired');
      expect(refused.json.error.message).toContain(`${resource}/.default`);
      expect(refused.json.error.message).toContain(`${entra.authorityHost}/${TENANT_A}/adminconsent?client_id=${CLIENT_ID}`);
      expect((await api(hub.url, token, 'GET', '/v1/connections')).json.value.some((c: { resourceUri?: string }) => c.resourceUri === resource)).toBe(false);

      entra.obo.set(resource, 'ok');
      entra.oboLifetimeSec = 302;
      const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: resource, baseResourceUrl: b3.url });
      expect(c.status).toBe(201);
      // consent revoked; once the cached token is due, the call is refused...
      entra.obo.set(resource, 'consent');
      await new Promise((r) => setTimeout(r, 2600));
      const r1 = await invoke(c.json.id, { method: 'GET', url: 'x' });
      expect(r1.status).toBe(403);
      expect(r1.json.error.code).toBe('ConsentRequired');
      // ...and granted again: the very next call works (nothing negative is cached)
      entra.obo.set(resource, 'ok');
      const r2 = await invoke(c.json.id, { method: 'GET', url: 'x' });
      expect(r2.status).toBe(200);
      expect(r2.json.statusCode).toBe(200);
    } finally {
      entra.oboLifetimeSec = 3600;
      await b3.close();
    }
  });

  it.each([
    ['mfa', 401, 'Unauthorized', /AADSTS50076/],
    ['assertion-expired', 401, 'Unauthorized', /AADSTS500133.*sign in again/],
    [{ aadsts: 7000112, error: 'unauthorized_client', status: 400 }, 502, 'BadGateway', /AADSTS7000112/],
  ] as const)('Entra error %j → %i %s', async (behaviour, status, code, message) => {
    const resource = `api://err-${randomUUID()}`;
    entra.obo.set(resource, behaviour as never);
    const r = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: resource, baseResourceUrl: backend.url });
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.message).toMatch(message);
    if (behaviour === 'mfa') {
      const www = String(r.headers['www-authenticate']);
      expect(www).toMatch(/^Bearer error="insufficient_claims"/);
      const claims = /claims="([^"]+)"/.exec(www)![1]!;
      expect(JSON.parse(Buffer.from(claims, 'base64').toString())).toEqual({ access_token: { capolids: { essential: true, values: ['cap-1'] } } });
    }
    expect(r.text).not.toContain(token);
  });
});

describe('national clouds and credentials', () => {
  it('a resource of another cloud is refused when the connection is created', async () => {
    const before = entra.tokenRequests.length;
    const r = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'EntraAuth',
      resourceUri: 'https://microsoftgraph.chinacloudapi.cn',
      baseResourceUrl: 'https://microsoftgraph.chinacloudapi.cn/v1.0',
    });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/belongs to AzureChina.*AzurePublic/);
    expect(entra.tokenRequests.length).toBe(before);
    const gov = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'EntraAuth',
      resourceUri: 'https://graph.microsoft.us',
      baseResourceUrl: 'https://graph.microsoft.us/v1.0',
    });
    expect(gov.json.error.message).toMatch(/belongs to AzureUSGovernment/);
  });

  it('a hub configured for a national cloud refuses a public-cloud resource', async () => {
    const cn = await startHub(entra, { GATEHOUSE_CLOUD: 'AzureChina' });
    try {
      const r = await api(cn.url, token, 'POST', '/v1/connections', {
        authType: 'EntraAuth',
        resourceUri: 'https://graph.microsoft.com',
        baseResourceUrl: 'https://graph.microsoft.com/v1.0',
      });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toMatch(/belongs to AzurePublic.*AzureChina/);
    } finally {
      await cn.stop();
    }
  });

  it('the legacy connector form without a gateway makes an EntraAuth connection', async () => {
    const r = await api(hub.url, token, 'POST', '/v1/connections', {
      resourceUri: RESOURCE,
      baseResourceUrl: backend.url,
      authenticationType: 'Anonymous',
      username: '',
      password: '',
    });
    expect(r.status).toBe(201);
    expect(r.json.authType).toBe('EntraAuth');
  });

  it('a certificate instead of a client secret', async () => {
    const dir = tempDir();
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=gatehouse-hub'],
      { stdio: 'pipe' },
    );
    writeFileSync(join(dir, 'hub.pem'), readFileSync(join(dir, 'k.pem'), 'utf8') + readFileSync(join(dir, 'c.pem'), 'utf8'));
    entra.clientCertificates.set(CLIENT_ID, readFileSync(join(dir, 'c.pem'), 'utf8'));
    const certHub = await startHub(entra, { GATEHOUSE_CLIENT_SECRET: '', GATEHOUSE_CLIENT_CERTIFICATE: join(dir, 'hub.pem') });
    try {
      const c = await entraConnection({}, token, certHub);
      expect(c.status, c.text).toBe(201);
      expect(entra.tokenRequests.at(-1)).toMatchObject({ grant: 'obo', clientAuth: 'certificate' });
    } finally {
      await certHub.stop();
    }
  });
});
