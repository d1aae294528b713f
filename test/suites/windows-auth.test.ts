// WindowsGateway against real servers: Samba's NTLM (winbindd + ntlm_auth) and an MIT Kerberos realm with
// Apache mod_auth_gssapi, through the real hub and agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { NTLM_DOMAIN, NTLM_USERS, startNtlmServer, stopWinbind, type NtlmServer } from '../helpers/ntlm-server.js';
import { KRB_USERS, REALM, startKerberosRealm, startNegotiateApache, type KerberosRealm, type NegotiateApache } from '../helpers/kerberos-realm.js';
import { api, b64, startAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

let entra: FakeEntra;
let echo: EchoServer;
let ntlm: NtlmServer;
let realm: KerberosRealm;
let apache: NegotiateApache;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let gatewayId: string;

async function windowsConnection(base: string, username: string, password: string): Promise<string> {
  const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'WindowsGateway', baseResourceUrl: base, gatewayId, username, password });
  expect(c.status, c.text).toBe(201);
  return c.json.id;
}
const invoke = (id: string, body: unknown) => api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, body);
const decoded = (r: { json: { body: string } }) => JSON.parse(Buffer.from(r.json.body, 'base64').toString()) as Record<string, unknown>;

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  ntlm = await startNtlmServer();
  realm = await startKerberosRealm();
  apache = await startNegotiateApache(realm as KerberosRealm & { keytab: string }, echo.url);
  hub = await startHub(entra);
  token = await entra.token();
  const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'windows' });
  gatewayId = gw.json.id;
  agent = await startAgent([hub.url], gatewayId, gw.json.registrationKey, [`${ntlm.url}/`, `${apache.url}/`], { KRB5_CONFIG: realm.krb5Conf, GATEHOUSE_LOG_LEVEL: 'debug' });
}, 180_000);
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  apache?.stop();
  realm?.stop();
  ntlm?.stop();
  stopWinbind();
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('NTLM (Samba)', () => {
  let alice: string;

  it('GET as DOMAIN\\user', async () => {
    alice = await windowsConnection(ntlm.url, `${NTLM_DOMAIN}\\alice`, NTLM_USERS.alice);
    const r = await invoke(alice, { method: 'GET', url: 'hello' });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-remote-user']).toBe(`${NTLM_DOMAIN}\\alice`);
  });

  it('an authenticated answer with a 20 KB head arrives (the NTLM connection took 16 KiB; the limit is 32 KiB)', async () => {
    const r = await invoke(alice, { method: 'GET', url: 'hello?bighead=20000' });
    expect(r.status, r.text).toBe(200);
    expect(r.json.headers['x-big']).toHaveLength(20000);
    const over = await invoke(alice, { method: 'GET', url: 'hello?bighead=40000' });
    expect(over.status).toBe(502);
    expect(over.json.error.message).toMatch(/over the 32 KiB limit for response headers/);
  });

  it('a 1 MiB POST body arrives intact after the handshake', async () => {
    const body = patternBytes(1024 * 1024, 13);
    const r = await invoke(alice, { method: 'POST', url: 'upload', headers: { 'content-type': 'application/octet-stream' }, body: b64(body) });
    expect(r.json.statusCode).toBe(200);
    const seen = decoded(r);
    expect(seen).toMatchObject({ user: `${NTLM_DOMAIN}\\alice`, method: 'POST', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it("the connection's own credentials are used: bare user and user@domain forms", async () => {
    const bob = await windowsConnection(ntlm.url, 'bob', NTLM_USERS.bob);
    const r = await invoke(bob, { method: 'GET', url: 'who' });
    expect(r.json.headers['x-remote-user']).toMatch(/\\bob$/);
    const bobUpn = await windowsConnection(ntlm.url, `bob@${NTLM_DOMAIN}`, NTLM_USERS.bob);
    expect((await invoke(bobUpn, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`${NTLM_DOMAIN}\\bob`);
    expect((await invoke(alice, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`${NTLM_DOMAIN}\\alice`);
  });

  it('a wrong password surfaces as the service\'s 401 with a hint header', async () => {
    const wrong = await windowsConnection(ntlm.url, `${NTLM_DOMAIN}\\alice`, 'not-the-password');
    const r = await invoke(wrong, { method: 'GET', url: 'x' });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(401);
    expect(r.json.headers['x-gatehouse-windows-auth']).toMatch(/^failed \(ntlm/);
    expect(r.text).not.toContain('not-the-password');
  });

  it('20 concurrent requests, each on its own authenticated connection; later calls reuse them', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => invoke(alice, { method: 'POST', url: `c${i}`, body: b64(`body-${i}`) })));
    for (const [i, r] of results.entries()) {
      expect(r.json.statusCode).toBe(200);
      expect(decoded(r)).toMatchObject({ user: `${NTLM_DOMAIN}\\alice`, url: `/c${i}`, bytes: `body-${i}`.length });
    }
    const handshakes = ntlm.handshakes;
    for (let i = 0; i < 5; i++) expect((await invoke(alice, { method: 'GET', url: `again${i}` })).json.statusCode).toBe(200);
    expect(ntlm.handshakes).toBe(handshakes);
  });

  it('a server offering only NTLM gets NTLM (the agent says so in its debug log)', async () => {
    await agent.waitForLine((l) => l.includes('"windows authentication"') && l.includes('"scheme":"ntlm"') && l.includes(`127.0.0.1:${ntlm.port}`));
  });
});

describe('Negotiate/Kerberos (MIT KDC + Apache mod_auth_gssapi)', () => {
  let carol: string;

  it('GET by the service principal host name', async () => {
    carol = await windowsConnection(`${apache.url}/negotiate`, `carol@${REALM}`, KRB_USERS.carol);
    const r = await invoke(carol, { method: 'GET', url: 'hello' });
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-remote-user']).toBe(`carol@${REALM}`);
    expect(echo.received.at(-1)!.headers['x-remote-user']).toBe(`carol@${REALM}`);
    await agent.waitForLine((l) => l.includes('"windows authentication"') && l.includes('"scheme":"kerberos"'));
  });

  it('POST with a body', async () => {
    const body = patternBytes(256 * 1024, 5);
    const r = await invoke(carol, { method: 'POST', url: 'echo', body: b64(body) });
    expect(r.json.statusCode).toBe(200);
    expect(Buffer.from(r.json.body, 'base64').equals(body)).toBe(true);
    expect(echo.received.at(-1)!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('another user of the realm, given as a bare name, is that user', async () => {
    const dave = await windowsConnection(`${apache.url}/negotiate`, 'dave', KRB_USERS.dave);
    expect((await invoke(dave, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`dave@${REALM}`);
  });

  it('a wrong password fails clearly and uses nobody else\'s ticket', async () => {
    const wrong = await windowsConnection(`${apache.url}/negotiate`, `carol@${REALM}`, 'wrong-kerberos-pw');
    const r = await invoke(wrong, { method: 'GET', url: 'x' });
    expect(r.json.statusCode).toBe(401);
    expect(r.json.headers['x-gatehouse-windows-auth']).toMatch(/kerberos: no ticket for the connection's user: wrong password/);
    // carol's valid connection still works
    expect((await invoke(carol, { method: 'GET', url: 'y' })).json.statusCode).toBe(200);
  });

  it('a service that keeps the authentication on the connection serves no other call as that user', async () => {
    // Before: the Kerberos call used the agent's shared connections, and an Anonymous call sent next on the same
    // connection was served as carol (a 200 with her name instead of the service's 401).
    const bound = `${apache.url}/bound`;
    const anonymous = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: bound, gatewayId });
    const carolBound = await windowsConnection(bound, `carol@${REALM}`, KRB_USERS.carol);
    const daveBound = await windowsConnection(bound, 'dave', KRB_USERS.dave);
    const user = async (id: string) => { const r = await invoke(id, { method: 'GET', url: 'who' }); return `${r.json.statusCode} ${r.json.headers['x-remote-user'] ?? ''}`.trim(); };
    expect(await user(anonymous.json.id)).toBe('401');
    for (let i = 0; i < 3; i++) {
      expect(await user(carolBound)).toBe(`200 carol@${REALM}`);
      expect(await user(anonymous.json.id)).toBe('401');
      expect(await user(daveBound)).toBe(`200 dave@${REALM}`);
    }
  });

  it('no password or secret appears in the agent or hub logs', async () => {
    const logs = `${agent.lines.join('\n')}\n${hub.lines.join('\n')}`;
    for (const pw of [...Object.values(NTLM_USERS), ...Object.values(KRB_USERS), 'wrong-kerberos-pw', 'not-the-password']) expect(logs).not.toContain(pw);
  });
});
