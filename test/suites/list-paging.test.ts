// Red team B7 (issue 22): one caller made 3,000 gateways and 3,000 connections, and every GET /v1/gateways then
// built 3,000 views (a member query each) into one 455 KB answer, 0.2 s of the hub's event loop, and another
// tenant's calls waited. The lists are now paged (`?top=&skipToken=`, `nextLink`, at most 500 a page, 100 by
// default); the first page keeps the `{"value": [...]}` shape.
// Red team session 17 F4: the connection lists read whole rows, each connection's sealed credentials with it (up to
// 11.6 KB, for lists that never show them); now they select every column but that one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { request } from 'undici';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { postgresAvailable, startPostgres, type Postgres } from '../helpers/datastores.js';
import { registerMember } from '../helpers/hostile-agent.js';

const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';

describe('the gateway and connection lists are paged (red team B7)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let tokenA: string;
  let tokenB: string;
  let agentA: AgentProc;
  let connA: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    tokenA = await entra.token();
    tokenB = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000001' });
    hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s' });
    const g = await gatewayWithAgent(hub.url, tokenA, [`${echo.url}/`], 'tenant-a');
    agentA = g.agent;
    connA = (await api(hub.url, tokenA, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json
      .id;
  }, 60_000);

  afterAll(async () => {
    await agentA?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  async function all(token: string, first: string): Promise<{ ids: string[]; pages: number; firstLength: number }> {
    const ids: string[] = [];
    let next: string | undefined = first;
    let pages = 0;
    let firstLength = -1;
    while (next && pages < 20) {
      const r = await api(hub.url, token, 'GET', next);
      expect(r.status).toBe(200);
      if (firstLength === -1) firstLength = r.json.value.length;
      ids.push(...r.json.value.map((x: { id: string }) => x.id));
      next = r.json.nextLink;
      pages++;
    }
    return { ids, pages, firstLength };
  }

  it('B7: GET /v1/gateways and /v1/connections answer a page of at most 100 by default with a nextLink, and every item once across pages', async () => {
    const gateways: string[] = [];
    for (let i = 0; i < 105; i++) gateways.push((await api(hub.url, tokenB, 'POST', '/v1/gateways', { name: `g${i}` })).json.id);
    const conns: string[] = [];
    for (let i = 0; i < 7; i++)
      conns.push(
        (await api(hub.url, tokenB, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gateways[0] })).json.id,
      );

    const g = await all(tokenB, '/v1/gateways');
    expect(g.firstLength).toBe(100);
    expect(g.pages).toBe(2);
    expect(g.ids.length).toBe(gateways.length);
    expect([...g.ids].sort()).toEqual([...gateways].sort());

    const c = await all(tokenB, '/v1/connections?top=3');
    expect(c.firstLength).toBe(3);
    expect(c.pages).toBe(3);
    expect(c.ids.length).toBe(conns.length);
    expect([...c.ids].sort()).toEqual([...conns].sort());

    // a list that fits keeps the old shape: no nextLink
    const one = await api(hub.url, tokenA, 'GET', '/v1/connections');
    expect(one.json).toEqual({ value: [expect.objectContaining({ id: connA })] });
    // a page's members are read in one query and still shown per gateway
    const gA = await api(hub.url, tokenA, 'GET', '/v1/gateways');
    expect(gA.json.value).toHaveLength(1);
    expect(gA.json.value[0].members).toEqual([expect.objectContaining({ status: 'online' })]);
    const gB = await api(hub.url, tokenB, 'GET', '/v1/gateways?top=5');
    expect(gB.json.value.every((x: { members: unknown[] }) => x.members.length === 0)).toBe(true);
    // and tenant A is served meanwhile
    const call = await api(hub.url, tokenA, 'POST', `/v1/connections/${connA}/invoke`, { method: 'GET', url: 'echo/after' });
    expect(call.status).toBe(200);
  }, 120_000);

  it('red team session 17: own and shared connections, paged together from the store (a page and one more of each), give every page of their union right: each once, in creation order, owned ones as Owner (also when shared with a group of the owner), shared ones as User', async () => {
    const C = 'cccccccc-0000-4000-8000-00000000000c';
    const c1id = 'cccccccc-0000-4000-8000-000000000001';
    const GROUP = 'cccccccc-0000-4000-8000-0000000000a1';
    const c1 = await entra.token({ tid: C, oid: c1id, groups: [GROUP] });
    const c2 = await entra.token({ tid: C, oid: 'cccccccc-0000-4000-8000-000000000002' });
    const g1 = (await api(hub.url, c1, 'POST', '/v1/gateways', { name: 'c1' })).json.id;
    const g2 = (await api(hub.url, c2, 'POST', '/v1/gateways', { name: 'c2' })).json.id;
    const make = async (t: string, g: string) =>
      (await api(hub.url, t, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g })).json.id as string;
    const own: string[] = [];
    const shared: string[] = [];
    // Interleaved in creation time, so every page mixes the two lists.
    for (let i = 0; i < 5; i++) {
      own.push(await make(c1, g1));
      const theirs = await make(c2, g2);
      if (i !== 2) {
        expect((await api(hub.url, c2, 'PUT', `/v1/connections/${theirs}/shares/${c1id}`, { principalType: 'User' })).status).toBe(200);
        shared.push(theirs);
      }
    }
    // One of c1's own is also shared with a group c1 is in: listed once, as Owner.
    expect((await api(hub.url, c1, 'PUT', `/v1/connections/${own[1]}/shares/${GROUP}`, { principalType: 'Group' })).status).toBe(200);
    const whole = await api(hub.url, c1, 'GET', '/v1/connections?top=500');
    expect(whole.json.value.map((c: { id: string }) => c.id)).toHaveLength(9);
    const order = whole.json.value.map((c: { id: string }) => c.id);
    for (const top of [1, 2, 3, 4, 8, 9]) {
      const seen: Array<{ id: string; access: string }> = [];
      let next: string | undefined = `/v1/connections?top=${top}`;
      let pages = 0;
      while (next && pages < 20) {
        const r = await api(hub.url, c1, 'GET', next);
        expect(r.status).toBe(200);
        expect(r.json.value.length).toBeLessThanOrEqual(top);
        seen.push(...r.json.value.map((c: { id: string; access: string }) => ({ id: c.id, access: c.access })));
        next = r.json.nextLink;
        pages++;
      }
      expect(pages).toBe(Math.ceil(9 / top));
      expect(seen.map((x) => x.id)).toEqual(order);
      for (const x of seen) expect(x.access).toBe(own.includes(x.id) ? 'Owner' : 'User');
      expect(new Set(seen.map((x) => x.id))).toEqual(new Set([...own, ...shared]));
    }
  }, 60_000);

  it('B7: a top outside 1-500 or a skipToken the hub did not give is 400 InvalidRequest', async () => {
    for (const q of ['top=0', 'top=501', 'top=x', 'skipToken=bm90LWEta2V5', 'skipToken=%2F%2F']) {
      const r = await api(hub.url, tokenA, 'GET', `/v1/gateways?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error.code).toBe('InvalidRequest');
    }
  }, 30_000);
});

const stores = [['SQLite', false]] as Array<[string, boolean]>;
if (postgresAvailable()) stores.push(['PostgreSQL', true]);

describe.each(stores)('what one caller and one tenant may own (red team B7), on %s', (_name, usePostgres) => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let pg: Postgres | undefined;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    pg = usePostgres ? await startPostgres() : undefined;
    hub = await startHub(entra, {
      ...(pg ? { GATEHOUSE_DATABASE: pg.url } : {}),
      GATEHOUSE_MAX_GATEWAYS_PER_CALLER: '2',
      GATEHOUSE_MAX_GATEWAYS_PER_TENANT: '3',
      GATEHOUSE_MAX_CONNECTIONS_PER_CALLER: '2',
      GATEHOUSE_MAX_CONNECTIONS_PER_TENANT: '3',
    });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await pg?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it('B7: gateways and connections past the caller and tenant caps are refused with 400 InvalidRequest naming the setting; another tenant still creates', async () => {
    const b1 = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000001' });
    const b2 = await entra.token({ tid: TENANT_B, oid: 'bbbbbbbb-0000-4000-8000-000000000002' });
    const a = await entra.token();
    const gw = async (t: string) => api(hub.url, t, 'POST', '/v1/gateways', { name: 'g' });
    const conn = async (t: string, gatewayId: string) =>
      api(hub.url, t, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId });

    const g1 = await gw(b1);
    expect(g1.status).toBe(201);
    expect((await gw(b1)).status).toBe(201);
    const over = await gw(b1);
    expect(over.status).toBe(400);
    expect(over.json.error.code).toBe('InvalidRequest');
    expect(over.json.error.message).toContain('GATEHOUSE_MAX_GATEWAYS_PER_CALLER');
    expect((await gw(b2)).status).toBe(201);
    const tenantOver = await gw(b2);
    expect(tenantOver.status).toBe(400);
    expect(tenantOver.json.error.message).toContain('GATEHOUSE_MAX_GATEWAYS_PER_TENANT');

    expect((await conn(b1, g1.json.id)).status).toBe(201);
    expect((await conn(b1, g1.json.id)).status).toBe(201);
    const cOver = await conn(b1, g1.json.id);
    expect(cOver.status).toBe(400);
    expect(cOver.json.error.message).toContain('GATEHOUSE_MAX_CONNECTIONS_PER_CALLER');

    // another tenant is not counted against tenant B
    const ga = await gw(a);
    expect(ga.status).toBe(201);
    expect((await conn(a, ga.json.id)).status).toBe(201);
  }, 60_000);
});

describe.each(stores)('the connection lists never read the sealed credentials (red team session 17 F4), on %s', (_name, usePostgres) => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let postgres: Postgres | undefined;
  const env = (): Record<string, string> => (postgres ? { GATEHOUSE_DATABASE: postgres.url } : {});

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    postgres = usePostgres ? await startPostgres() : undefined;
    hub = await startHub(entra, env());
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await postgres?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  /** Puts a value no reader of the whole row accepts in place of the connection's sealed credentials: 11,648 bytes
   *  (a 4096-bit key's blob) that are binary, not text. SQLite keeps a BLOB as given in a TEXT column; PostgreSQL
   *  needs the column made bytea first. The hub is stopped meanwhile, so that nothing it read before is cached. */
  async function poison(connectionId: string): Promise<void> {
    await hub.stop();
    const blob = Buffer.alloc(11_648, 0xa5);
    if (postgres) {
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      await client.query("ALTER TABLE connections ALTER COLUMN sealed_credentials TYPE bytea USING convert_to(sealed_credentials, 'UTF8')");
      await client.query('UPDATE connections SET sealed_credentials = $1 WHERE id = $2', [blob, connectionId]);
      await client.end();
    } else {
      const db = new Database(join(hub.dbDir, 'hub.db'));
      expect(db.prepare('UPDATE connections SET sealed_credentials = ? WHERE id = ?').run(blob, connectionId).changes).toBe(1);
      db.close();
    }
    hub = await startHub(entra, env(), { port: hub.port, dbDir: hub.dbDir });
  }

  it('F4: rotate/begin reads (id, sealed) of the connections that have them; GET /v1/connections (own and shared), GET /v1/gateways/{id}/connections and the per-gateway count answer as before while a connection holds sealed credentials only a whole-row read would refuse', async () => {
    const alice = await entra.token();
    const BOB = 'aaaaaaaa-0000-4000-8000-0000000000b0';
    const bob = await entra.userToken(BOB);
    // A key rotation's begin reads the blobs themselves: the id and sealed credentials of each of the gateway's
    // connections that has them, and no other.
    const m = await registerMember(hub.url, alice, 'f4-rotating');
    const onRotating = async (body: Record<string, unknown>) =>
      (await api(hub.url, alice, 'POST', '/v1/connections', { baseResourceUrl: echo.url, gatewayId: m.gatewayId, ...body })).json.id as string;
    const basic = await onRotating({ authType: 'BasicGateway', username: 'svc', password: 'pa55word-for-f4' });
    const anonymous = await onRotating({ authType: 'AnonymousGateway' });
    const begin = await request(`${hub.url}/v1/agent/rotate/begin`, { method: 'POST', headers: { authorization: `GatehouseAgent ${m.credential}` } });
    expect(begin.statusCode).toBe(200);
    expect(await begin.body.json()).toEqual({ connections: [{ id: basic, sealed: expect.stringMatching(/^[A-Za-z0-9+/=_-]{300,}$/) }] });

    const gatewayId = (await api(hub.url, alice, 'POST', '/v1/gateways', { name: 'f4' })).json.id as string;
    const create = async () =>
      (await api(hub.url, alice, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId, displayName: 'f4' })).json
        .id as string;
    const poisoned = await create();
    const plain = await create();
    expect((await api(hub.url, alice, 'PUT', `/v1/connections/${poisoned}/shares/${BOB}`, { principalType: 'User' })).status).toBe(200);
    const before = {
      own: (await api(hub.url, alice, 'GET', '/v1/connections')).json,
      shared: (await api(hub.url, bob, 'GET', '/v1/connections')).json,
      gateway: (await api(hub.url, alice, 'GET', `/v1/gateways/${gatewayId}/connections`)).json,
    };
    expect(before.own.value.map((c: { id: string }) => c.id)).toEqual([basic, anonymous, poisoned, plain]);
    expect(before.shared.value.map((c: { id: string; access: string }) => [c.id, c.access])).toEqual([[poisoned, 'User']]);

    await poison(poisoned);

    // Control: a read of the whole row (one connection) refuses the value, 500 InternalError, so a list that read it
    // would fail the same way.
    const whole = await api(hub.url, alice, 'GET', `/v1/connections/${poisoned}`);
    expect(whole.status).toBe(500);
    expect(whole.json.error.code).toBe('InternalError');
    expect(whole.text).not.toContain('paWl'); // (nor any of the value: 0xa5 bytes are paWl… in base64)
    expect((await api(hub.url, alice, 'GET', `/v1/connections/${plain}`)).status).toBe(200);

    // The lists answer as before; the only change is that the connection now has credentials.
    const withCredentials = (list: { value: Array<{ id: string }> }) => ({
      ...list,
      value: list.value.map((c) => (c.id === poisoned ? { ...c, hasCredentials: true } : c)),
    });
    const own = await api(hub.url, alice, 'GET', '/v1/connections');
    expect(own.status).toBe(200);
    expect(own.json).toEqual(withCredentials(before.own));
    expect(own.json.value.map((c: { hasCredentials: boolean }) => c.hasCredentials)).toEqual([true, false, true, false]);
    const shared = await api(hub.url, bob, 'GET', '/v1/connections');
    expect(shared.status).toBe(200);
    expect(shared.json).toEqual(withCredentials(before.shared));
    const onGateway = await api(hub.url, alice, 'GET', `/v1/gateways/${gatewayId}/connections`);
    expect(onGateway.status).toBe(200);
    expect(onGateway.json).toEqual(withCredentials(before.gateway));
    // The gateway cannot go while connections use it (their ids, from the same light list) ...
    const remove = await api(hub.url, alice, 'DELETE', `/v1/gateways/${gatewayId}`);
    expect(remove.status).toBe(400);
    expect(remove.json.error.message).toContain(poisoned);
    // ... and a new connection on it is counted against MAX_CONNECTIONS_PER_GATEWAY without reading any.
    const third = await api(hub.url, alice, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId });
    expect(third.status).toBe(201);
  }, 90_000);
});

describe.each(stores)('the gateway lists read one page from the store (multi-tenant isolation), on %s', (_name, usePostgres) => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let postgres: Postgres | undefined;
  const T = 'dddddddd-0000-4000-8000-00000000000d';
  const ADMIN = 'dddddddd-0000-4000-8000-000000000001';
  const OTHER = 'dddddddd-0000-4000-8000-000000000002';
  const GROUP = 'dddddddd-0000-4000-8000-0000000000a1';
  let admin: string;
  let other: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    postgres = usePostgres ? await startPostgres() : undefined;
    hub = await startHub(entra, { ...(postgres ? { GATEHOUSE_DATABASE: postgres.url } : {}), GATEHOUSE_THROTTLE: '100000/60s' });
    admin = await entra.token({ tid: T, oid: ADMIN, groups: [GROUP] });
    other = await entra.token({ tid: T, oid: OTHER });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await postgres?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  /** Every page of a list from `first`, each page checked: at most `top` items, and a nextLink naming the same list. */
  async function walk(token: string, list: string, top: number): Promise<{ ids: string[]; pages: number[] }> {
    const ids: string[] = [];
    const pages: number[] = [];
    let next: string | undefined = `${list}?top=${top}`;
    while (next && pages.length < 50) {
      const r = await api(hub.url, token, 'GET', next);
      expect(r.status, next).toBe(200);
      expect(r.json.value.length).toBeLessThanOrEqual(top);
      ids.push(...r.json.value.map((x: { id: string }) => x.id));
      pages.push(r.json.value.length);
      next = r.json.nextLink;
      if (next !== undefined) expect(next.startsWith(`${list}?top=${top}&skipToken=`), next).toBe(true);
    }
    return { ids, pages };
  }

  const byCreated = (list: Array<{ id: string; createdAt: string }>) =>
    [...list].sort((a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : 1)).map((x) => x.id);

  it('GET /v1/gateways: the gateways held directly, through a group or both, walked with small pages, each once and in (createdAt, id) order', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 4; i++) mine.push((await api(hub.url, admin, 'POST', '/v1/gateways', { name: `mine-${i}` })).json.id);
    // Gateways of another user on which the caller holds a role through its group, and one through both.
    const theirs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = (await api(hub.url, other, 'POST', '/v1/gateways', { name: `theirs-${i}` })).json.id as string;
      expect((await api(hub.url, other, 'PUT', `/v1/gateways/${id}/roles/${GROUP}`, { principalType: 'Group', role: 'ConnectionCreator' })).status).toBe(200);
      if (i === 1) expect((await api(hub.url, other, 'PUT', `/v1/gateways/${id}/roles/${ADMIN}`, { principalType: 'User', role: 'Admin' })).status).toBe(200);
      theirs.push(id);
    }
    // one the caller holds no role on: never listed
    const hidden = (await api(hub.url, other, 'POST', '/v1/gateways', { name: 'hidden' })).json.id as string;
    const whole = await api(hub.url, admin, 'GET', '/v1/gateways?top=500');
    expect(whole.json.nextLink).toBeUndefined();
    const order = byCreated(whole.json.value);
    expect(whole.json.value.map((g: { id: string }) => g.id)).toEqual(order);
    expect(new Set(order)).toEqual(new Set([...mine, ...theirs]));
    expect(order).not.toContain(hidden);
    expect(whole.json.value.find((g: { id: string }) => g.id === theirs[1]).role).toBe('Admin');
    for (const top of [1, 2, 3, 6, 7]) {
      const w = await walk(admin, '/v1/gateways', top);
      expect(w.ids, `top=${top}`).toEqual(order);
      expect(w.pages.length).toBe(Math.ceil(7 / top));
      expect(w.pages.slice(0, -1).every((n) => n === top)).toBe(true);
    }
  }, 90_000);

  it('GET /v1/gateways/{id}/connections is paged: more connections than top answer top of them and a nextLink; walked with small pages, every owner’s connection once, in order; a deleted item’s token still goes on from its place', async () => {
    const gatewayId = (await api(hub.url, admin, 'POST', '/v1/gateways', { name: 'paged' })).json.id as string;
    const elsewhere = (await api(hub.url, admin, 'POST', '/v1/gateways', { name: 'elsewhere' })).json.id as string;
    expect((await api(hub.url, admin, 'PUT', `/v1/gateways/${gatewayId}/roles/${OTHER}`, { principalType: 'User', role: 'ConnectionCreator' })).status).toBe(
      200,
    );
    const make = async (t: string, g: string) =>
      (await api(hub.url, t, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g })).json.id as string;
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      made.push(await make(admin, gatewayId));
      made.push(await make(other, gatewayId));
      await make(admin, elsewhere);
    }
    const list = `/v1/gateways/${gatewayId}/connections`;

    // Today's answer was every connection at once; now a page of top and a link to the next.
    const first = await api(hub.url, admin, 'GET', `${list}?top=3`);
    expect(first.status).toBe(200);
    expect(first.json.value).toHaveLength(3);
    expect(first.json.nextLink).toMatch(new RegExp(`^${list}\\?top=3&skipToken=[A-Za-z0-9_-]+$`));
    // the default page (100) holds all 8: the old shape, no nextLink
    const whole = await api(hub.url, admin, 'GET', list);
    expect(whole.json.nextLink).toBeUndefined();
    const order = byCreated(whole.json.value);
    expect(whole.json.value.map((c: { id: string }) => c.id)).toEqual(order);
    expect(new Set(order)).toEqual(new Set(made));
    const owners = new Set(whole.json.value.map((c: { owner: { objectId: string } }) => c.owner.objectId));
    expect(owners).toEqual(new Set([ADMIN, OTHER]));

    for (const top of [1, 2, 3, 7, 8]) {
      const w = await walk(admin, list, top);
      expect(w.ids, `top=${top}`).toEqual(order);
      expect(w.pages.length).toBe(Math.ceil(8 / top));
      expect(w.pages.slice(0, -1).every((n) => n === top)).toBe(true);
    }

    // The token names a place in (createdAt, id) order, not an item: the last item of a page deleted, its nextLink
    // goes on with the one after it.
    const page = await api(hub.url, admin, 'GET', `${list}?top=2`);
    const last = page.json.value[1].id as string;
    expect(last).toBe(order[1]);
    const lastOwner = whole.json.value.find((c: { id: string }) => c.id === last).owner.objectId;
    expect((await api(hub.url, lastOwner === ADMIN ? admin : other, 'DELETE', `/v1/connections/${last}`)).status).toBe(204);
    const after = await api(hub.url, admin, 'GET', page.json.nextLink);
    expect(after.status).toBe(200);
    expect(after.json.value.map((c: { id: string }) => c.id)).toEqual(order.slice(2, 4));
  }, 90_000);

  it('a refused DELETE /v1/gateways/{id} names the 5 oldest connections still using it and "…" for the rest', async () => {
    const gatewayId = (await api(hub.url, admin, 'POST', '/v1/gateways', { name: 'in-use' })).json.id as string;
    const made: string[] = [];
    for (let i = 0; i < 7; i++)
      made.push(
        (await api(hub.url, admin, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id as string,
      );
    const order = byCreated((await api(hub.url, admin, 'GET', `/v1/gateways/${gatewayId}/connections`)).json.value);
    const r = await api(hub.url, admin, 'DELETE', `/v1/gateways/${gatewayId}`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.message).toContain(`(${order.slice(0, 5).join(', ')}, …)`);
    for (const id of order.slice(5)) expect(r.json.error.message).not.toContain(id);
  }, 60_000);

  it('a top outside 1-500 or a skipToken the hub did not give is 400 InvalidRequest on GET /v1/gateways/{id}/connections too', async () => {
    const gatewayId = (await api(hub.url, admin, 'POST', '/v1/gateways', { name: 'bad-token' })).json.id as string;
    for (const q of ['top=0', 'top=501', 'top=x', 'skipToken=bm90LWEta2V5', 'skipToken=%2F%2F']) {
      for (const path of ['/v1/gateways', `/v1/gateways/${gatewayId}/connections`]) {
        const r = await api(hub.url, admin, 'GET', `${path}?${q}`);
        expect(r.status, `${path}?${q}`).toBe(400);
        expect(r.json.error.code).toBe('InvalidRequest');
      }
    }
  }, 30_000);
});
