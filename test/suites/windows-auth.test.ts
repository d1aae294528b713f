// WindowsGateway against real servers: Samba's NTLM (winbindd + ntlm_auth) and an MIT Kerberos realm with
// Apache mod_auth_gssapi, through the real hub and agent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { request } from 'undici';
import { NTLM_DOMAIN, NTLM_USERS, sambaConf, sambaProcesses, startNtlmServer, stopWinbind, type NtlmServer } from '../helpers/ntlm-server.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.js';
import { expectTunnelIntact, tunnelSnapshot, type TunnelSnapshot } from '../helpers/tunnel-watch.js';
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
let hostileNtlm: HostileServer;
let hostileNego: HostileServer;
/** Behind Apache's /sink: reads each upload whole, answers its size and hash, counts every request's body. */
let sink: HostileServer;
let tunnel: TunnelSnapshot;
let sambaConfPath: string | undefined;

async function windowsConnection(base: string, username: string, password: string): Promise<string> {
  const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'WindowsGateway', baseResourceUrl: base, gatewayId, username, password });
  expect(c.status, c.text).toBe(201);
  return c.json.id;
}
const invoke = (id: string, body: unknown) => api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, body);
const decoded = (r: { json: { body: string } }) => JSON.parse(Buffer.from(r.json.body, 'base64').toString()) as Record<string, unknown>;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Streamed, not held: the agent's peak resident memory grows by less than the body would take held once beside
 *  the garbage of streaming it (printed for the record: about 9 MiB for 64 MiB on Node 20; Node 24 collects later,
 *  66 MiB in one run, so the bound is 1.5 times the body). */
function reportGrowth(what: string, peakBefore: number, mib: number): void {
  const grew = agent.peakRss() - peakBefore;
  console.log(`${what}: the agent's peak RSS grew ${(grew / 2 ** 20).toFixed(1)} MiB (from ${(peakBefore / 2 ** 20).toFixed(1)} MiB)`);
  if (mib >= 64) expect(grew).toBeLessThan(1.5 * mib * 2 ** 20);
}

/** A streamed call on the raw route: what came back, hashed (and its text, when short). */
async function raw(
  id: string,
  path: string,
  method: string,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; bytes: number; sha256: string; text: string }> {
  const res = await request(`${hub.url}/v1/connections/${id}/proxy/${path}`, {
    method: method as 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body,
  });
  const hash = createHash('sha256');
  let bytes = 0;
  let text = '';
  for await (const c of res.body as AsyncIterable<Buffer>) {
    hash.update(c);
    bytes += c.length;
    if (text.length < 4096) text += c.toString();
  }
  return { status: res.statusCode, headers: res.headers, bytes, sha256: hash.digest('hex'), text };
}

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  ntlm = await startNtlmServer();
  sambaConfPath = sambaConf();
  realm = await startKerberosRealm();
  sink = await startHostileServer();
  apache = await startNegotiateApache(realm as KerberosRealm & { keytab: string }, echo.url, sink.url);
  hub = await startHub(entra);
  token = await entra.token();
  const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'windows' });
  gatewayId = gw.json.id;
  hostileNtlm = await startHostileServer({ auth: 'ntlm' });
  hostileNego = await startHostileServer({ auth: 'negotiate' });
  agent = await startAgent(
    [hub.url],
    gatewayId,
    gw.json.registrationKey,
    [`${ntlm.url}/`, `${apache.url}/`, `${hostileNtlm.url}/`, `http://localhost:${hostileNego.port}/`],
    { KRB5_CONFIG: realm.krb5Conf, GATEHOUSE_LOG_LEVEL: 'debug' },
  );
  tunnel = await tunnelSnapshot(hub.url, token, gatewayId, agent);
}, 180_000);
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  apache?.stop();
  realm?.stop();
  ntlm?.stop();
  hostileNtlm?.close();
  hostileNego?.close();
  sink?.close();
  await stopWinbind();
  // None of the Samba processes this suite started outlives it (finding 11), whatever the tests did.
  expect(sambaProcesses(sambaConfPath)).toEqual([]);
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

  it.each([
    ['POST', 1],
    ['PUT', 64],
  ])(
    '%s of %i MiB (raw route, streamed) arrives intact and is sent once, on the authenticated leg',
    async (method, mib) => {
      const body = patternBytes(mib * 1024 * 1024, mib);
      const path = `bodies/${method}-${mib}`;
      const peak = agent.peakRss();
      const r = await raw(alice, path, method, body);
      reportGrowth(`NTLM ${method} of ${mib} MiB`, peak, mib);
      expect(r.status, r.text).toBe(200);
      expect(JSON.parse(r.text)).toMatchObject({ user: `${NTLM_DOMAIN}\\alice`, method, bytes: body.length, sha256: sha256(body) });
      // every request of the call counted, the handshake's included: the body once
      expect(ntlm.bodyBytes.get(`/${path}`)).toBe(body.length);
    },
    120_000,
  );

  it("the connection's own credentials are used: bare user and user@domain forms", async () => {
    const bob = await windowsConnection(ntlm.url, 'bob', NTLM_USERS.bob);
    const r = await invoke(bob, { method: 'GET', url: 'who' });
    expect(r.json.headers['x-remote-user']).toMatch(/\\bob$/);
    const bobUpn = await windowsConnection(ntlm.url, `bob@${NTLM_DOMAIN}`, NTLM_USERS.bob);
    expect((await invoke(bobUpn, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`${NTLM_DOMAIN}\\bob`);
    expect((await invoke(alice, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`${NTLM_DOMAIN}\\alice`);
  });

  it("a wrong password surfaces as the service's 401 with a hint header", async () => {
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

  it.each([
    ['POST', 1],
    ['PUT', 64],
  ])(
    '%s of %i MiB (raw route, streamed) arrives intact: a HEAD authenticates first, then the body goes once',
    async (method, mib) => {
      const body = patternBytes(mib * 1024 * 1024, 100 + mib);
      const upload = await windowsConnection(`${apache.url}/sink`, `carol@${REALM}`, KRB_USERS.carol);
      const path = `${method}-${mib}`;
      const peak = agent.peakRss();
      const r = await raw(upload, path, method, body);
      reportGrowth(`Kerberos ${method} of ${mib} MiB`, peak, mib);
      expect(r.status, r.text.slice(0, 200)).toBe(200);
      expect(JSON.parse(r.text)).toEqual({ bytes: body.length, sha256: sha256(body) });
      // Two requests reached the service: the HEAD that authenticated, and the one with the body; the body once.
      expect(sink.requests.get(`/sink/${path}`)).toBe(2);
      expect(sink.bodyBytes.get(`/sink/${path}`)).toBe(body.length);
    },
    120_000,
  );

  it('another user of the realm, given as a bare name, is that user', async () => {
    const dave = await windowsConnection(`${apache.url}/negotiate`, 'dave', KRB_USERS.dave);
    expect((await invoke(dave, { method: 'GET', url: 'who' })).json.headers['x-remote-user']).toBe(`dave@${REALM}`);
  });

  it("a wrong password fails clearly and uses nobody else's ticket", async () => {
    const wrong = await windowsConnection(`${apache.url}/negotiate`, `carol@${REALM}`, 'wrong-kerberos-pw');
    const r = await invoke(wrong, { method: 'GET', url: 'x' });
    expect(r.json.statusCode, r.text).toBe(401);
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
    const user = async (id: string) => {
      const r = await invoke(id, { method: 'GET', url: 'who' });
      return `${r.json.statusCode} ${r.json.headers['x-remote-user'] ?? ''}`.trim();
    };
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

describe('a faulty Windows service costs only its own call (issue 21)', () => {
  const BODY = patternBytes(1024 * 1024, 44);
  let ntlmBad: string;
  let negoBad: string;
  let samba: string;

  /** What must still work after each fault, on the same tunnel: a 1 MiB NTLM POST to Samba, arriving intact. */
  async function nextCallServed(): Promise<void> {
    const r = await invoke(samba, { method: 'POST', url: 'after-fault', body: b64(BODY) });
    expect(r.status, r.text).toBe(200);
    expect(decoded(r)).toMatchObject({ user: `${NTLM_DOMAIN}\\alice`, bytes: BODY.length, sha256: sha256(BODY) });
    await expectTunnelIntact(tunnel, hub.url, token, gatewayId, agent);
  }

  beforeAll(async () => {
    samba = await windowsConnection(ntlm.url, `${NTLM_DOMAIN}\\alice`, NTLM_USERS.alice);
    ntlmBad = await windowsConnection(hostileNtlm.url, `${NTLM_DOMAIN}\\alice`, NTLM_USERS.alice);
    negoBad = await windowsConnection(`http://localhost:${hostileNego.port}`, `carol@${REALM}`, KRB_USERS.carol);
  });

  it('finding 4: an NTLM POST of 1 MiB whose handshake the service breaks off is a coded 502, and the agent process and its tunnel stay up', async () => {
    // Before: the failed handshake aborted the request body's pipe, whose 'error' nobody heard (undici had not
    // taken it yet): the agent exited with "Unhandled 'error' event", and the gateway was offline until restarted.
    const r = await invoke(ntlmBad, { method: 'POST', url: 'nego-reset', body: b64(BODY) });
    expect(r.status, r.text).toBe(502);
    expect(['BackendUnreachable', 'BadGateway']).toContain(r.json.error.code);
    expect(r.json.error.message).toMatch(/^agent -> service: /);
    expect(hostileNtlm.bodyBytes.get('/nego-reset') ?? 0).toBe(0);
    await nextCallServed();
  });

  it('the hostile NTLM service serves a good call (so the faults below are its only difference)', async () => {
    const r = await invoke(ntlmBad, { method: 'POST', url: 'ok', body: b64(BODY) });
    expect(r.status, r.text).toBe(200);
    expect(decoded(r)).toEqual({ bytes: BODY.length, sha256: sha256(BODY) });
    expect(hostileNtlm.bodyBytes.get('/ok')).toBe(BODY.length);
  });

  const RESET = ['BackendUnreachable', 'BadGateway'];
  it.each([
    ['nego-bad', ['BadGateway'], /Windows authentication failed: the NTLM challenge does not parse/],
    ['nego-500', ['BadGateway'], /answered the NTLM negotiation with 500/],
    ['reset-mid-body', RESET, /^agent -> service: /],
    ['close-early', RESET, /^agent -> service: /],
    ['bad-header', ['BadGateway'], /did not answer with HTTP\/1.1/],
    ['garbage', ['BadGateway'], /did not answer with HTTP\/1.1/],
    ['reset-mid-answer', ['BadGateway'], /broke off its answer/],
  ])('NTLM, %s: a coded 502, and the next call on the same tunnel is served', async (fault, codes, message) => {
    const r = await invoke(ntlmBad, { method: 'POST', url: fault, body: b64(BODY) });
    expect(r.status, r.text).toBe(502);
    expect(codes).toContain(r.json.error.code);
    expect(r.json.error.message).toMatch(message);
    expect(hostileNtlm.bodyBytes.get(`/${fault}`) ?? 0).toBeLessThanOrEqual(BODY.length);
    await nextCallServed();
  });

  it.each([
    ['nego-reset', RESET, /^agent -> service: /],
    ['reset-mid-body', RESET, /^agent -> service: /],
    ['close-early', RESET, /^agent -> service: /],
    ['bad-header', ['BadGateway'], /did not answer with HTTP\/1.1/],
    ['garbage', ['BadGateway'], /did not answer with HTTP\/1.1/],
    ['reset-mid-answer', ['BadGateway'], /broke off its answer/],
  ])('Kerberos, %s: a coded 502, and the next call on the same tunnel is served', async (fault, codes, message) => {
    const r = await invoke(negoBad, { method: 'POST', url: fault, body: b64(BODY) });
    expect(r.status, r.text).toBe(502);
    expect(codes).toContain(r.json.error.code);
    expect(r.json.error.message).toMatch(message);
    expect(hostileNego.bodyBytes.get(`/${fault}`) ?? 0).toBeLessThanOrEqual(BODY.length);
    await nextCallServed();
  });

  it('the service answering before the body is sent: its answer or a coded 502, never more (NTLM and Kerberos)', async () => {
    for (const id of [ntlmBad, negoBad]) {
      const r = await invoke(id, { method: 'POST', url: 'answer-early', body: b64(BODY) });
      if (r.status === 200) expect(r.json.statusCode).toBe(200);
      else expect([r.status, r.json.error.code]).toEqual([502, 'BadGateway']);
    }
    await nextCallServed();
  });

  it("NTLM: a 401 after the handshake is the service's 401 with the hint header, and the body went once", async () => {
    const r = await invoke(ntlmBad, { method: 'POST', url: 'again-401', body: b64(BODY) });
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(401);
    expect(r.json.headers['x-gatehouse-windows-auth']).toBe('failed (ntlm: the service refused the credentials)');
    expect(hostileNtlm.bodyBytes.get('/again-401')).toBe(BODY.length);
    await nextCallServed();
  });

  it('Kerberos: a ticket the service refuses at the handshake costs no body (401 with the hint header)', async () => {
    const r = await invoke(negoBad, { method: 'POST', url: 'again-401', body: b64(BODY) });
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(401);
    expect(r.json.headers['x-gatehouse-windows-auth']).toBe('failed (kerberos: the service refused the ticket)');
    expect(hostileNego.bodyBytes.get('/again-401') ?? 0).toBe(0);
    await nextCallServed();
  });
});

describe('red team follow-up (issues 21/22)', () => {
  it('finding 1: a WindowsGateway user name that kinit would read as an option is refused at creation and PATCH (400, the rule named, not the value)', async () => {
    for (const username of ['-kt/etc/krb5.keytab', '-V', `${NTLM_DOMAIN}\\-c/tmp/x`, 'alice -V', 'alice\tx', 'al\u0000ice']) {
      const c = await api(hub.url, token, 'POST', '/v1/connections', {
        authType: 'WindowsGateway',
        baseResourceUrl: ntlm.url,
        gatewayId,
        username,
        password: 'x',
      });
      expect(c.status, c.text).toBe(400);
      expect(c.json.error.code).toBe('InvalidRequest');
      expect(c.json.error.message).toMatch(/user name of a WindowsGateway connection must not/);
      expect(c.text).not.toContain('krb5.keytab');
      expect(c.text).not.toContain('/tmp/x');
    }
    const id = await windowsConnection(ntlm.url, `${NTLM_DOMAIN}\\alice`, NTLM_USERS.alice);
    const p = await api(hub.url, token, 'PATCH', `/v1/connections/${id}`, { username: '-kt/etc/krb5.keytab', password: 'x' });
    expect([p.status, p.json.error.code]).toEqual([400, 'InvalidRequest']);
    expect(p.text).not.toContain('krb5.keytab');
    // a Basic connection's user name is not handed to kinit: its rules are unchanged
    const basic = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'BasicGateway',
      baseResourceUrl: echo.url,
      gatewayId,
      username: '-dash',
      password: 'x',
    });
    expect(basic.status, basic.text).toBe(201);
  });

  it('finding 2: a path that offers only Negotiate, called by one connection, does not decide how another authenticates', async () => {
    const attacker = await windowsConnection(hostileNtlm.url, `${NTLM_DOMAIN}\\mallory`, 'mallory-pw');
    const victim = await windowsConnection(hostileNtlm.url, `${NTLM_DOMAIN}\\victor`, 'victor-pw');
    const poison = await invoke(attacker, { method: 'GET', url: 'negonly' });
    expect(poison.status, poison.text).toBe(200);
    expect(poison.json.statusCode).toBe(401);
    // Before: the origin's offer (Negotiate only) was the victim's too, for 10 minutes: 401, NTLM never tried.
    const r = await invoke(victim, { method: 'GET', url: 'svc' });
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(200);
  });

  it('finding 2: a learned offer that does not fit the call (Negotiate only learned, the path offers NTLM) is learned again once, for that call', async () => {
    const id = await windowsConnection(hostileNtlm.url, `${NTLM_DOMAIN}\\trudy`, 'trudy-pw');
    expect((await invoke(id, { method: 'GET', url: 'negonly' })).json.statusCode).toBe(401);
    const r = await invoke(id, { method: 'GET', url: 'svc' });
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(200);
  });
});

describe('finding 11: the suite leaves no Samba process behind', () => {
  it('stopping Samba stops winbindd and what it started (samba-dcerpcd, rpcd_*), and only those', async () => {
    const conf = sambaConf()!;
    // samba-dcerpcd and its rpcd_* workers are started on demand by winbindd; the NTLM calls above started them.
    const started = sambaProcesses(conf);
    const names = started.map((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    });
    // (winbindd starts them on demand, unless it finds them running already; they were left behind before)
    expect(names).toContain('winbindd');
    ntlm.stop();
    await stopWinbind();
    // Before: winbindd alone was killed, and samba-dcerpcd and rpcd_lsad outlived the suite.
    expect(sambaProcesses(conf)).toEqual([]);
  });
});
