// GET /metrics on the hub and the agent's --metrics-listen: the named series exist and move with traffic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { connect, createServer, type AddressInfo } from 'node:net';
import type { EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { api, b64, startHub, type HubProc } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let echo: EchoServer;
let hub: HubProc;
let token: string;
let stack: StandardStack | undefined;
let connId: string;
let agentMetricsUrl: string;

async function scrape(url: string): Promise<string> {
  const r = await request(url);
  expect(r.statusCode).toBe(200);
  expect(String(r.headers['content-type'])).toMatch(/^text\/plain/);
  return r.body.text();
}
function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

beforeAll(async () => {
  const port = await freePort();
  agentMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  stack = await startStandardStack({ hubEnv: { GATEHOUSE_THROTTLE: '3/60s' }, agentArgs: ['--metrics-listen', `127.0.0.1:${port}`] });
  ({ echo, hub, token } = stack);
  const g = stack;
  connId = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json.id;
});
afterAll(async () => {
  await stack?.stop();
});

describe('metrics', () => {
  it('hub series move when calls flow', async () => {
    const before = await scrape(`${hub.url}/metrics`);
    for (const name of [
      'gatehouse_requests_total',
      'gatehouse_throttled_total',
      'gatehouse_call_phase_seconds',
      'gatehouse_inflight_requests',
      'gatehouse_relayed_bytes_total',
      'gatehouse_agents_online',
    ]) {
      expect(before).toContain(`# TYPE ${name} `);
    }
    expect(value(before, 'gatehouse_agents_online')).toBe(1);
    const inv = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'POST', url: 'echo', body: b64(Buffer.alloc(1000, 1)) });
    expect(inv.status).toBe(200);
    const px = await request(`${hub.url}/v1/connections/${connId}/proxy/echo`, {
      method: 'POST',
      body: Buffer.alloc(500),
      headers: { authorization: `Bearer ${token}` },
    });
    await px.body.text();
    await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'x' });
    const throttled = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'x' });
    expect(throttled.status).toBe(429);
    const after = await scrape(`${hub.url}/metrics`);
    expect(value(after, 'gatehouse_requests_total{route="invoke",auth_type="AnonymousGateway",status="200"}')).toBe(2);
    expect(value(after, 'gatehouse_requests_total{route="proxy",auth_type="AnonymousGateway",status="200"}')).toBe(1);
    expect(value(after, 'gatehouse_requests_total{route="invoke",auth_type="AnonymousGateway",status="429"}')).toBe(1);
    expect(value(after, 'gatehouse_throttled_total{route="invoke"}')).toBe(1);
    expect(value(after, 'gatehouse_relayed_bytes_total{direction="request"}')).toBe(1500);
    expect(value(after, 'gatehouse_relayed_bytes_total{direction="response"}')).toBe(1500);
    expect(value(after, 'gatehouse_call_phase_seconds_count{route="invoke",phase="backend"}')).toBe(2);
    expect(value(after, 'gatehouse_call_phase_seconds_count{route="proxy",phase="relay"}')).toBe(1);
    expect(value(after, 'gatehouse_inflight_requests')).toBe(0);
  });

  it('agent series on --metrics-listen', async () => {
    const text = await scrape(agentMetricsUrl);
    expect(value(text, 'gatehouse_agent_hubs_connected')).toBe(1);
    expect(value(text, 'gatehouse_agent_calls_total{status="200"}')).toBeGreaterThanOrEqual(3);
    expect(value(text, 'gatehouse_agent_relayed_bytes_total{direction="request"}')).toBe(1500);
    expect(text).toContain('# TYPE gatehouse_agent_backend_seconds histogram');
    // Node's process metrics too (collected only when served: their event-loop monitor wakes the agent every 10 ms)
    expect(value(text, 'gatehouse_agent_process_cpu_seconds_total')).toBeGreaterThan(0);
  });
});

describe('who may read the hub metrics (red team, session 17, F5: strangers scraped every tenant gateway ids)', () => {
  it('on the main port only a connection from this machine that no proxy forwarded reads /metrics; anyone else gets the 404 of an unknown route', async () => {
    expect(await scrape(`${hub.url}/metrics`)).toContain('gatehouse_agents_online');
    for (const forwarded of [
      { 'x-forwarded-for': '203.0.113.7' },
      { forwarded: 'for=203.0.113.7' },
      { 'X-Real-IP': '203.0.113.7' },
      { via: '1.1 nginx' },
      { 'x-forwarded-host': 'hub.example' },
      { 'cf-connecting-ip': '203.0.113.7' },
      { 'true-client-ip': '203.0.113.7' },
      { 'x-forwarded-for': '' },
    ]) {
      const r = await request(`${hub.url}/metrics`, { headers: forwarded });
      const body = (await r.body.json()) as { error: { code: string; message: string } };
      expect([r.statusCode, body.error.code, body.error.message]).toEqual([404, 'NotFound', 'caller -> hub: no such route']);
    }
  });

  it('with GATEHOUSE_METRICS_LISTEN the metrics are served on that address only, and the main port has no /metrics', async () => {
    const port = await freePort();
    const own = await startHub(stack!.entra, { GATEHOUSE_METRICS_LISTEN: `127.0.0.1:${port}` });
    try {
      const at = JSON.parse(own.lines.find((l) => l.includes('"metrics listening"'))!);
      expect(at).toMatchObject({ host: '127.0.0.1', port });
      expect(await scrape(`http://127.0.0.1:${port}/metrics`)).toContain('gatehouse_agents_online');
      const main = await request(`${own.url}/metrics`);
      expect([main.statusCode, ((await main.body.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NotFound']);
      const other = await request(`http://127.0.0.1:${port}/v1/connections`);
      expect([other.statusCode, ((await other.body.json()) as { error: { code: string } }).error.code]).toEqual([404, 'NotFound']);
      expect((await request(`${own.url}/healthz`)).statusCode).toBe(200);

      // Red team, session 18: with the metrics listener on a network EntraAuth calls may reach (here loopback, which
      // the test hub allows: GATEHOUSE_ENTRA_ALLOW_NETWORKS=127.0.0.0/8), an EntraAuth connection read the metrics,
      // every tenant's gateway ids in them. The hub's own listeners are refused, its API port too; other services on
      // the same addresses are not.
      const entraConn = async (baseResourceUrl: string) => {
        const c = await api(own.url, stack!.token, 'POST', '/v1/connections', { authType: 'EntraAuth', resourceUri: 'api://backend-api', baseResourceUrl });
        expect(c.status, c.text).toBe(201);
        return c.json.id as string;
      };
      for (const [base, path] of [
        [`http://127.0.0.1:${port}`, 'metrics'],
        [own.url, 'metrics'],
        [`http://localhost:${port}`, 'metrics'],
      ] as const) {
        const id = await entraConn(base);
        const r = await api(own.url, stack!.token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: path });
        expect(r.status, r.text).toBe(400);
        expect(r.json.error.code).toBe('UrlNotAllowed');
        expect(r.json.error.message).toMatch(/this hub's own listener/);
        expect(r.text).not.toContain('gatehouse_agents_online');
      }
      // Other spellings of this machine's addresses reach the same listener, or nothing; never its metrics.
      for (const host of [
        '127.1',
        '2130706433',
        '0x7f.0.0.1',
        '0177.0.0.1',
        '0.0.0.0',
        '[::ffff:127.0.0.1]',
        '[::ffff:7f00:1]',
        '[::]',
        '[::1]',
        '127.0.0.2',
      ]) {
        const c = await api(own.url, stack!.token, 'POST', '/v1/connections', {
          authType: 'EntraAuth',
          resourceUri: 'api://backend-api',
          baseResourceUrl: `http://${host}:${port}`,
        });
        if (c.status !== 201) {
          expect([c.status, c.json.error?.code], `${host}: ${c.text}`).toEqual([400, 'UrlNotAllowed']);
          continue;
        }
        const r = await api(own.url, stack!.token, 'POST', `/v1/connections/${c.json.id}/invoke`, { method: 'GET', url: 'metrics' });
        expect(r.text, host).not.toContain('gatehouse_agents_online');
        // 127.0.0.2 is this machine's too, but the listener is bound to 127.0.0.1 only: nothing answers there.
        expect([r.status, r.json.error?.code], `${host}: ${r.text.slice(0, 300)}`).toEqual(
          host === '127.0.0.2' ? [502, 'BackendUnreachable'] : [400, 'UrlNotAllowed'],
        );
      }
      // Through a port mapping (a TCP forwarder standing in for docker -p, a Service, a sidecar), the socket's own
      // address and port are not the hub's: the answer is known by the hub's marker and refused all the same.
      const forwarder = createServer((inbound) => {
        const outbound = connect(port, '127.0.0.1');
        inbound.pipe(outbound).pipe(inbound);
        inbound.on('error', () => outbound.destroy());
        outbound.on('error', () => inbound.destroy());
      });
      await new Promise<void>((r) => forwarder.listen(0, '127.0.0.1', () => r()));
      try {
        const mapped = await entraConn(`http://127.0.0.1:${(forwarder.address() as AddressInfo).port}`);
        const r = await api(own.url, stack!.token, 'POST', `/v1/connections/${mapped}/invoke`, { method: 'GET', url: 'metrics' });
        expect([r.status, r.json.error?.code], r.text.slice(0, 300)).toEqual([400, 'UrlNotAllowed']);
        expect(r.json.error.message).toMatch(/answered as this hub/);
        expect(r.text).not.toContain('gatehouse_agents_online');
      } finally {
        forwarder.close();
      }
      const echoConn = await entraConn(echo.url);
      const fine = await api(own.url, stack!.token, 'POST', `/v1/connections/${echoConn}/invoke`, { method: 'GET', url: 'echo/x' });
      expect([fine.status, fine.json.statusCode]).toEqual([200, 200]);
    } finally {
      await own.stop();
    }
  });
});
