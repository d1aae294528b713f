// Red team B4 (issue 22): invoke objects of 1 MB that are not a body (a caller's own member full of `{"k0":{},…}`,
// a huge url or headers) cost the hub 0.2-0.5 s of CPU each and slowed another tenant's calls from 3 ms to 0.7 s.
// The hub now refuses an unknown member as soon as its name is read, bounds what is not the body to 256 KiB and
// headers to 1,000 members, and another tenant keeps being served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { registerMember } from '../helpers/hostile-agent.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';

function junkObjects(): string {
  const parts: string[] = [];
  for (let len = 40, i = 0; len < 1_000_000; i++) {
    const s = `"k${i}":{}`;
    parts.push(s);
    len += s.length + 1;
  }
  return `{"method":"GET","url":"echo/x","junk":{${parts.join(',')}}}`;
}

describe('invoke objects that are not a body (red team B4)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let tokenA: string;
  let tokenB: string;
  let agentA: AgentProc;
  let connA: string;
  let connB: string;

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
    const m = await registerMember(hub.url, tokenB, 'tenant-b');
    connB = (await api(hub.url, tokenB, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: m.gatewayId })).json
      .id;
  }, 60_000);

  afterAll(async () => {
    await agentA?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  async function invokeRaw(token: string, conn: string, body: string) {
    const r = await request(`${hub.url}/v1/connections/${conn}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    });
    return { status: r.statusCode, json: (await r.body.json()) as { error?: { code: string; message: string } } };
  }

  it('B4: an unknown member of 1 MB is refused with 400 InvalidRequest naming its position (never its text), and another tenant keeps being served', async () => {
    const junk = junkObjects();
    const attacks = Array.from({ length: 8 }, () => invokeRaw(tokenB, connB, junk));
    const served: number[] = [];
    for (let i = 0; i < 20; i++)
      served.push((await api(hub.url, tokenA, 'POST', `/v1/connections/${connA}/invoke`, { method: 'GET', url: `echo/a-${i}` })).status);
    for (const r of await Promise.all(attacks)) {
      expect(r.status).toBe(400);
      expect(r.json.error?.code).toBe('InvalidRequest');
      expect(r.json.error?.message).toContain('member 3 of the invoke object is not one it has');
      expect(r.json.error?.message).not.toContain('junk');
    }
    expect(served.every((s) => s === 200)).toBe(true);
  }, 60_000);

  it('B4: a url of 1 MB is refused with 413 naming the 256 KiB bound of the invoke object without its body', async () => {
    const r = await invokeRaw(tokenB, connB, `{"method":"GET","url":"echo/${'a'.repeat(1_000_000)}"}`);
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe('PayloadTooLarge');
    expect(r.json.error?.message).toContain('262144 characters');
  }, 30_000);

  it('B4: headers with over 2,000 members are refused with 400 InvalidRequest', async () => {
    const headers = Object.fromEntries(Array.from({ length: 2001 }, (_, i) => [`x-h${i}`, 'v']));
    const r = await invokeRaw(tokenB, connB, JSON.stringify({ method: 'GET', url: 'echo/x', headers }));
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe('InvalidRequest');
    expect(r.json.error?.message).toContain('headers holds over 2000 members');
    const ok = await api(hub.url, tokenA, 'POST', `/v1/connections/${connA}/invoke`, { method: 'GET', url: 'echo/after' });
    expect(ok.status).toBe(200);
  }, 30_000);

  it('B4: a body full of \\/ escapes is still decoded exactly', async () => {
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) % 256;
    const escaped = bytes.toString('base64').replaceAll('/', '\\/');
    const r = await request(`${hub.url}/v1/connections/${connA}/invoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenA}`, 'content-type': 'application/json' },
      body: `{"method":"POST","url":"echo/bytes","headers":{},"body":"${escaped}"}`,
    });
    const out = (await r.body.json()) as { statusCode: number; body: string };
    expect(r.statusCode).toBe(200);
    expect(out.statusCode).toBe(200);
    expect(Buffer.from(out.body, 'base64').equals(bytes)).toBe(true);
  }, 30_000);
});
