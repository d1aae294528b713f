// Credentials sealed by the client (issue 25): GET /v1/gateways/{id}/public-key gives the gateway's current key,
// the web module (@gatehouse/shared/web-seal) seals a username and password to it, and POST/PATCH
// /v1/connections take the sealed form, so the hub never holds the password. Real hub, agent and Apache (Basic).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sealSecret } from '@gatehouse/shared';
import { keyIdOf, sealCredentials, type SealedForm } from '@gatehouse/shared/web-seal';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startApacheBasic, type Apache } from '../helpers/apache.js';
import { AGENT_MAIN, RECOVERY_KEY, api, gatewayWithAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { holdRotationCommit, registerMember } from '../helpers/hostile-agent.js';

const PASSWORD = 'Sealed-In-The-Browser-7q!';
let entra: FakeEntra;
let apache: Apache;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let gatewayId: string;
let otherGateway: { id: string; publicKeyPem: string; keyId: string };

beforeAll(async () => {
  entra = await startFakeEntra();
  apache = await startApacheBasic('alice', PASSWORD);
  hub = await startHub(entra);
  token = await entra.token();
  ({ gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${apache.url}/`]));
  // A second gateway of the same owner, only for its key: its agent registers and is stopped.
  const second = await gatewayWithAgent(hub.url, token, [`${apache.url}/`], 'gw2');
  await second.agent.stop();
  const k = await api(hub.url, token, 'GET', `/v1/gateways/${second.gatewayId}/public-key`);
  otherGateway = { id: second.gatewayId, publicKeyPem: k.json.publicKeyPem, keyId: k.json.keyId };
});
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  apache?.stop();
  await entra?.close();
  cleanupTempDirs();
});

async function publicKey(id = gatewayId) {
  const r = await api(hub.url, token, 'GET', `/v1/gateways/${id}/public-key`);
  expect(r.status, r.text).toBe(200);
  return r.json as { gatewayId: string; keyId: string; publicKeyPem: string; algorithm: string };
}

async function sealed(username: string, password: string, id = gatewayId): Promise<SealedForm> {
  return sealCredentials((await publicKey(id)).publicKeyPem, id, { username, password });
}

async function create(sealedCredentials: unknown, authType = 'BasicGateway', extra: Record<string, unknown> = {}) {
  return api(hub.url, token, 'POST', '/v1/connections', { authType, baseResourceUrl: `${apache.url}/basic`, gatewayId, sealedCredentials, ...extra });
}

const invoke = (id: string) => api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: '/' });

/** Every byte of the hub's SQLite files (the database, its WAL and journal) as latin1 text. */
function databaseBytes(): string {
  return readdirSync(hub.dbDir)
    .filter((f) => f.startsWith('hub.db'))
    .map((f) => readFileSync(join(hub.dbDir, f)).toString('latin1'))
    .join('\n');
}

/** The sealed credentials the hub stored for a connection. */
function storedBlob(id: string): string {
  const db = new Database(join(hub.dbDir, 'hub.db'), { readonly: true });
  try {
    return (db.prepare('SELECT sealed_credentials FROM connections WHERE id = ?').get(id) as { sealed_credentials: string }).sealed_credentials;
  } finally {
    db.close();
  }
}

/** Re-encodes a blob with one change to its bytes. */
function mutate(blob: string, change: (b: Buffer) => Buffer): string {
  return change(Buffer.from(blob, 'base64')).toString('base64');
}

describe('GET /v1/gateways/{id}/public-key', () => {
  it("gives the gateway's current key, its keyId (the web module's) and the algorithm", async () => {
    const k = await publicKey();
    expect(k.gatewayId).toBe(gatewayId);
    expect(k.algorithm).toBe('RSA-OAEP-256+A256GCM');
    expect(k.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(k.keyId).toBe(await keyIdOf(k.publicKeyPem));
    expect(k.keyId).not.toBe(otherGateway.keyId);
  });

  it('answers 404 to a caller who may not create connections on the gateway, as the other gateway routes do', async () => {
    const stranger = await entra.token({ oid: '00000000-0000-0000-0000-0000000000b2' });
    const r = await api(hub.url, stranger, 'GET', `/v1/gateways/${gatewayId}/public-key`);
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('NotFound');
    expect(r.text).not.toContain('BEGIN PUBLIC KEY');
    expect((await api(hub.url, token, 'GET', '/v1/gateways/no-such-gateway/public-key')).status).toBe(404);
  });

  it('a gateway with no agent registered yet has no key: a coded 404 that says so', async () => {
    const g = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'keyless' });
    const r = await api(hub.url, token, 'GET', `/v1/gateways/${g.json.id}/public-key`);
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('NotFound');
    expect(r.json.error.message).toMatch(/no public key yet: register its first agent/);
  });
});

describe('connections created with credentials sealed by the client', () => {
  it('a BasicGateway connection created with the sealed form calls the Basic-protected service, and the hub holds no password', async () => {
    const c = await create(await sealed('alice', PASSWORD));
    expect(c.status, c.text).toBe(201);
    expect(c.json.hasCredentials).toBe(true);
    const r = await invoke(c.json.id);
    expect(r.status, r.text).toBe(200);
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-remote-user']).toBe('alice');
    // Neither the database files nor any hub or agent log line holds the password, in clear or as a Basic header.
    const basic = Buffer.from(`alice:${PASSWORD}`).toString('base64');
    for (const text of [databaseBytes(), hub.lines.join('\n'), agent.lines.join('\n')]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basic);
    }
  });

  it('PATCH with the sealed form replaces the credentials', async () => {
    const c = await create(await sealed('alice', PASSWORD));
    const wrong = await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { sealedCredentials: await sealed('alice', 'not-the-password') });
    expect(wrong.status, wrong.text).toBe(200);
    expect((await invoke(c.json.id)).json.statusCode).toBe(401);
    const right = await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { sealedCredentials: await sealed('alice', PASSWORD) });
    expect(right.status, right.text).toBe(200);
    expect((await invoke(c.json.id)).json.statusCode).toBe(200);
    // a corrupted blob on PATCH is refused like on POST, and the stored credentials stay
    const bad = await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { sealedCredentials: { keyId: (await publicKey()).keyId, sealed: 'AQ==' } });
    expect(bad.status).toBe(400);
    expect((await invoke(c.json.id)).json.statusCode).toBe(200);
  });

  it('both forms at once are refused (400)', async () => {
    const r = await create(await sealed('alice', PASSWORD), 'BasicGateway', { username: 'alice', password: PASSWORD });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.message).toMatch(/either username and password or sealedCredentials, not both/);
    expect(r.text).not.toContain(PASSWORD);
  });

  it("a blob sealed to another gateway's key is refused (400) with the current keyId in the message", async () => {
    const current = (await publicKey()).keyId;
    const r = await create(await sealed('alice', PASSWORD, otherGateway.id));
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.message).toMatch(/keyId is not a key of this gateway/);
    expect(r.json.error.message).toContain(current);
    // Another gateway's key with this gateway's keyId claimed: the wrapped key's length still fits (same size),
    // so the hub cannot tell; the agent cannot open it and the call fails with a coded error, not a crash.
    const forged = await sealCredentials(otherGateway.publicKeyPem, gatewayId, { username: 'alice', password: PASSWORD });
    const accepted = await create({ keyId: current, sealed: forged.sealed });
    expect(accepted.status, accepted.text).toBe(201);
    const call = await invoke(accepted.json.id);
    expect(call.status).toBe(400);
    expect(call.json.error.code).toBe('InvalidRequest');
    expect(call.json.error.message).toMatch(/cannot be opened with this gateway key/);
  });

  it('a corrupted blob is refused (400), each way naming the rule it breaks', async () => {
    const { keyId, sealed: good } = await sealed('alice', PASSWORD);
    const cases: Array<[string, RegExp]> = [
      [mutate(good, (b) => Buffer.concat([Buffer.from([2]), b.subarray(1)])), /has version 2, not 1/],
      [mutate(good, (b) => b.subarray(0, 3 + 384 + 28 + 10)), /too short to hold a username and password/],
      [
        mutate(good, (b) => Buffer.concat([b.subarray(0, 1), Buffer.from([1, 0]), b.subarray(3)])),
        /wraps its key in 256 bytes, but the gateway key's modulus has 384/,
      ],
      [`${good.slice(0, -8)}!!!!!!!!`, /is not base64/],
      ['', /too short/],
      [mutate(good, (b) => Buffer.concat([b, Buffer.alloc(9000)])), /is over \d+ characters/],
      // a 2048-bit key's blob, claimed for this gateway's 3072-bit key
      [sealSecret({ username: 'alice', password: PASSWORD }, rsa2048PublicKey(), gatewayId), /wraps its key in 256 bytes/],
    ];
    for (const [blob, why] of cases) {
      const r = await create({ keyId, sealed: blob });
      expect(r.status, `${why}: ${r.text}`).toBe(400);
      expect(r.json.error.code).toBe('InvalidRequest');
      expect(r.json.error.message).toMatch(why);
    }
    for (const shape of [null, 'text', { keyId }, { sealed: good }, { keyId: 7, sealed: good }]) {
      const r = await create(shape);
      expect(r.status, JSON.stringify(shape)).toBe(400);
      expect(r.json.error.message).toMatch(/sealedCredentials/);
    }
    // a keyId that is not one at all
    const r = await create({ keyId: 'x', sealed: good });
    expect(r.json.error.message).toMatch(/keyId is not a key id/);
  });

  it('a Windows connection with a sealed bad username fails its call with a coded error naming the rule', async () => {
    // The hub refuses this name in the plain form; sealed, it cannot see it, so the agent refuses the call.
    const plain = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'WindowsGateway',
      baseResourceUrl: `${apache.url}/basic`,
      gatewayId,
      username: '-kt',
      password: PASSWORD,
    });
    expect(plain.status).toBe(400);
    const { keyId } = await publicKey();
    const blob = sealSecret({ username: '-kt/etc/keytab', password: PASSWORD }, (await publicKey()).publicKeyPem, gatewayId);
    const c = await create({ keyId, sealed: blob }, 'WindowsGateway');
    expect(c.status, c.text).toBe(201);
    const r = await invoke(c.json.id);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.message).toMatch(/must not start with "-"/);
    expect(r.json.error.message).not.toContain('keytab');
  });

  it('regression: a Basic username with ":" sealed by the client is refused by the agent, not sent as another user', async () => {
    // In Basic, "a:b" + password reads as user "a" with password "b:…": the hub refuses it in the plain form.
    const { keyId, publicKeyPem } = await publicKey();
    const c = await create({ keyId, sealed: sealSecret({ username: 'alice:x', password: PASSWORD }, publicKeyPem, gatewayId) });
    expect(c.status, c.text).toBe(201);
    const r = await invoke(c.json.id);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect(r.json.error.message).toMatch(/username must not contain ":"/);
  });

  it('the plain form still works for scripts', async () => {
    const r = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'BasicGateway',
      baseResourceUrl: `${apache.url}/basic`,
      gatewayId,
      username: 'alice',
      password: PASSWORD,
    });
    expect(r.status, r.text).toBe(201);
    expect((await invoke(r.json.id)).json.statusCode).toBe(200);
  });
});

describe('key rotation and the sealed form', () => {
  it('regression: a stored blob no key opens does not stop the gateway key from rotating; client-sealed ones are re-sealed; the old key is then refused', async () => {
    const old = await publicKey();
    const good = await create(await sealed('alice', PASSWORD));
    expect(good.status).toBe(201);
    // Sealed for another gateway id: well formed, so stored, but no key opens it. It must not block rotation.
    const elsewhere = await sealCredentials(old.publicKeyPem, otherGateway.id, { username: 'alice', password: PASSWORD });
    const unopenable = await create({ keyId: old.keyId, sealed: elsewhere.sealed });
    expect(unopenable.status).toBe(201);
    const sealedForOld = await sealed('alice', PASSWORD);
    const before = { good: storedBlob(good.json.id), unopenable: storedBlob(unopenable.json.id) };

    // Two other gateways of the same tenant are rotating at this moment (each with its commit still arriving), so the
    // hub refuses this one's first step 429 with `Retry-After: 1` (ROTATIONS_AT_ONCE_PER_TENANT): rotate-key waits and
    // asks again rather than failing.
    const busy = await Promise.all([registerMember(hub.url, token, 'busy-1'), registerMember(hub.url, token, 'busy-2')]);
    const held = busy.map((m) => holdRotationCommit(hub.url, m.credential));
    const rot = startProc([AGENT_MAIN, 'rotate-key', '--config', agent.configPath, '--recovery-key', RECOVERY_KEY], {});
    const early = await Promise.race([rot.exited, new Promise((r) => setTimeout(() => r('still waiting'), 5000))]);
    expect(early, rot.lines.join('\n')).toBe('still waiting');
    await Promise.all(held.map((h) => h.release()));
    // On failure, the hub's last lines too: `rotate-key` failed a few times under load with `cannot reach the hub
    // (UND_ERR_SOCKET)`, as cluster.test's rotation did (cause open; the hub closing a kept-alive connection?).
    expect(await rot.exited, `${rot.lines.join('\n')}\nhub:\n${hub.lines.slice(-12).join('\n')}`).toBe(0);
    expect(rot.lines.join('\n')).toMatch(/kept as they were/);
    expect(rot.lines.join('\n')).toContain(unopenable.json.id);

    // The stored blob of the client-sealed connection was re-sealed to the new key; the one no key opens was kept.
    expect(storedBlob(good.json.id)).not.toBe(before.good);
    expect(storedBlob(unopenable.json.id)).toBe(before.unopenable);
    const now = await publicKey();
    expect(now.keyId).not.toBe(old.keyId);
    const r = await create(sealedForOld);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/the gateway's previous key, replaced by a key rotation/);
    expect(r.json.error.message).toContain(now.keyId);

    // the agent takes up the new key; the client-sealed connection, re-sealed by the rotation, still works
    await expect.poll(async () => (await invoke(good.json.id)).json?.statusCode, { timeout: 30_000, interval: 500 }).toBe(200);
    expect((await create(await sealed('alice', PASSWORD))).status).toBe(201);
  });
});

function rsa2048PublicKey(): string {
  // Gateway keys are 3072-bit; a smaller one shows the wrapped-key length check.
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
