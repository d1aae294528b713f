// Gateway clusters with real agent processes: join with the recovery key, primary failover and return,
// distribute, disabled members, and the rule that a call moves to another member only when the service
// provably never saw it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import Database from 'better-sqlite3';
import {
  AGENT_MAIN,
  RECOVERY_KEY,
  api,
  b64,
  joinAgent,
  runAgent,
  served,
  startAgent,
  startHub,
  startProc,
  type AgentProc,
  type HubProc,
} from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

let entra: FakeEntra;
let echo: EchoServer;
let hub: HubProc;
let token: string;
let gatewayId: string;
let conn: string;
const agents: AgentProc[] = [];
const DEBUG = { GATEHOUSE_LOG_LEVEL: 'debug' };

const invoke = (body: unknown = { method: 'GET', url: 'x' }) => api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, body);
const status = async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json;

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  hub = await startHub(entra, { GATEHOUSE_THROTTLE: '10000/60s' });
  token = await entra.token();
  const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'cluster' });
  gatewayId = gw.json.id;
  agents.push(await startAgent([hub.url], gatewayId, gw.json.registrationKey, [`${echo.url}/`], DEBUG));
  agents.push(await joinAgent(hub.url, token, gatewayId, [`${echo.url}/`], DEBUG));
  agents.push(await joinAgent(hub.url, token, gatewayId, [`${echo.url}/`], DEBUG));
  conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
}, 120_000);
afterAll(async () => {
  for (const a of agents) await a.stop();
  await hub?.stop();
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('membership', () => {
  it('three members, all online, each with its version', async () => {
    const s = await status();
    expect(s.members).toHaveLength(3);
    expect(s.members.every((m: { status: string; version: string }) => m.status === 'online' && m.version === '0.1.0')).toBe(true);
  });

  it('join with a wrong recovery key is refused before anything is registered; the right one from GATEHOUSE_RECOVERY_KEY joins', async () => {
    const k = await api(hub.url, token, 'POST', `/v1/gateways/${gatewayId}/registration-keys`);
    const p = startProc(
      [
        AGENT_MAIN,
        'join',
        '--hub',
        hub.url,
        '--gateway',
        gatewayId,
        '--key',
        k.json.registrationKey,
        '--allow',
        `${echo.url}/`,
        '--config',
        join(tempDir(), 'a.json'),
        '--recovery-key',
        'definitely-the-wrong-recovery-key',
      ],
      {},
    );
    expect(await p.exited).toBe(2);
    expect(p.lines.join('\n')).toMatch(/recovery key does not open this gateway's key: nothing was registered/);
    expect((await status()).members).toHaveLength(3);
    // the registration key was not used up
    const again = startProc(
      [
        AGENT_MAIN,
        'join',
        '--hub',
        hub.url,
        '--gateway',
        gatewayId,
        '--key',
        k.json.registrationKey,
        '--allow',
        `${echo.url}/`,
        '--config',
        join(tempDir(), 'b.json'),
      ],
      // The right key from the variable: kept out of the process list (ps shows every flag).
      { GATEHOUSE_RECOVERY_KEY: 'test-recovery-key-0123456789' },
    );
    expect(await again.exited).toBe(0);
    const members = (await status()).members as Array<{ id: string }>;
    expect(members).toHaveLength(4);
    // tidy up: remove that fourth (never running) member
    const known = new Set(agents.map((a) => a.memberId));
    const extra = members.find((m) => !known.has(m.id))!;
    expect((await api(hub.url, token, 'DELETE', `/v1/gateways/${gatewayId}/members/${extra.id}`)).status).toBe(204);
    expect((await status()).members).toHaveLength(3);
  });
});

describe('routing', () => {
  it('primary: every call goes to the first member; it fails over when killed and takes over again when back', async () => {
    const before = agents.map(served);
    for (let i = 0; i < 10; i++) expect((await invoke()).json.statusCode).toBe(200);
    await expect.poll(() => served(agents[0]!) - before[0]!).toBe(10);
    expect(served(agents[1]!) - before[1]!).toBe(0);

    const first = agents[0]!;
    first.child.kill('SIGKILL');
    await first.exited;
    await expect.poll(async () => (await status()).members.filter((m: { status: string }) => m.status === 'online').length, { timeout: 10_000 }).toBe(2);
    const mid = agents.map(served);
    for (let i = 0; i < 10; i++) expect((await invoke()).json.statusCode).toBe(200);
    await expect.poll(() => served(agents[1]!) - mid[1]!).toBe(10);

    agents[0] = await runAgent(first.configPath, DEBUG);
    const back = agents.map(served);
    for (let i = 0; i < 5; i++) expect((await invoke()).json.statusCode).toBe(200);
    await expect.poll(() => served(agents[0]!) - back[0]!).toBe(5);
    expect(served(agents[1]!) - back[1]!).toBe(0);
  });

  it('distribute: each of 3 members gets at least 20% of 150 calls', async () => {
    expect((await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: 'distribute' })).json.routing).toBe('distribute');
    const before = agents.map(served);
    for (let i = 0; i < 150; i++) expect((await invoke()).json.statusCode).toBe(200);
    await expect.poll(() => agents.reduce((n, a, i) => n + served(a) - before[i]!, 0)).toBe(150);
    for (const [i, a] of agents.entries()) expect(served(a) - before[i]!).toBeGreaterThanOrEqual(30);
  });

  it('a disabled member gets no calls until it is enabled again', async () => {
    const target = agents[2]!;
    const r = await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${target.memberId}`, { enabled: false });
    expect(r.json.members.find((m: { id: string }) => m.id === target.memberId).enabled).toBe(false);
    const before = served(target);
    for (let i = 0; i < 30; i++) expect((await invoke()).json.statusCode).toBe(200);
    expect(served(target)).toBe(before);
    await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${target.memberId}`, { enabled: true });
    for (let i = 0; i < 30; i++) await invoke();
    await expect.poll(() => served(target)).toBeGreaterThan(before);
  });
});

describe('key rotation', () => {
  it('rotating the gateway key keeps every connection working on every member, without re-entering passwords', async () => {
    await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: 'primary' });
    const basic = (
      await api(hub.url, token, 'POST', '/v1/connections', {
        authType: 'BasicGateway',
        baseResourceUrl: echo.url,
        gatewayId,
        username: 'svc',
        password: 'rot-pw-1',
      })
    ).json.id;
    const expected = `Basic ${Buffer.from('svc:rot-pw-1').toString('base64')}`;
    const callBasic = async () => {
      const r = await api(hub.url, token, 'POST', `/v1/connections/${basic}/invoke`, { method: 'GET', url: 'rot' });
      expect(r.json.statusCode).toBe(200);
      return echo.received.at(-1)!.headers.authorization;
    };
    expect(await callBasic()).toBe(expected);
    const db = () => new Database(join(hub.dbDir, 'hub.db'), { readonly: true });
    const sealedBefore = (db().prepare('SELECT sealed_credentials FROM connections WHERE id = ?').get(basic) as { sealed_credentials: string })
      .sealed_credentials;

    // rotate from the second member, with the recovery key
    const wrong = startProc([AGENT_MAIN, 'rotate-key', '--config', agents[1]!.configPath, '--recovery-key', 'not-the-recovery-key'], {});
    expect(await wrong.exited).toBe(2);
    expect(wrong.lines.join('\n')).toMatch(/recovery key does not open the current gateway key: nothing was changed/);
    const rot = startProc([AGENT_MAIN, 'rotate-key', '--config', agents[1]!.configPath, '--recovery-key', RECOVERY_KEY], {});
    expect(await rot.exited, rot.lines.join('\n')).toBe(0);
    expect(rot.lines.join('\n')).toMatch(/re-sealed/);
    const sealedAfter = (db().prepare('SELECT sealed_credentials FROM connections WHERE id = ?').get(basic) as { sealed_credentials: string })
      .sealed_credentials;
    expect(sealedAfter).not.toBe(sealedBefore);

    // every member reconnects, takes up the new key, and serves the connection
    await expect.poll(async () => (await status()).members.filter((m: { status: string }) => m.status === 'online').length, { timeout: 15_000 }).toBe(3);
    for (const a of agents) {
      for (const other of agents) await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${other.memberId}`, { enabled: other === a });
      const before = served(a);
      expect(await callBasic()).toBe(expected);
      await expect.poll(() => served(a)).toBe(before + 1);
    }
    for (const a of agents) await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${a.memberId}`, { enabled: true });
    // a member joining after the rotation gets the new key through the recovery key
    const late = await joinAgent(hub.url, token, gatewayId, [`${echo.url}/`], DEBUG);
    try {
      for (const a of agents) await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${a.memberId}`, { enabled: false });
      expect(await callBasic()).toBe(expected);
    } finally {
      for (const a of agents) await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}/members/${a.memberId}`, { enabled: true });
      await api(hub.url, token, 'DELETE', `/v1/gateways/${gatewayId}/members/${late.memberId}`);
      await late.stop();
    }
  });
});

describe('never twice', () => {
  it('a POST whose member dies after sending it to the service is not replayed; the caller gets a coded error at once', async () => {
    await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: 'primary' });
    const count = () => echo.received.filter((r) => r.url.startsWith('/slow?ms=3000')).length;
    const started = Date.now();
    const call = invoke({ method: 'POST', url: 'slow?ms=3000', body: b64('once') });
    await expect.poll(count).toBe(1);
    const primary = agents[0]!;
    primary.child.kill('SIGKILL');
    const r = await call;
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('BadGateway');
    expect(Date.now() - started).toBeLessThan(3000);
    await new Promise((res) => setTimeout(res, 3500));
    expect(count()).toBe(1);
    agents[0] = await runAgent(primary.configPath, DEBUG);
  });

  it('a call a member refused before sending moves to the next member', async () => {
    // a member whose --allow does not cover the service: it refuses without calling, the next member serves
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'mixed' });
    const narrow = await startAgent([hub.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/elsewhere`], DEBUG);
    const wide = await joinAgent(hub.url, token, gw.json.id, [`${echo.url}/`], DEBUG);
    try {
      const c = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id })).json
        .id;
      const r = await api(hub.url, token, 'POST', `/v1/connections/${c}/invoke`, { method: 'POST', url: 'moved', body: b64('payload') });
      expect(r.status).toBe(200);
      expect(echo.received.filter((x) => x.url === '/moved')).toHaveLength(1);
      await hub.waitForLine((l) => l.includes('call moved to another member'));
    } finally {
      await narrow.stop();
      await wide.stop();
    }
  });
});
