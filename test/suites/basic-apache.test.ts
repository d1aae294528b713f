// BasicGateway against a real Apache with an htpasswd file: the sealed credentials reach Apache, a wrong
// password comes back as Apache's own 401, and the hub never holds the password in the clear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startApacheBasic, type Apache } from '../helpers/apache.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

const PASSWORD = 'S3cret-Apache-pw!';
let entra: FakeEntra;
let apache: Apache;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let gatewayId: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  apache = await startApacheBasic('alice', PASSWORD);
  hub = await startHub(entra);
  token = await entra.token();
  ({ gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${apache.url}/`]));
});
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  apache?.stop();
  await entra?.close();
  cleanupTempDirs();
});

async function basicConnection(password: string, legacy = false): Promise<string> {
  const body = legacy
    ? { authenticationType: 'Basic', baseResourceUrl: `${apache.url}/basic`, gatewayId, username: 'alice', password, resourceUri: '' }
    : { authType: 'BasicGateway', baseResourceUrl: `${apache.url}/basic`, gatewayId, username: 'alice', password };
  const c = await api(hub.url, token, 'POST', '/v1/connections', body);
  expect(c.status, c.text).toBe(201);
  expect(c.text).not.toContain(password);
  expect(c.json.authType).toBe('BasicGateway');
  expect(c.json.hasCredentials).toBe(true);
  return c.json.id;
}

describe('BasicGateway through a real Apache', () => {
  it('the right password reaches Apache', async () => {
    const id = await basicConnection(PASSWORD);
    const r = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: '/' });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-remote-user']).toBe('alice');
    expect(Buffer.from(r.json.body, 'base64').toString()).toBe('hello from apache basic\n');
  });

  it("a wrong password surfaces as Apache's own 401 in the envelope", async () => {
    const id = await basicConnection('wrong-password');
    const r = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: '/' });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(401);
    expect(r.json.headers['www-authenticate']).toMatch(/^Basic realm="Basic test"/);
  });

  it("the caller's own Authorization header does not replace the connection's credentials", async () => {
    const id = await basicConnection(PASSWORD);
    const r = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, {
      method: 'GET',
      url: '/',
      headers: { Authorization: `Basic ${Buffer.from('mallory:x').toString('base64')}` },
    });
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-remote-user']).toBe('alice');
  });

  it("the connector's legacy form (authenticationType Basic) maps onto BasicGateway", async () => {
    const id = await basicConnection(PASSWORD, true);
    const r = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: '/' });
    expect(r.json.statusCode).toBe(200);
  });

  it('changing the password with PATCH takes effect', async () => {
    const id = await basicConnection('wrong-password');
    const p = await api(hub.url, token, 'PATCH', `/v1/connections/${id}`, { username: 'alice', password: PASSWORD });
    expect(p.status).toBe(200);
    const r = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: '/' });
    expect(r.json.statusCode).toBe(200);
  });

  it('the hub stores only ciphertext; nothing it logged or stored holds the password', async () => {
    const db = new Database(join(hub.dbDir, 'hub.db'), { readonly: true });
    const rows = db.prepare('SELECT * FROM connections').all();
    db.close();
    const files = ['hub.db', 'hub.db-wal'].map((f) => join(hub.dbDir, f)).filter((f) => existsSync(f));
    const dump = JSON.stringify(rows) + files.map((f) => readFileSync(f).toString('latin1')).join('');
    expect(dump).not.toContain(PASSWORD);
    expect(dump).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    expect(hub.lines.join('\n')).not.toContain(PASSWORD);
    expect(agent.lines.join('\n')).not.toContain(PASSWORD);
    const list = await api(hub.url, token, 'GET', '/v1/connections');
    expect(list.text).not.toContain(PASSWORD);
  });
});
