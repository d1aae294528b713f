// The audit log (issue 24, SPEC section 6): every change recorded with its actor, newest first, paged, never a
// secret, kept GATEHOUSE_AUDIT_DAYS; on one hub with SQLite and on two hubs sharing PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { APP_1, startFakeEntra, TENANT_A, USER_1, USER_2, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { postgresAvailable, startPostgres, startRedis, type Postgres, type Redis } from '../helpers/datastores.js';
import { AGENT_MAIN, HUB_MAIN, RECOVERY_KEY, api, joinAgent, startAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

interface Entry {
  time: string;
  actor: { type: string; tid?: string; oid?: string; memberId?: string };
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
}

/** Every record of an audit list, page after page (`top` per page), newest first. */
async function wholeAudit(hubUrl: string, token: string, path: string, top = 3): Promise<Entry[]> {
  const all: Entry[] = [];
  let next: string | undefined = `${path}?top=${top}`;
  for (let pages = 0; next !== undefined; pages++) {
    if (pages > 100) throw new Error('more than 100 pages');
    const r = await api(hubUrl, token, 'GET', next);
    if (r.status !== 200) throw new Error(`${next}: ${r.status} ${r.text}`);
    expect(r.json.value.length).toBeLessThanOrEqual(top);
    all.push(...r.json.value);
    next = r.json.nextLink;
  }
  return all;
}

/** Every string a log line or a row holds, JSON inside it decoded (a secret with a quote in it is escaped there). */
function deepText(v: unknown): string {
  const strings: string[] = [];
  const walk = (x: unknown): void => {
    if (typeof x === 'string') {
      strings.push(x);
      if (/^\s*[[{]/.test(x)) {
        try {
          walk(JSON.parse(x));
        } catch {
          /* not JSON: kept as it is */
        }
      }
    } else if (x && typeof x === 'object') for (const y of Object.values(x)) walk(y);
  };
  walk(v);
  return strings.join('\n');
}

const user = { type: 'User', tid: TENANT_A, oid: USER_1 };
const agentActor = (memberId: string) => ({ type: 'Agent', memberId });

/**
 * `gatehouse-agent rotate-key`, tried a second time when the hub's connection was gone: the command reuses a kept-alive
 * connection after generating the new key pair, which on a loaded machine takes longer than the hub keeps an idle
 * connection (5 s), and then fails with `cannot reach the hub (UND_ERR_SOCKET)` (reported; the agent's part).
 */
async function rotateKey(configPath: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const rotate = startProc([AGENT_MAIN, 'rotate-key', '--config', configPath, '--recovery-key', RECOVERY_KEY], {});
    const code = await rotate.exited;
    if (code === 0) return;
    if (attempt === 2 || !rotate.lines.join('\n').includes('UND_ERR_SOCKET')) throw new Error(`rotate-key: ${rotate.lines.join('\n')}`);
  }
}

/**
 * Makes one change of every kind, each through one of `hubs` in turn, and returns what the gateway's audit should
 * then hold (oldest first), with the ids made on the way. The last agent is stopped and its member removed.
 */
async function everyChange(hubs: HubProc[], token: string, echo: EchoServer) {
  const h = (i: number) => hubs[i % hubs.length]!.url;
  const gw = await api(h(0), token, 'POST', '/v1/gateways', { name: 'audited' });
  expect(gw.status).toBe(201);
  const gatewayId = gw.json.id as string;
  const gateway = { type: 'gateway', id: gatewayId };
  const first = await startAgent([h(0)], gatewayId, gw.json.registrationKey, [`${echo.url}/`]);
  const second = await joinAgent(h(1), token, gatewayId, [`${echo.url}/`]);
  expect((await api(h(1), token, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: 'distribute' })).status).toBe(200);
  const c = await api(h(0), token, 'POST', '/v1/connections', {
    authType: 'BasicGateway',
    baseResourceUrl: echo.url,
    gatewayId,
    username: 'audit-user',
    password: 'audit-password-1',
    displayName: 'before',
  });
  expect(c.status, c.text).toBe(201);
  const connectionId = c.json.id as string;
  const connection = { type: 'connection', id: connectionId };
  expect(
    (await api(h(1), token, 'PATCH', `/v1/connections/${connectionId}`, { displayName: 'after', username: 'audit-user', password: 'audit-password-2' })).status,
  ).toBe(200);
  const member2 = { type: 'member', id: second.memberId };
  expect((await api(h(0), token, 'PATCH', `/v1/gateways/${gatewayId}/members/${second.memberId}`, { enabled: false })).status).toBe(200);
  expect((await api(h(1), token, 'PATCH', `/v1/gateways/${gatewayId}/members/${second.memberId}`, { enabled: true })).status).toBe(200);
  await rotateKey(first.configPath);
  await second.stop();
  expect((await api(h(0), token, 'DELETE', `/v1/gateways/${gatewayId}/members/${second.memberId}`)).status).toBe(204);
  const expected = [
    { action: 'gateway.create', actor: user, target: gateway, details: { name: 'audited' } },
    { action: 'member.register', actor: agentActor(first.memberId), target: { type: 'member', id: first.memberId }, details: { join: false } },
    { action: 'registrationKey.create', actor: user, target: gateway, details: {} },
    { action: 'member.register', actor: agentActor(second.memberId), target: member2, details: { join: true } },
    { action: 'gateway.update', actor: user, target: gateway, details: { changed: ['routing'], routing: 'distribute', previousRouting: 'primary' } },
    { action: 'connection.create', actor: user, target: connection, details: { authType: 'BasicGateway', displayName: 'before' } },
    { action: 'connection.update', actor: user, target: connection, details: { changed: ['displayName', 'username', 'password'] } },
    { action: 'member.disable', actor: user, target: member2, details: { wasEnabled: true } },
    { action: 'member.enable', actor: user, target: member2, details: { wasEnabled: false } },
    { action: 'gateway.keyRotate', actor: agentActor(first.memberId), target: gateway, details: { connections: 1 } },
    { action: 'member.delete', actor: user, target: member2, details: {} },
  ];
  return { gatewayId, connectionId, first, expected };
}

/** The audit list against what was expected (both newest first): actions, actors, targets, details; times descending. */
function expectRecords(got: Entry[], expected: Array<Partial<Entry>>): void {
  expect(got.map((e) => e.action)).toEqual(expected.map((e) => e.action));
  for (const [i, e] of got.entries()) expect(e).toMatchObject(expected[i]!);
  for (let i = 1; i < got.length; i++) expect(got[i - 1]!.time >= got[i]!.time).toBe(true);
}

/** Reads the hubs' logs and every row of the audit table (`rows`, as text: JSON lines) for the secrets. */
function expectNoSecret(secrets: string[], hubs: HubProc[], rows: string): void {
  const table = rows.split('\n').map(deepText).join('\n');
  const logs = hubs.flatMap((h) => h.lines.map(deepText));
  for (const s of secrets) {
    expect(table.includes(s), 'a secret is in the audit table').toBe(false);
    for (const l of logs) expect(l.includes(s), `a secret is in a hub's log: ${l.slice(0, 200)}`).toBe(false);
  }
}

describe('the audit log on one hub (SQLite)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let bob: string;
  const agents: AgentProc[] = [];
  const auditRows = () => {
    const db = new Database(join(hub.dbDir, 'hub.db'), { readonly: true });
    try {
      return db.prepare('SELECT * FROM audit_log ORDER BY id').all() as Array<Record<string, string>>;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    hub = await startHub(entra);
    token = await entra.token();
    bob = await entra.token({ oid: USER_2 });
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it('every change is recorded with its actor, newest first, on the gateway and on the connection', async () => {
    const run = await everyChange([hub], token, echo);
    agents.push(run.first);
    expectRecords(await wholeAudit(hub.url, token, `/v1/gateways/${run.gatewayId}/audit`), [...run.expected].reverse());
    expectRecords(
      await wholeAudit(hub.url, token, `/v1/connections/${run.connectionId}/audit`),
      run.expected.filter((e) => e.target.type === 'connection').reverse(),
    );
    // one `audit` log line per change, naming the same action and actor (the hub's stdout may reach the test after
    // the answer did: wait for the last change's line first)
    const last = run.expected.at(-1)!.action;
    await hub.waitForLine((l) => l.includes('"msg":"audit"') && l.includes(`"action":"${last}"`) && l.includes(run.gatewayId));
    const lines = hub.lines.filter((l) => l.includes('"msg":"audit"') && l.includes(run.gatewayId)).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(run.expected.map((e) => e.action));
    expect(lines[0]).toMatchObject({ actor: user, target: { type: 'gateway', id: run.gatewayId }, gateway: run.gatewayId });
  });

  it('deleting a connection and then its gateway is recorded; their audit lists then answer 404, the records stay until retention', async () => {
    const run = await everyChange([hub], token, echo);
    await run.first.stop();
    expect((await api(hub.url, token, 'DELETE', `/v1/connections/${run.connectionId}`)).status).toBe(204);
    const list = await wholeAudit(hub.url, token, `/v1/gateways/${run.gatewayId}/audit`);
    expect(list[0]).toMatchObject({ action: 'connection.delete', actor: user, target: { type: 'connection', id: run.connectionId } });
    expect((await api(hub.url, token, 'GET', `/v1/connections/${run.connectionId}/audit`)).status).toBe(404);
    expect((await api(hub.url, token, 'DELETE', `/v1/gateways/${run.gatewayId}`)).status).toBe(204);
    const gone = await api(hub.url, token, 'GET', `/v1/gateways/${run.gatewayId}/audit`);
    expect(gone.status).toBe(404);
    expect(gone.json.error.code).toBe('NotFound');
    const rows = auditRows().filter((r) => r.gateway_id === run.gatewayId);
    expect(rows.at(-1)).toMatchObject({ action: 'gateway.delete', actor_type: 'User', actor_oid: USER_1, target_id: run.gatewayId });
    expect(rows).toHaveLength(run.expected.length + 2);
    await hub.waitForLine((l) => l.includes('"msg":"audit"') && l.includes('"action":"gateway.delete"') && l.includes(run.gatewayId));
  });

  it("another user gets 404 for a gateway's and a connection's audit, as for the gateway and the connection", async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'private' });
    const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: 'api://svc', baseResourceUrl: echo.url });
    expect(c.status, c.text).toBe(201);
    for (const path of [`/v1/gateways/${gw.json.id}/audit`, `/v1/connections/${c.json.id}/audit`]) {
      const r = await api(hub.url, bob, 'GET', path);
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('NotFound');
      expect((await api(hub.url, undefined, 'GET', path)).status).toBe(401);
      expect((await api(hub.url, token, 'GET', path)).status).toBe(200);
    }
  });

  it("an app-only caller's changes are recorded with a ServicePrincipal actor", async () => {
    const app = await entra.appToken(APP_1);
    const gw = await api(hub.url, app, 'POST', '/v1/gateways', { name: 'by-an-app' });
    expect(gw.status, gw.text).toBe(201);
    expect((await api(hub.url, app, 'PATCH', `/v1/gateways/${gw.json.id}`, { routing: 'distribute' })).status).toBe(200);
    const list = await wholeAudit(hub.url, app, `/v1/gateways/${gw.json.id}/audit`);
    const sp = { type: 'ServicePrincipal', tid: TENANT_A, oid: APP_1 };
    expectRecords(list, [
      { action: 'gateway.update', actor: sp },
      { action: 'gateway.create', actor: sp },
    ]);
  });

  it("a gateway's audit is for its Admins: a ConnectionCreator gets 403, an Admin the list; role changes are on it", async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'team' });
    const path = `/v1/gateways/${gw.json.id}/audit`;
    const role = (r: string) => api(hub.url, token, 'PUT', `/v1/gateways/${gw.json.id}/roles/${USER_2}`, { principalType: 'User', role: r });
    expect((await role('ConnectionCreator')).status).toBe(200);
    const refused = await api(hub.url, bob, 'GET', path);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('Forbidden');
    expect((await role('Admin')).status).toBe(200);
    const seen = await api(hub.url, bob, 'GET', path);
    expect(seen.status).toBe(200);
    // the role changes are on the record, with who made them, newest first
    expect((await api(hub.url, bob, 'DELETE', `/v1/gateways/${gw.json.id}/roles/${USER_2}`)).status).toBe(204);
    const target = { type: 'role', id: USER_2 };
    expectRecords(await wholeAudit(hub.url, token, path), [
      { action: 'role.delete', actor: { type: 'User', tid: TENANT_A, oid: USER_2 }, target, details: { principalType: 'User', previousRole: 'Admin' } },
      { action: 'role.set', actor: user, target, details: { principalType: 'User', role: 'Admin', previousRole: 'ConnectionCreator' } },
      { action: 'role.set', actor: user, target, details: { principalType: 'User', role: 'ConnectionCreator', previousRole: null } },
      { action: 'gateway.create', actor: user },
    ]);
  });

  it("a connection's audit is its owner's: a principal it is shared with gets 403; sharing and unsharing are on it", async () => {
    const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: 'api://svc', baseResourceUrl: echo.url });
    const path = `/v1/connections/${c.json.id}/audit`;
    expect((await api(hub.url, token, 'PUT', `/v1/connections/${c.json.id}/shares/${USER_2}`, { principalType: 'User' })).status).toBe(200);
    const refused = await api(hub.url, bob, 'GET', path);
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('Forbidden');
    expect((await api(hub.url, token, 'DELETE', `/v1/connections/${c.json.id}/shares/${USER_2}`)).status).toBe(204);
    expect((await api(hub.url, bob, 'GET', path)).status).toBe(404);
    const target = { type: 'share', id: USER_2 };
    expectRecords(await wholeAudit(hub.url, token, path), [
      { action: 'share.delete', actor: user, target },
      { action: 'share.set', actor: user, target, details: { principalType: 'User' } },
      { action: 'connection.create', actor: user },
    ]);
  });

  it('pages: top bounds a page, nextLink carries on to the end with nothing repeated or left out; bad top or skipToken is a coded 400', async () => {
    const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: 'api://svc', baseResourceUrl: echo.url });
    for (let i = 0; i < 6; i++) expect((await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { displayName: `name-${i}` })).status).toBe(200);
    const path = `/v1/connections/${c.json.id}/audit`;
    const all = (await api(hub.url, token, 'GET', path)).json;
    expect(all.nextLink).toBeUndefined();
    expect(all.value.map((e: Entry) => e.action)).toEqual([...Array(6).fill('connection.update'), 'connection.create']);
    for (const top of [1, 2, 3, 7, 200]) {
      const paged = await wholeAudit(hub.url, token, path, top);
      expect(paged).toEqual(all.value);
    }
    const first = await api(hub.url, token, 'GET', `${path}?top=2`);
    expect(first.json.value).toHaveLength(2);
    expect(first.json.nextLink).toMatch(new RegExp(`^${path}\\?top=2&skipToken=[A-Za-z0-9_-]+$`));
    for (const bad of ['top=0', 'top=201', 'top=x', 'top=-1', 'top=2.5', 'skipToken=nope', 'skipToken=', `skipToken=${'A'.repeat(65)}`, 'skipToken=MTIz']) {
      const r = await api(hub.url, token, 'GET', `${path}?${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.json.error.code).toBe('InvalidRequest');
      expect(r.json.error.message).toMatch(/top must be an integer from 1 to 200|skipToken is not one this hub gave/);
    }
    // the nextLink gives the next page
    expect((await api(hub.url, token, 'GET', first.json.nextLink)).json.value).toEqual(all.value.slice(2, 4));
    expect((await api(hub.url, undefined, 'GET', '/healthz')).status).toBe(200);
  });

  it('a secret given to any change route never appears in the audit or the log (fast-check)', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'secrets' });
    const agent = await startAgent([hub.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]);
    agents.push(agent);
    const secrets: string[] = [gw.json.registrationKey, token.split('.')[2]!, bob.split('.')[2]!];
    // Secret-shaped strings: a marker and any printable characters, quotes, backslashes and non-ASCII included.
    const secret = fc.string({ minLength: 8, maxLength: 40, unit: 'grapheme' }).map((s) => `Sx9${s.replace(/:/g, '')}`);
    await fc.assert(
      fc.asyncProperty(secret, secret, async (password, other) => {
        secrets.push(password, other);
        const extra = { token: other, secret: other, credential: other, registrationKey: other, sealedCredentials: other, privateKey: other };
        // On connection routes `sealedCredentials` is the client-sealed form (docs/sealed-credentials.md), not a stray field.
        const { sealedCredentials: _sealed, ...connExtra } = extra;
        const c = await api(hub.url, token, 'POST', '/v1/connections', {
          authType: 'BasicGateway',
          baseResourceUrl: echo.url,
          gatewayId: gw.json.id,
          username: `u${other.replace(/[\\/"[\]:;|=,+*?<>@]/g, '')}`.slice(0, 200),
          password,
          ...connExtra,
        });
        expect(c.status, c.text).toBe(201);
        expect((await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { username: 'u2', password: other, ...connExtra })).status).toBe(200);
        expect((await api(hub.url, token, 'PATCH', `/v1/gateways/${gw.json.id}`, { routing: 'primary', ...extra })).status).toBe(200);
        expect((await api(hub.url, token, 'PATCH', `/v1/gateways/${gw.json.id}/members/${agent.memberId}`, { enabled: true, ...extra })).status).toBe(200);
        const key = await api(hub.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`, extra);
        secrets.push(key.json.registrationKey);
        expect((await api(hub.url, token, 'DELETE', `/v1/connections/${c.json.id}`)).status).toBe(204);
      }),
      { numRuns: 15 },
    );
    // what the hub keeps sealed: the gateway's private key, and connections' credentials
    const db = new Database(join(hub.dbDir, 'hub.db'), { readonly: true });
    secrets.push((db.prepare('SELECT sealed_private_key FROM gateways WHERE id = ?').get(gw.json.id) as { sealed_private_key: string }).sealed_private_key);
    for (const r of db.prepare('SELECT sealed_credentials FROM connections WHERE sealed_credentials IS NOT NULL').all() as Array<{
      sealed_credentials: string;
    }>)
      secrets.push(r.sealed_credentials);
    db.close();
    const rows = auditRows()
      .map((r) => JSON.stringify(r))
      .join('\n');
    expect(rows).toContain('"connection.update"');
    expectNoSecret(
      secrets.filter((s) => s.length >= 8),
      [hub],
      rows,
    );
  });
});

describe('audit retention (GATEHOUSE_AUDIT_DAYS)', () => {
  let entra: FakeEntra;
  let hub: HubProc;
  let token: string;
  beforeAll(async () => {
    entra = await startFakeEntra();
    token = await entra.token();
  });
  afterAll(async () => {
    await hub?.stop();
    await entra?.close();
    cleanupTempDirs();
  });

  it('records older than the retention are deleted periodically; newer ones stay', async () => {
    // 0.0001 days: 8.64 s, swept every second (a tenth of it, at least 1 s)
    hub = await startHub(entra, { GATEHOUSE_AUDIT_DAYS: '0.0001' });
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'short-lived' });
    const audit = async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}/audit`)).json.value.map((e: Entry) => e.action);
    expect(await audit()).toEqual(['gateway.create']);
    await expect.poll(audit, { timeout: 40_000, interval: 500 }).toEqual([]);
    await hub.waitForLine((l) => l.includes('audit records past retention deleted'));
    expect((await api(hub.url, token, 'PATCH', `/v1/gateways/${gw.json.id}`, { routing: 'distribute' })).status).toBe(200);
    expect(await audit()).toEqual(['gateway.update']);
  });

  it('records past the retention are deleted when the hub starts, in batches however many there are', async () => {
    const dbDir = hub.dbDir;
    await hub.stop();
    const db = new Database(join(dbDir, 'hub.db'));
    const insert = db.prepare(
      "INSERT INTO audit_log (id, time, actor_type, actor_tid, actor_oid, action, target_type, target_id, gateway_id, details) VALUES (?, ?, 'User', ?, ?, 'gateway.update', 'gateway', 'g-old', 'g-old', '{}')",
    );
    const old = new Date(Date.now() - 91 * 86_400_000);
    const young = new Date(Date.now() - 89 * 86_400_000);
    // many batches (AUDIT_DELETE_BATCH, 1,000) of old records: all of them go
    db.transaction(() => {
      for (let i = 0; i < 12_001; i++) insert.run(`${String(old.getTime() - i).padStart(15, '0')}00000012345678`, old.toISOString(), TENANT_A, USER_1);
    })();
    insert.run(`${String(young.getTime()).padStart(15, '0')}00000012345678`, young.toISOString(), TENANT_A, USER_1);
    db.close();
    hub = await startHub(entra, {}, { dbDir });
    expect(JSON.parse(await hub.waitForLine((l) => l.includes('audit records past retention deleted')))).toMatchObject({ deleted: 12_001 });
    const check = new Database(join(dbDir, 'hub.db'), { readonly: true });
    const left = check.prepare("SELECT time FROM audit_log WHERE gateway_id = 'g-old'").all() as Array<{ time: string }>;
    check.close();
    expect(left).toEqual([{ time: young.toISOString() }]);
  });

  it('a retention that is not a positive number of days stops the hub with the reason', async () => {
    for (const bad of ['0', 'ninety', '36501']) {
      const p = startProc([HUB_MAIN, 'serve'], { GATEHOUSE_CLIENT_ID: 'x', GATEHOUSE_AUDIT_DAYS: bad });
      expect(await p.exited).toBe(2);
      expect(p.lines.join('\n')).toMatch(/GATEHOUSE_AUDIT_DAYS must be a number of days greater than 0/);
    }
  });
});

describe.skipIf(!postgresAvailable())('the audit log on two hubs sharing PostgreSQL', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let pg: Postgres;
  let redis: Redis;
  const hubs: HubProc[] = [];
  const agents: AgentProc[] = [];
  let token: string;
  const SECRET = 'cluster-secret-for-tests-0123456789abcdef';
  const psql = (sql: string) =>
    execFileSync('psql', ['-h', '127.0.0.1', '-p', String(pg.port), '-U', 'postgres', '-d', 'gatehouse', '-At', '-c', sql], { encoding: 'utf8' });
  const clusterHub = async () => {
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

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    pg = await startPostgres();
    redis = await startRedis();
    hubs.push(...(await Promise.all([clusterHub(), clusterHub()])));
    token = await entra.token();
  }, 180_000);
  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const h of hubs) await h.stop();
    await redis?.stop();
    await pg?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it('changes made through either hub are recorded in order with their actors, and either hub pages through them', async () => {
    const run = await everyChange(hubs, token, echo);
    agents.push(run.first);
    for (const h of hubs) {
      expectRecords(await wholeAudit(h.url, token, `/v1/gateways/${run.gatewayId}/audit`), [...run.expected].reverse());
      expectRecords(
        await wholeAudit(h.url, token, `/v1/connections/${run.connectionId}/audit`, 1),
        run.expected.filter((e) => e.target.type === 'connection').reverse(),
      );
    }
    // each hub logged the changes made through it
    const logged = hubs.flatMap((h) => h.lines.filter((l) => l.includes('"msg":"audit"') && l.includes(run.gatewayId)));
    expect(logged).toHaveLength(run.expected.length);
  });

  it('a secret given to the change routes never appears in the audit table or either log', async () => {
    const gw = await api(hubs[0]!.url, token, 'POST', '/v1/gateways', { name: 'pg-secrets' });
    agents.push(await startAgent([hubs[0]!.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]));
    const secrets = [gw.json.registrationKey as string, token.split('.')[2]!];
    for (const [i, password] of ['pg-password-"quoted"-ü', 'pg-other-password-\\n'].entries()) {
      secrets.push(password);
      const c = await api(hubs[i]!.url, token, 'POST', '/v1/connections', {
        authType: 'BasicGateway',
        baseResourceUrl: echo.url,
        gatewayId: gw.json.id,
        username: 'pg-user',
        password,
        token: password,
      });
      expect(c.status, c.text).toBe(201);
      expect(
        (await api(hubs[1 - i]!.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { username: 'pg-user', password: `${password}-2`, secret: password }))
          .status,
      ).toBe(200);
      secrets.push(`${password}-2`);
      const key = await api(hubs[i]!.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`);
      secrets.push(key.json.registrationKey);
    }
    secrets.push(psql(`SELECT sealed_private_key FROM gateways WHERE id = '${gw.json.id}'`).trim());
    const rows = psql('SELECT row_to_json(a) FROM audit_log a');
    expect(rows).toContain('connection.update');
    expectNoSecret(secrets, hubs, rows);
  });

  it('records past the retention go when a hub starts, in batches however many there are', async () => {
    const old = Date.now() - 100 * 86_400_000;
    psql(
      `INSERT INTO audit_log (id, time, actor_type, actor_tid, actor_oid, action, target_type, target_id, gateway_id, details) SELECT lpad((${old} - g)::text, 15, '0') || '00000012345678', '${new Date(old).toISOString()}', 'User', '${TENANT_A}', '${USER_1}', 'gateway.update', 'gateway', 'g-old', 'g-old', '{}' FROM generate_series(1, 2500) AS g`,
    );
    expect(psql("SELECT count(*) FROM audit_log WHERE gateway_id = 'g-old'").trim()).toBe('2500');
    const third = await clusterHub();
    hubs.push(third);
    expect(JSON.parse(await third.waitForLine((l) => l.includes('audit records past retention deleted')))).toMatchObject({ deleted: 2500 });
    expect(psql("SELECT count(*) FROM audit_log WHERE gateway_id = 'g-old'").trim()).toBe('0');
    expect(Number(psql('SELECT count(*) FROM audit_log').trim())).toBeGreaterThan(10);
  });
});
