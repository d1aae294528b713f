// Caller authentication (SPEC section 2) against the fake Entra ID: every bad token is a 401 with
// WWW-Authenticate, and connections are private to their creator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url } from 'jose';
import { connect, createServer } from 'node:net';
import { CLIENT_ID, TENANT_A, TENANT_B, USER_2, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { api, startHub, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

let entra: FakeEntra;
let hub: HubProc;
let restricted: HubProc;

beforeAll(async () => {
  entra = await startFakeEntra();
  hub = await startHub(entra);
  restricted = await startHub(entra, { GATEHOUSE_ALLOWED_TENANTS: TENANT_A });
});
afterAll(async () => {
  await hub?.stop();
  await restricted?.stop();
  await entra?.close();
  cleanupTempDirs();
});

async function expect401(token: string | undefined, h = hub) {
  const r = await api(h.url, token, 'GET', '/v1/connections');
  expect(r.status).toBe(401);
  expect(r.json.error.code).toBe('Unauthorized');
  expect(String(r.headers['www-authenticate'])).toMatch(/^Bearer/);
  return r;
}

describe('caller tokens', () => {
  it('a valid token is accepted, with either audience form', async () => {
    expect((await api(hub.url, await entra.token(), 'GET', '/v1/connections')).status).toBe(200);
    expect((await api(hub.url, await entra.token({ aud: CLIENT_ID }), 'GET', '/v1/connections')).status).toBe(200);
  });

  it('missing token', async () => {
    const r = await expect401(undefined);
    expect(r.headers['www-authenticate']).toBe('Bearer');
  });

  it('expired beyond the 5-minute skew', async () => {
    const r = await expect401(await entra.token({ iat: Math.floor(Date.now() / 1000) - 7200 }, { expSec: -400 }));
    expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  });

  it('expired within the skew is still accepted', async () => {
    expect((await api(hub.url, await entra.token({}, { expSec: -60 }), 'GET', '/v1/connections')).status).toBe(200);
  });

  it('wrong audience', async () => {
    await expect401(await entra.token({ aud: 'api://someone-else' }));
  });
  it('wrong issuer', async () => {
    await expect401(await entra.token({ iss: 'https://evil.example/x/v2.0' }));
  });
  it('issuer of another tenant than tid', async () => {
    await expect401(await entra.token({ iss: entra.issuer(TENANT_B) }));
  });
  it('bad signature', async () => {
    await expect401(await entra.token({}, { key: 'rogue' }));
  });
  it('missing scope', async () => {
    await expect401(await entra.token({ scp: 'other.scope' }));
  });

  it('alg none', async () => {
    const good = await entra.token();
    const [, payload] = good.split('.');
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    await expect401(`${header}.${payload}.`);
  });

  it('HS256 signed with the public modulus is refused (alg allow-list)', async () => {
    const t = await new SignJWT(JSON.parse(Buffer.from((await entra.token()).split('.')[1]!, 'base64url').toString()))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('a-shared-secret-of-enough-length-000'));
    await expect401(t);
  });

  it('garbage', async () => {
    await expect401('not-a-jwt');
  });

  it("another user's claims under a verified token's signature are refused (the token cache matches the whole header)", async () => {
    const good = await entra.token();
    expect((await api(hub.url, good, 'GET', '/v1/connections')).status).toBe(200); // now cached
    const [header, payload, signature] = good.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...claims, oid: USER_2 }))}.${signature}`;
    expect(forged.slice(-64)).toBe(good.slice(-64));
    await expect401(forged);
    expect((await api(hub.url, good, 'GET', '/v1/connections')).status).toBe(200);
  });

  it('another tenant when tenants are restricted', async () => {
    expect((await api(restricted.url, await entra.token(), 'GET', '/v1/connections')).status).toBe(200);
    await expect401(await entra.token({ tid: TENANT_B }), restricted);
    // the unrestricted hub takes any tenant
    expect((await api(hub.url, await entra.token({ tid: TENANT_B }), 'GET', '/v1/connections')).status).toBe(200);
  });

  it('the reason is logged, not echoed', async () => {
    const r = await expect401(await entra.token({ aud: 'api://someone-else' }));
    expect(r.text).not.toMatch(/aud/);
    await hub.waitForLine((l) => l.includes('caller refused') && l.includes('aud'));
  });
});

describe('ownership', () => {
  it("another user's connection and gateway answer 404", async () => {
    const owner = await entra.token();
    const other = await entra.token({ oid: USER_2 });
    const gw = await api(hub.url, owner, 'POST', '/v1/gateways', { name: 'mine' });
    const c = await api(hub.url, owner, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      baseResourceUrl: 'http://127.0.0.1:9/',
      gatewayId: gw.json.id,
    });
    expect(c.status).toBe(201);
    for (const [method, path] of [
      ['GET', `/v1/connections/${c.json.id}`],
      ['DELETE', `/v1/connections/${c.json.id}`],
      ['GET', `/v1/gateways/${gw.json.id}`],
    ] as const) {
      const r = await api(hub.url, other, method, path);
      expect(r.status).toBe(404);
      expect(r.json.error.code).toBe('NotFound');
    }
    const inv = await api(hub.url, other, 'POST', `/v1/connections/${c.json.id}/invoke`, { method: 'GET', url: 'x' });
    expect(inv.status).toBe(404);
    expect((await api(hub.url, other, 'GET', '/v1/connections')).json.value).toEqual([]);
    // the other user cannot use the gateway either
    const steal = await api(hub.url, other, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      baseResourceUrl: 'http://127.0.0.1:9/',
      gatewayId: gw.json.id,
    });
    expect(steal.status).toBe(400);
    expect((await api(hub.url, owner, 'GET', `/v1/connections/${c.json.id}`)).status).toBe(200);
  });

  it('the same object id in another tenant is another user', async () => {
    const a = await entra.token();
    const b = await entra.token({ tid: TENANT_B });
    const gw = await api(hub.url, a, 'POST', '/v1/gateways', { name: 'tenant-a' });
    expect((await api(hub.url, b, 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
    expect(TENANT_A).not.toBe(TENANT_B);
  });
});

describe('a flood of bad tokens costs the log a bounded number of short lines (red team, session 17, F1)', () => {
  it('200 unsigned tokens whose alg is 22,000 characters, and 200 requests the HTTP parser refuses: each answered, at most 100 lines of each kind per 10 s, each short, then one line saying how many were left out', async () => {
    const flood = await startHub(entra);
    try {
      const alg = 'A'.repeat(22_000);
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = `${enc({ alg, kid: 'k', typ: 'JWT' })}.${enc({ tid: TENANT_A, aud: CLIENT_ID })}.`;
      const from = flood.lines.length;
      for (let i = 0; i < 200; i++) expect((await api(flood.url, token, 'GET', '/v1/connections')).status).toBe(401);
      for (let i = 0; i < 200; i++) {
        const answer = await rawRequest(flood.port, 'GET /v1/connections HTTP/1.1\r\nHost: hub\r\nBad Header: x\r\n\r\n');
        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      }
      const refused = () => flood.lines.slice(from).filter((l) => l.includes('"caller refused"'));
      const parser = () => flood.lines.slice(from).filter((l) => l.includes('"request refused by the HTTP parser"'));
      expect(refused()).toHaveLength(100);
      expect(parser()).toHaveLength(100);
      for (const l of [...refused(), ...parser()]) expect(l.length).toBeLessThan(1000);
      expect(JSON.parse(refused()[0]!).why).toMatch(/^alg "A{32}" is not allowed$/);
      // At the interval's end: one line per kind with the count left out.
      const left = JSON.parse(await flood.waitForLine((l) => l.includes('caller refused: more lines than the log budget'), 15_000));
      expect(left).toMatchObject({ skipped: 100, limit: 100, intervalMs: 10_000, level: 40 });
      const parserLeft = JSON.parse(await flood.waitForLine((l) => l.includes('request refused by the HTTP parser: more lines than the log budget'), 15_000));
      expect(parserLeft.skipped).toBe(100);
      // The hub serves on.
      expect((await api(flood.url, await entra.token(), 'GET', '/v1/connections')).status).toBe(200);
    } finally {
      await flood.stop();
    }
  }, 60_000);
});

/** Writes `text` on a new connection and gives what comes back until the hub closes it. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let data = '';
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    s.on('close', () => resolve(data));
    s.on('error', reject);
    s.setTimeout(10_000, () => s.destroy(new Error('no answer in 10 s')));
  });
}

describe('while the signing keys cannot be had (red team, session 17)', () => {
  it('150 tokens while Entra ID is unreachable: each a coded 503, one key fetch per 5 s at most (not one per token), and at most 100 lines of each kind', async () => {
    // The "sign-in host": a TCP listener that counts connections (each fetch of the metadata is one) and drops them.
    let fetches = 0;
    const down = createServer((s) => {
      fetches++;
      s.destroy();
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    const port = (down.address() as { port: number }).port;
    const dark = await startHub(entra, { GATEHOUSE_AUTHORITY_HOST: `https://127.0.0.1:${port}` });
    try {
      const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const token = `${enc({ alg: 'RS256', kid: 'any', typ: 'JWT' })}.${enc({ tid: TENANT_A, aud: CLIENT_ID, ver: '2.0' })}.${enc({ sig: 1 })}`;
      const from = dark.lines.length;
      const started = Date.now();
      for (let i = 0; i < 150; i++) {
        const r = await api(dark.url, token, 'GET', '/v1/connections');
        expect([r.status, r.json.error.code]).toEqual([503, 'ServiceUnavailable']);
      }
      const seconds = (Date.now() - started) / 1000;
      expect(fetches).toBeGreaterThan(0);
      expect(fetches).toBeLessThanOrEqual(1 + Math.ceil(seconds / 5));
      const lines = dark.lines.slice(from);
      expect(lines.filter((l) => l.includes('"cannot validate tokens: signing keys unavailable"')).length).toBeLessThanOrEqual(100);
      expect(lines.filter((l) => l.includes('"call failed"')).length).toBeLessThanOrEqual(100);
    } finally {
      await dark.stop();
      down.close();
    }
  }, 60_000);
});
