// Red team (issue 22): one tenant cannot hurt the hub or another tenant through the agents' own routes.
// B1: a member credential posting huge or junk bodies to /v1/agent/rotate/commit; B5: strangers flooding
// /v1/agent/register with heavy bodies that never named a gateway. Real hub and agent; another tenant's calls
// through its own agent keep being answered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

/** A JSON object of `bytes` characters made of many tiny keys: the costliest shape to parse per byte. */
function junkKeys(bytes: number, wrap: (inner: string) => string): string {
  const parts: string[] = [];
  let len = 20;
  for (let i = 0; len < bytes; i++) {
    const s = `"k${i}":{}`;
    parts.push(s);
    len += s.length + 1;
  }
  return wrap(parts.join(','));
}

describe('agent API bounds (red team B1, B5)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let good: AgentProc;
  let goodConn: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    token = await entra.token();
    hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s' });
    const g = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'tenant-a');
    good = g.agent;
    goodConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json
      .id;
  }, 60_000);
  afterAll(async () => {
    await good?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  /** Another tenant's call through its own agent, answered within a few seconds. */
  async function otherTenantServed(): Promise<void> {
    const r = await api(hub.url, token, 'POST', `/v1/connections/${goodConn}/invoke`, { method: 'GET', url: 'echo/still-served' });
    expect(r.status).toBe(200);
  }

  // Runs last: its failures lock 127.0.0.1 out of the agent routes for the rest of the window.
  it('B5: register flood with heavy bodies naming no gateway is counted by the limiter and refused before reading', async () => {
    const body = junkKeys(30_000, (inner) => `{${inner}}`);
    const statuses: number[] = [];
    let limited: { code: string; retryAfter: unknown } | undefined;
    for (let i = 0; i < 300 && !limited; i++) {
      const path = i % 2 === 0 ? '/v1/agent/register' : '/v1/agent/join-info';
      const r = await request(`${hub.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const j = (await r.body.json()) as { error: { code: string } };
      statuses.push(r.statusCode);
      if (r.statusCode === 429) limited = { code: j.error.code, retryAfter: r.headers['retry-after'] };
    }
    // 100 failures per 60 s from one address (GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS): the 101st is refused.
    expect(statuses.slice(0, 100).every((s) => s === 400)).toBe(true);
    expect(statuses.length).toBe(101);
    expect(limited?.code).toBe('TooManyRequests');
    expect(Number(limited?.retryAfter)).toBeGreaterThan(0);
    await otherTenantServed();
  }, 60_000);
});
