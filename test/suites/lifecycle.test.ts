// Registration, status, reconnect after a hub restart, and a graceful SIGTERM that lets calls finish.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { USER_2, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { AGENT_MAIN, api, gatewayWithAgent, joinAtOnce, startAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

let entra: FakeEntra;
let echo: EchoServer;
let hub: HubProc;
let token: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  hub = await startHub(entra);
  token = await entra.token();
});
afterAll(async () => {
  await hub?.stop();
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('registration', () => {
  it('writes an owner-only config, and the registration key works once', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'once' });
    expect(gw.status).toBe(201);
    expect(gw.json.registrationKey).toMatch(/^ghr_/);
    const configPath = join(tempDir(), 'agent.json');
    const reg = startProc(
      [AGENT_MAIN, 'register', '--hub', hub.url, '--gateway', gw.json.id, '--key', gw.json.registrationKey, '--allow', `${echo.url}/`, '--config', configPath],
      {},
    );
    expect(await reg.exited).toBe(0);
    expect(reg.lines.join('\n')).toMatch(/recovery key \(shown once/);
    expect(statSync(configPath).mode & 0o777).toBe(0o600);
    const again = startProc(
      [
        AGENT_MAIN,
        'register',
        '--hub',
        hub.url,
        '--gateway',
        gw.json.id,
        '--key',
        gw.json.registrationKey,
        '--allow',
        `${echo.url}/`,
        '--config',
        join(tempDir(), 'b.json'),
      ],
      {},
    );
    expect(await again.exited).not.toBe(0);
    expect(again.lines.join('\n')).toMatch(/refused the registration/);
  });

  it('a wrong key is refused with a one-line reason', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'wrong' });
    const p = startProc(
      [
        AGENT_MAIN,
        'register',
        '--hub',
        hub.url,
        '--gateway',
        gw.json.id,
        '--key',
        'ghr_wrong',
        '--allow',
        `${echo.url}/`,
        '--config',
        join(tempDir(), 'c.json'),
      ],
      {},
    );
    expect(await p.exited).toBe(2);
    expect(p.lines).toHaveLength(1);
    expect(p.lines[0]).toMatch(/^gatehouse-agent: the hub refused the registration \(401\)/);
  });

  it('a second first registration (at once or just after) is told to join, keeps its key, and the first key stays', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'race' });
    const second = (await api(hub.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`)).json.registrationKey as string;
    const publicKeys = [0, 1].map(() => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const register = (key: string, i: number) =>
      api(hub.url, undefined, 'POST', '/v1/agent/register', {
        gatewayId: gw.json.id,
        registrationKey: key,
        name: `racer-${i}`,
        publicKeyPem: publicKeys[i],
        sealedPrivateKey: `sealed-${i}`,
      });
    const answers = await Promise.all([register(gw.json.registrationKey as string, 0), register(second, 1)]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 400]);
    const winner = answers.findIndex((a) => a.status === 201);
    const loser = answers[1 - winner]!;
    expect(loser.json.error.message).toMatch(/another member registered first.*gatehouse-agent join/);
    // the gateway's key is the winner's, and the loser's registration key was not used up
    const info = await api(hub.url, undefined, 'POST', '/v1/agent/join-info', {
      gatewayId: gw.json.id,
      registrationKey: [gw.json.registrationKey, second][1 - winner],
    });
    expect(info.status).toBe(200);
    expect(info.json.publicKeyPem).toBe(publicKeys[winner]);
    expect(info.json.sealedPrivateKey).toBe(`sealed-${winner}`);
    expect((await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).json.members).toHaveLength(1);
  });

  it('twelve joins: the gateway gets 10 members, the rest are refused by name (SQLite; the race across hubs: scaleout.test)', async () => {
    const { gatewayId, statuses, refusals } = await joinAtOnce([hub.url], token, 12);
    expect(statuses.filter((s) => s === 201)).toHaveLength(9);
    expect(refusals).toHaveLength(3);
    for (const r of refusals) expect(r).toMatch(/a gateway has at most 10 members; remove one first/);
    expect((await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json.members).toHaveLength(10);
  });

  it('bad command lines exit non-zero with one line', async () => {
    for (const args of [['register'], ['run', '--config', '/nonexistent/agent.json'], ['frobnicate'], ['register', '--hub']]) {
      const p = startProc([AGENT_MAIN, ...args], {});
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(p.lines.length).toBe(1);
    }
    const help = startProc([AGENT_MAIN, '--help'], {});
    expect(await help.exited).toBe(0);
    expect(help.lines.join('\n')).toMatch(/gatehouse-agent register --hub URL/);
  });
});

describe('running agent', () => {
  it('gateway status shows the member; `status` reports it; hub restart → the agent reconnects and serves', async () => {
    const { gatewayId, agent } = await gatewayWithAgent(hub.url, token, [`${echo.url}/`]);
    try {
      const g = await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`);
      expect(g.json.status).toBe('online');
      expect(g.json.members).toHaveLength(1);
      expect(g.json.members[0]).toMatchObject({ id: agent.memberId, status: 'online', version: '0.1.0' });
      expect(g.json.members[0].connectedAt).toMatch(/^\d{4}-/);
      const st = startProc([AGENT_MAIN, 'status', '--config', agent.configPath], {});
      expect(await st.exited).toBe(0);
      expect(st.lines.join('\n')).toMatch(/connected/);

      const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
      expect((await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'before' })).status).toBe(200);

      // restart the hub on the same port and database
      const { port, dbDir } = hub;
      await hub.stop();
      await agent.waitForLine((l) => l.includes('disconnected from hub'));
      const st2 = startProc([AGENT_MAIN, 'status', '--config', agent.configPath], {});
      expect(await st2.exited).toBe(1);
      hub = await startHub(entra, {}, { port, dbDir });
      await agent.waitForLine(() => agent.lines.filter((l) => l.includes('"connected to hub"')).length >= 2, 30_000);
      await expect.poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json.status, { timeout: 30_000 }).toBe('online');
      const r = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'after' });
      expect(r.status).toBe(200);
      expect(echo.received.at(-1)!.url).toBe('/after');
    } finally {
      await agent.stop();
    }
  });

  it('SIGTERM lets an in-flight call finish, then the agent exits 0 and the gateway goes offline', async () => {
    const { gatewayId, agent }: { gatewayId: string; agent: AgentProc } = await gatewayWithAgent(hub.url, token, [`${echo.url}/`]);
    const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
    const inFlight = api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'slow?ms=1500' });
    await expect.poll(() => echo.received.some((r) => r.url === '/slow?ms=1500')).toBe(true);
    agent.child.kill('SIGTERM');
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(Buffer.from(r.json.body, 'base64').toString()).toBe('slow done');
    expect(await agent.exited).toBe(0);
    await expect.poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json.status).toBe('offline');
    const after = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'x' });
    expect(after.json.error.code).toBe('GatewayOffline');
  });
});

describe('deleting a gateway', () => {
  it('is refused while a connection uses it; afterwards its agents are cut off for good and its keys are void', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'to-delete' });
    const spareKey = (await api(hub.url, token, 'POST', `/v1/gateways/${gw.json.id}/registration-keys`)).json.registrationKey as string;
    const agent = await startAgent([hub.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]);
    try {
      const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id }))
        .json.id;
      const refused = await api(hub.url, token, 'DELETE', `/v1/gateways/${gw.json.id}`);
      expect(refused.status).toBe(400);
      expect(refused.json.error.message).toContain(conn);
      expect((await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'still' })).json.statusCode).toBe(200);
      // another user cannot delete it
      expect((await api(hub.url, await entra.token({ oid: USER_2 }), 'DELETE', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
      expect((await api(hub.url, token, 'DELETE', `/v1/connections/${conn}`)).status).toBe(204);
      expect((await api(hub.url, token, 'DELETE', `/v1/gateways/${gw.json.id}`)).status).toBe(204);
      await agent.waitForLine((l) => l.includes('"giving up on this hub"'));
      expect((await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).status).toBe(404);
      expect((await api(hub.url, token, 'GET', '/v1/gateways')).json.value.some((g: { id: string }) => g.id === gw.json.id)).toBe(false);
      const join = await api(hub.url, undefined, 'POST', '/v1/agent/join-info', { gatewayId: gw.json.id, registrationKey: spareKey });
      expect(join.status).toBeGreaterThanOrEqual(400);
    } finally {
      await agent.stop();
    }
  });
});

describe('stopping the hub', () => {
  it('SIGTERM lets calls in flight finish (new connections are refused meanwhile), then the hub exits 0', async () => {
    // Regression: the hub closed its agents' sessions at once, so every call in flight got 502 on a restart.
    const draining = await startHub(entra, { GATEHOUSE_DRAIN_TIMEOUT: '20s' });
    const { gatewayId, agent } = await gatewayWithAgent(draining.url, token, [`${echo.url}/`]);
    try {
      const conn = (await api(draining.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
      const inFlight = api(draining.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'slow?ms=1500&drain=1' });
      await new Promise((r) => setTimeout(r, 300));
      const stoppedAt = Date.now();
      draining.child.kill('SIGTERM');
      await draining.waitForLine((l) => l.includes('"draining: finishing the calls in flight"'));
      await expect(api(draining.url, token, 'GET', '/readyz')).rejects.toThrow(); // no new connections
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(Buffer.from(r.json.body, 'base64').toString()).toBe('slow done');
      expect(await draining.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(15_000); // it left when the call was done, not at the drain limit
    } finally {
      await agent.stop();
      await draining.stop();
    }
  });

  it('a call that outlasts the drain time is cut when it ends', async () => {
    const short = await startHub(entra, { GATEHOUSE_DRAIN_TIMEOUT: '1s' });
    const { gatewayId, agent } = await gatewayWithAgent(short.url, token, [`${echo.url}/`]);
    try {
      const conn = (await api(short.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json.id;
      const inFlight = api(short.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'slow?ms=8000' }).then(
        (r) => r.status,
        () => 'cut',
      );
      await new Promise((r) => setTimeout(r, 300));
      short.child.kill('SIGTERM');
      expect(await short.exited).toBe(0);
      expect(short.lines.some((l) => l.includes('"drain time over: cutting the calls still in flight"'))).toBe(true);
      expect(await inFlight).not.toBe(200);
    } finally {
      await agent.stop();
      await short.stop();
    }
  });
});
