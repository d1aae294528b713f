// Teams (issue 24): principals (users, groups, apps), gateway roles and shared connections, with the real hub and
// agent and the fake Entra ID signing tokens for several users, groups and apps. Every case runs on one hub
// (SQLite) and on two hubs sharing PostgreSQL and Redis, where a change made through one hub must hold on the other
// (within the read cache's 2 s: `eventually`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { APP_1, APP_2, GROUP_1, USER_1, USER_2, USER_3, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { postgresAvailable, startPostgres, startRedis, type Postgres, type Redis } from '../helpers/datastores.js';
import { api, b64, startAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

const ADMIN = USER_1;
const ALICE = USER_2;
const BOB = USER_3;
const CAROL = '0000aaaa-1111-4111-8111-000000000004'; // in GROUP_1
const DAVE = '0000aaaa-1111-4111-8111-000000000005';
const PASSWORD = 'alices-Basic-p4ssword';
const SECRET = 'cluster-secret-for-tests-0123456789abcdef';

let entra: FakeEntra;
let echo: EchoServer;
beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
});
afterAll(async () => {
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

/** Polls `read` until `ok` holds (a change made through another hub reaches this one within the read cache's 2 s). */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface Setup {
  /** Where changes are made (the agent is connected here), and where they are checked. */
  write: HubProc;
  read: HubProc;
  stop(): Promise<void>;
}

async function oneHub(): Promise<Setup> {
  const hub = await startHub(entra);
  return { write: hub, read: hub, stop: () => hub.stop().then(() => undefined) };
}

async function twoHubs(): Promise<Setup> {
  const pg: Postgres = await startPostgres();
  const redis: Redis = await startRedis();
  const hub = async () => {
    const port = await freePort();
    return startHub(
      entra,
      {
        GATEHOUSE_DATABASE: pg.url,
        GATEHOUSE_REDIS_URL: redis.url,
        GATEHOUSE_ADVERTISE_URL: `http://127.0.0.1:${port}`,
        GATEHOUSE_CLUSTER_SECRET: SECRET,
        GATEHOUSE_AGENT_ADVERTISE_URL: 'none',
      },
      { port },
    );
  };
  const [a, b] = await Promise.all([hub(), hub()]);
  return {
    write: a,
    read: b,
    async stop() {
      await a.stop();
      await b.stop();
      await redis.stop();
      await pg.stop();
    },
  };
}

const variants: Array<[string, () => Promise<Setup>]> = [['one hub (SQLite)', oneHub]];
if (postgresAvailable()) variants.push(['two hubs (PostgreSQL, Redis)', twoHubs]);

describe.each(variants)('teams on %s', (_name, start) => {
  let s: Setup;
  let agent: AgentProc;
  let gatewayId: string;
  const t: Record<string, string> = {};
  let aliceConn: string;

  const role = (principalId: string, principalType: string, r: string, h = s.write, tok = t.admin!) =>
    api(h.url, tok, 'PUT', `/v1/gateways/${gatewayId}/roles/${principalId}`, { principalType, role: r });
  const invoke = (tok: string, id: string, h = s.read) => api(h.url, tok, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'teams' });
  const create = (tok: string, h = s.read, extra: Record<string, unknown> = {}) =>
    api(h.url, tok, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId, ...extra });

  beforeAll(async () => {
    s = await start();
    t.admin = await entra.userToken(ADMIN);
    t.alice = await entra.userToken(ALICE);
    t.bob = await entra.userToken(BOB);
    t.carol = await entra.userToken(CAROL, { groups: [GROUP_1] });
    t.carolOverage = await entra.userToken(CAROL, { overage: true });
    t.dave = await entra.userToken(DAVE);
    t.app = await entra.appToken(APP_1);
    const gw = await api(s.write.url, t.admin, 'POST', '/v1/gateways', { name: 'team-gw' });
    gatewayId = gw.json.id;
    agent = await startAgent([s.write.url], gatewayId, gw.json.registrationKey, [`${echo.url}/`]);
  }, 180_000);
  afterAll(async () => {
    await agent?.stop();
    await s?.stop();
  });

  it('the creator is the gateway Admin; Admin gives alice ConnectionCreator: she creates a connection on the gateway and calls it', async () => {
    const roles = await api(s.read.url, t.admin, 'GET', `/v1/gateways/${gatewayId}/roles`);
    expect(roles.status).toBe(200);
    expect(roles.json.value).toEqual([{ principalId: ADMIN, principalType: 'User', role: 'Admin' }]);
    const put = await role(ALICE, 'User', 'ConnectionCreator');
    expect(put.status, put.text).toBe(200);
    expect(put.json).toEqual({ principalId: ALICE, principalType: 'User', role: 'ConnectionCreator' });
    const seen = await eventually(
      () => api(s.read.url, t.alice, 'GET', `/v1/gateways/${gatewayId}`),
      (r) => r.status === 200,
    );
    expect(seen.status).toBe(200);
    expect(seen.json).toMatchObject({ id: gatewayId, status: 'online', role: 'ConnectionCreator' });
    expect(seen.json.members[0].status).toBe('online');
    const listed = await api(s.read.url, t.alice, 'GET', '/v1/gateways');
    expect(listed.json.value.map((g: { id: string }) => g.id)).toEqual([gatewayId]);
    const c = await create(t.alice);
    expect(c.status, c.text).toBe(201);
    expect(c.json.access).toBe('Owner');
    aliceConn = c.json.id;
    const r = await invoke(t.alice, aliceConn);
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/teams');
  });

  it('a ConnectionCreator cannot administer the gateway (403 naming the role), and the Admin sees its connections (metadata only)', async () => {
    for (const [method, path, body] of [
      ['GET', `/v1/gateways/${gatewayId}/roles`, undefined],
      ['PUT', `/v1/gateways/${gatewayId}/roles/${BOB}`, { principalType: 'User', role: 'Admin' }],
      ['POST', `/v1/gateways/${gatewayId}/registration-keys`, undefined],
      ['PATCH', `/v1/gateways/${gatewayId}`, { routing: 'distribute' }],
      ['DELETE', `/v1/gateways/${gatewayId}`, undefined],
      ['GET', `/v1/gateways/${gatewayId}/connections`, undefined],
    ] as const) {
      const r = await api(s.read.url, t.alice, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.json.error.code).toBe('Forbidden');
      expect(r.json.error.message).toContain('Admin');
    }
    const list = await api(s.read.url, t.admin, 'GET', `/v1/gateways/${gatewayId}/connections`);
    expect(list.status).toBe(200);
    const entry = list.json.value.find((c: { id: string }) => c.id === aliceConn);
    expect(entry).toMatchObject({ id: aliceConn, authType: 'AnonymousGateway', owner: { objectId: ALICE } });
    expect(entry.sealedCredentials).toBeUndefined();
    // metadata only: the Admin cannot call, change or delete alice's connection
    expect((await invoke(t.admin, aliceConn)).status).toBe(404);
    expect((await api(s.read.url, t.admin, 'DELETE', `/v1/connections/${aliceConn}`)).status).toBe(404);
  });

  it('bob (no role) gets 404 for the gateway and cannot create there; a member of a group holding the role can', async () => {
    const g = await api(s.read.url, t.bob, 'GET', `/v1/gateways/${gatewayId}`);
    expect(g.status).toBe(404);
    expect(g.json.error.code).toBe('NotFound');
    expect((await api(s.read.url, t.bob, 'GET', '/v1/gateways')).json.value).toEqual([]);
    const c = await create(t.bob);
    expect(c.status).toBe(400);
    expect(c.json.error.message).toMatch(/gatewayId does not name a gateway you can use/);
    expect((await create(t.carol)).status).toBe(400);
    expect((await role(GROUP_1, 'Group', 'ConnectionCreator')).status).toBe(200);
    const made = await eventually(
      () => create(t.carol),
      (r) => r.status === 201,
    );
    expect(made.status, made.text).toBe(201);
    expect((await invoke(t.carol, made.json.id)).status).toBe(200);
    // a token with groups overage lists no groups: the group's role does not reach it (docs/operations.md)
    expect((await api(s.read.url, t.carolOverage, 'GET', `/v1/gateways/${gatewayId}`)).status).toBe(404);
    await s.read.waitForLine((l) => l.includes('groups overage') && l.includes(CAROL));
    expect((await api(s.read.url, t.carol, 'GET', `/v1/gateways/${gatewayId}`)).json.role).toBe('ConnectionCreator');
  });

  it('the last Admin cannot be removed or demoted; a second Admin can be added and removed', async () => {
    const last = await api(s.write.url, t.admin, 'DELETE', `/v1/gateways/${gatewayId}/roles/${ADMIN}`);
    expect(last.status).toBe(400);
    expect(last.json.error.code).toBe('InvalidRequest');
    expect(last.json.error.message).toMatch(/last Admin/);
    const demote = await role(ADMIN, 'User', 'ConnectionCreator');
    expect(demote.status).toBe(400);
    expect(demote.json.error.message).toMatch(/last Admin/);
    expect((await role(DAVE, 'User', 'Admin')).status).toBe(200);
    const daveSees = await eventually(
      () => api(s.read.url, t.dave, 'GET', `/v1/gateways/${gatewayId}/roles`),
      (r) => r.status === 200,
    );
    expect(
      daveSees.json.value
        .filter((r: { role: string }) => r.role === 'Admin')
        .map((r: { principalId: string }) => r.principalId)
        .sort(),
    ).toEqual([ADMIN, DAVE].sort());
    expect((await api(s.write.url, t.dave, 'DELETE', `/v1/gateways/${gatewayId}/roles/${DAVE}`)).status).toBe(204);
    expect((await api(s.write.url, t.admin, 'DELETE', `/v1/gateways/${gatewayId}/roles/${DAVE}`)).status).toBe(404);
    expect((await api(s.write.url, t.admin, 'PUT', `/v1/gateways/${gatewayId}/roles/not-a-guid`, { principalType: 'User', role: 'Admin' })).status).toBe(400);
    expect((await role(BOB, 'Robot', 'Admin')).status).toBe(400);
    expect((await role(BOB, 'User', 'Owner')).status).toBe(400);
  });

  it('alice shares with bob: bob invokes, cannot PATCH/DELETE, never sees credentials; unshare → bob 404', async () => {
    const basic = await create(t.alice, s.read, { authType: 'BasicGateway', username: 'alice', password: PASSWORD });
    expect(basic.status, basic.text).toBe(201);
    const id = basic.json.id as string;
    // a plain ConnectionCreator may not share
    const refused = await api(s.read.url, t.alice, 'PUT', `/v1/connections/${id}/shares/${BOB}`, { principalType: 'User' });
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toMatch(/ConnectionCreatorWithSharing/);
    expect((await role(ALICE, 'User', 'ConnectionCreatorWithSharing')).status).toBe(200);
    const shared = await eventually(
      () => api(s.read.url, t.alice, 'PUT', `/v1/connections/${id}/shares/${BOB}`, { principalType: 'User' }),
      (r) => r.status === 200,
    );
    expect(shared.json).toEqual({ principalId: BOB, principalType: 'User' });
    expect((await api(s.read.url, t.alice, 'GET', `/v1/connections/${id}/shares`)).json.value).toEqual([{ principalId: BOB, principalType: 'User' }]);

    const bobList = await eventually(
      () => api(s.write.url, t.bob, 'GET', '/v1/connections'),
      (r) => r.json.value.length === 1,
    );
    expect(bobList.json.value).toEqual([expect.objectContaining({ id, access: 'User' })]);
    const aliceList = await api(s.read.url, t.alice, 'GET', '/v1/connections');
    expect(aliceList.json.value.find((c: { id: string }) => c.id === id).access).toBe('Owner');
    const meta = await api(s.write.url, t.bob, 'GET', `/v1/connections/${id}`);
    expect(meta.status).toBe(200);
    expect(meta.json).toMatchObject({ id, access: 'User', hasCredentials: true });
    expect(meta.text).not.toContain(PASSWORD);
    expect(meta.text).not.toMatch(/username|password|sealed/);

    const r = await invoke(t.bob, id, s.write);
    expect(r.status, r.text).toBe(200);
    expect(echo.received.at(-1)!.headers.authorization).toBe(`Basic ${b64(`alice:${PASSWORD}`)}`);
    const raw = await api(s.read.url, t.bob, 'GET', `/v1/connections/${id}/proxy/raw-by-bob`);
    expect(raw.status).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/raw-by-bob');

    for (const [method, path, body] of [
      ['PATCH', `/v1/connections/${id}`, { displayName: 'bobs now' }],
      ['PATCH', `/v1/connections/${id}`, { username: 'bob', password: 'bobs' }],
      ['DELETE', `/v1/connections/${id}`, undefined],
      ['GET', `/v1/connections/${id}/shares`, undefined],
      ['PUT', `/v1/connections/${id}/shares/${DAVE}`, { principalType: 'User' }],
      ['DELETE', `/v1/connections/${id}/shares/${BOB}`, undefined],
    ] as const) {
      const x = await api(s.read.url, t.bob, method, path, body);
      expect(x.status, `${method} ${path}`).toBe(403);
      expect(x.json.error.code).toBe('Forbidden');
      expect(x.json.error.message).toMatch(/owner/);
    }
    expect((await api(s.read.url, t.alice, 'GET', `/v1/connections/${id}`)).json.displayName).toBeNull();

    expect((await api(s.write.url, t.alice, 'DELETE', `/v1/connections/${id}/shares/${BOB}`)).status).toBe(204);
    const gone = await eventually(
      () => invoke(t.bob, id),
      (x) => x.status === 404,
    );
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('NotFound');
    expect((await api(s.read.url, t.bob, 'GET', `/v1/connections/${id}`)).status).toBe(404);
    expect((await api(s.read.url, t.bob, 'GET', '/v1/connections')).json.value).toEqual([]);
    expect((await api(s.write.url, t.alice, 'DELETE', `/v1/connections/${id}/shares/${BOB}`)).status).toBe(404);
    // a group share reaches the group's members
    expect((await api(s.write.url, t.alice, 'PUT', `/v1/connections/${id}/shares/${GROUP_1}`, { principalType: 'Group' })).status).toBe(200);
    expect(
      (
        await eventually(
          () => invoke(t.carol, id),
          (x) => x.status === 200,
        )
      ).status,
    ).toBe(200);
    expect((await invoke(t.bob, id)).status).toBe(404);
  });

  it('role removed → alice’s calls on that gateway 403 naming why (for those she shared with too); restored → served', async () => {
    expect((await api(s.write.url, t.alice, 'PUT', `/v1/connections/${aliceConn}/shares/${BOB}`, { principalType: 'User' })).status).toBe(200);
    expect(
      (
        await eventually(
          () => invoke(t.bob, aliceConn),
          (x) => x.status === 200,
        )
      ).status,
    ).toBe(200);
    expect((await api(s.write.url, t.admin, 'DELETE', `/v1/gateways/${gatewayId}/roles/${ALICE}`)).status).toBe(204);
    const refused = await eventually(
      () => invoke(t.alice, aliceConn),
      (x) => x.status === 403,
    );
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('Forbidden');
    expect(refused.json.error.message).toMatch(/owner no longer holds a role on its gateway/);
    expect((await invoke(t.bob, aliceConn)).status).toBe(403);
    const raw = await api(s.read.url, t.alice, 'GET', `/v1/connections/${aliceConn}/proxy/x`);
    expect(raw.status).toBe(403);
    expect(raw.headers['x-gatehouse-error']).toBe('Forbidden');
    // the gateway is gone for her; her connection's metadata is still hers
    expect((await api(s.read.url, t.alice, 'GET', `/v1/gateways/${gatewayId}`)).status).toBe(404);
    expect((await api(s.read.url, t.alice, 'GET', `/v1/connections/${aliceConn}`)).status).toBe(200);
    expect((await role(ALICE, 'User', 'ConnectionCreatorWithSharing')).status).toBe(200);
    const back = await eventually(
      () => invoke(t.alice, aliceConn),
      (x) => x.status === 200,
    );
    expect(back.status, back.text).toBe(200);
    const viaShare = await invoke(t.bob, aliceConn);
    expect(viaShare.status).toBe(200);
    // one throttle per connection, whoever calls: bob's call counted against the same window as alice's
    const after = await invoke(t.alice, aliceConn);
    expect(Number(after.headers['ratelimit-remaining'])).toBe(Number(viaShare.headers['ratelimit-remaining']) - 1);
  });

  it('a service principal with Gatehouse.Invoke and a share calls a gateway connection; without the role 403; on an EntraAuth connection 403 with the On-Behalf-Of message', async () => {
    expect((await invoke(t.app, aliceConn)).status).toBe(404); // not shared yet
    expect((await api(s.write.url, t.alice, 'PUT', `/v1/connections/${aliceConn}/shares/${APP_1}`, { principalType: 'ServicePrincipal' })).status).toBe(200);
    const r = await eventually(
      () => invoke(t.app, aliceConn),
      (x) => x.status === 200,
    );
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(200);
    const listed = await api(s.read.url, t.app, 'GET', '/v1/connections');
    expect(listed.json.value).toEqual([expect.objectContaining({ id: aliceConn, access: 'User' })]);
    const noRole = await invoke(await entra.appToken(APP_1, { roles: ['Something.Else'] }), aliceConn);
    expect(noRole.status).toBe(403);
    expect(noRole.json.error.message).toMatch(/app-only/);
    expect((await invoke(await entra.appToken(APP_2), aliceConn)).status).toBe(404);

    // EntraAuth: shared with the app and with bob; bob gets an OBO token of his own, the app a 403
    const e = await api(s.read.url, t.alice, 'POST', '/v1/connections', {
      authType: 'EntraAuth',
      resourceUri: 'api://teams-backend',
      baseResourceUrl: echo.url,
    });
    expect(e.status, e.text).toBe(201);
    for (const [p, type] of [
      [APP_1, 'ServicePrincipal'],
      [BOB, 'User'],
    ] as const)
      expect((await api(s.read.url, t.alice, 'PUT', `/v1/connections/${e.json.id}/shares/${p}`, { principalType: type })).status).toBe(200);
    const app = await eventually(
      () => invoke(t.app, e.json.id, s.write),
      (x) => x.status !== 404,
    );
    expect(app.status).toBe(403);
    expect(app.json.error.code).toBe('Forbidden');
    expect(app.json.error.message).toMatch(/On-Behalf-Of/);
    expect(app.json.error.message).toMatch(/signed-in user/);
    const oboBefore = entra.tokenRequests.filter((x) => x.grant === 'obo' && x.oid === BOB).length;
    const bob = await eventually(
      () => invoke(t.bob, e.json.id, s.write),
      (x) => x.status !== 404,
    );
    expect(bob.status, bob.text).toBe(200);
    expect(entra.tokenRequests.filter((x) => x.grant === 'obo' && x.oid === BOB).length).toBe(oboBefore + 1);
    const sent = String(echo.received.at(-1)!.headers.authorization).replace(/^Bearer /, '');
    expect(JSON.parse(Buffer.from(sent.split('.')[1]!, 'base64url').toString()).oid).toBe(BOB);
  });

  it('every role and share change is on the gateway audit record in order, with its actor; the password never', async () => {
    const a = await api(s.read.url, t.admin, 'GET', `/v1/gateways/${gatewayId}/audit?top=200`);
    expect(a.status, a.text).toBe(200);
    const changes = (a.json.value as Array<{ action: string; actor: { oid: string; type: string }; target: { id: string } }>)
      .filter((r) => /^(role|share)\./.test(r.action))
      .reverse()
      .map((r) => `${r.action} by ${r.actor.oid} on ${r.target.id}`);
    expect(changes).toEqual([
      `role.set by ${ADMIN} on ${ALICE}`,
      `role.set by ${ADMIN} on ${GROUP_1}`,
      `role.set by ${ADMIN} on ${DAVE}`,
      `role.delete by ${DAVE} on ${DAVE}`,
      `role.set by ${ADMIN} on ${ALICE}`,
      `share.set by ${ALICE} on ${BOB}`,
      `share.delete by ${ALICE} on ${BOB}`,
      `share.set by ${ALICE} on ${GROUP_1}`,
      `share.set by ${ALICE} on ${BOB}`,
      `role.delete by ${ADMIN} on ${ALICE}`,
      `role.set by ${ADMIN} on ${ALICE}`,
      `share.set by ${ALICE} on ${APP_1}`,
    ]);
    expect(a.text).not.toContain(PASSWORD);
    expect(a.text).not.toContain(b64(`alice:${PASSWORD}`));
    // the gateway's audit is its Admins' alone
    expect((await api(s.read.url, t.alice, 'GET', `/v1/gateways/${gatewayId}/audit`)).status).toBe(403);
  });
});

describe('store migration 3', () => {
  it("an existing gateway's creator becomes its Admin", async () => {
    const hub = await startHub(entra);
    const admin = await entra.userToken(ADMIN);
    const gw = await api(hub.url, admin, 'POST', '/v1/gateways', { name: 'before-roles' });
    await hub.stop();
    // The database as version 2 left it: no roles yet.
    const db = new Database(join(hub.dbDir, 'hub.db'));
    db.exec(
      'DROP TABLE gateway_roles; DROP TABLE connection_shares; ALTER TABLE connections DROP COLUMN owner_groups; DELETE FROM schema_migrations WHERE version = 3;',
    );
    db.close();
    const again = await startHub(entra, {}, { dbDir: hub.dbDir });
    try {
      const roles = await api(again.url, admin, 'GET', `/v1/gateways/${gw.json.id}/roles`);
      expect(roles.status).toBe(200);
      expect(roles.json.value).toEqual([{ principalId: ADMIN, principalType: 'User', role: 'Admin' }]);
      expect((await api(again.url, await entra.userToken(ALICE), 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
    } finally {
      await again.stop();
    }
  });
});
