// What goes wrong between the links, each with its coded answer: the agent's own allow-list, no agent,
// no service, a slow service, throttling.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { startCannedServer, startNotHttpServer } from '../helpers/not-http.js';
import { freePort } from '../helpers/apache.js';
import { createServer as createHttpsServer } from 'node:https';
import type { EchoServer } from '../helpers/echo-server.js';
import { api, b64, gatewayWithAgent, startAgent, type AgentProc, type HubProc } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let echo: EchoServer;
let hub: HubProc;
let token: string;
let stack: StandardStack | undefined;
let gatewayId: string;

async function connection(baseResourceUrl: string, extra: Record<string, unknown> = {}, gw = gatewayId): Promise<string> {
  const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl, gatewayId: gw, ...extra });
  expect(c.status, c.text).toBe(201);
  return c.json.id;
}
const invoke = (id: string, body: unknown) => api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, body);

beforeAll(async () => {
  // The agent allows only /api on the echo server; connections below are deliberately broader.
  stack = await startStandardStack({ hubEnv: { GATEHOUSE_THROTTLE: '100/8s' }, allow: (url) => [`${url}/api`] });
  ({ echo, hub, token, gatewayId } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

describe("the agent's --allow list, whatever the hub asks", () => {
  it.each([
    ['prefix without segment boundary', () => echo.url, '/apix'],
    ['.. escape (resolved by the hub, still outside)', () => echo.url, '/api/../secret'],
    ['%2e%2e escape', () => echo.url, '/api/%2e%2e/secret'],
    ['other path', () => echo.url, '/other'],
    ['other host', () => `http://localhost:${echo.port}`, '/api/x'],
    ['other port', () => `http://127.0.0.1:${echo.port + 1}`, '/api/x'],
    ['other scheme', () => `https://127.0.0.1:${echo.port}`, '/api/x'],
  ])('%s is refused by the agent', async (_name, base, url) => {
    const id = await connection(base());
    const before = echo.received.length;
    const r = await invoke(id, { method: 'GET', url });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('UrlNotAllowed');
    expect(r.json.error.message).toMatch(/^agent: .*--allow/);
    expect(echo.received.length).toBe(before);
  });

  it('a URL under the prefix is served', async () => {
    const id = await connection(echo.url);
    const r = await invoke(id, { method: 'GET', url: '/api/ok' });
    expect(r.status).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/api/ok');
  });
});

describe('link failures', () => {
  it('no online agent: 502 GatewayOffline at once', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'empty' });
    // A gateway without members has no key: an anonymous connection still works to create.
    const id = await connection(`${echo.url}/api`, {}, gw.json.id);
    const started = Date.now();
    const r = await invoke(id, { method: 'GET', url: 'x' });
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('GatewayOffline');
    expect(r.json.error.message).toMatch(/hub -> agent/);
    expect(Date.now() - started).toBeLessThan(5000);
    const status = await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`);
    expect(status.json.status).toBe('offline');
  });

  /** A GET through a gateway of its own whose agent may call only http://127.0.0.1:{port}/. */
  async function invokeOnPort(port: number, name: string) {
    const gw = await gatewayWithAgent(hub.url, token, [`http://127.0.0.1:${port}/`], name);
    try {
      return await invoke(await connection(`http://127.0.0.1:${port}`, {}, gw.gatewayId), { method: 'GET', url: 'x' });
    } finally {
      await gw.agent.stop();
    }
  }

  it('service down: 502 BackendUnreachable', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await freePort();
    const r = await invokeOnPort(port, 'down');
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('BackendUnreachable');
    expect(r.json.error.message).toMatch(/^agent -> service: the agent reported: .*ECONNREFUSED/);
  });

  it('a service that does not speak HTTP (a wrong port): 502 BadGateway saying so, never its bytes', async () => {
    const notHttp = await startNotHttpServer();
    try {
      const r = await invokeOnPort(notHttp.port, 'not-http');
      expect(r.status).toBe(502);
      expect(r.json.error.code).toBe('BadGateway');
      expect(r.json.error.message).toBe(
        `agent -> service: the agent reported: http://127.0.0.1:${notHttp.port} did not answer with HTTP/1.1 (Expected HTTP/, RTSP/ or ICE/)`,
      );
      expect(r.text).not.toContain('secret-banner');
    } finally {
      notHttp.close();
    }
  });

  it('an answer the relay cannot carry (status 600, 1,200 header lines, framed two ways, a transfer coding other than chunked, 101 or 100 unasked, broken off) is a 502 naming it, and the agent stays connected', async () => {
    // Before: the agent relayed the head as it came, the hub refused it by closing the agent's connection, and
    // every call on it failed (the next call here: GatewayOffline while the agent reconnected).
    const odd = await startCannedServer({
      status600: 'HTTP/1.1 600 Custom\r\nContent-Length: 2\r\n\r\nok',
      many: `HTTP/1.1 200 OK\r\n${'q: x\r\n'.repeat(1200)}Content-Length: 2\r\n\r\nok`,
      fine: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      twoway: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      switching: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n',
      unasked100: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      hints: 'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      cut: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello',
      gzipChunked: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      gzipToClose: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello',
    });
    const gw = await gatewayWithAgent(hub.url, token, [`http://127.0.0.1:${odd.port}/`], 'odd');
    try {
      const id = await connection(`http://127.0.0.1:${odd.port}`, {}, gw.gatewayId);
      const s600 = await invoke(id, { method: 'GET', url: 'status600' });
      expect(s600.status).toBe(502);
      expect(s600.json.error).toMatchObject({
        code: 'BadGateway',
        message: "agent -> service: the agent reported: the service answered with status 600, outside HTTP's 100-599",
      });
      const many = await invoke(id, { method: 'GET', url: 'many' });
      expect(many.status).toBe(502);
      expect(many.json.error).toMatchObject({
        code: 'BadGateway',
        message: "agent -> service: the agent reported: the service's answer has 1201 header lines, over the 1000 the relay carries",
      });
      // framed two ways (a smuggling shape): refused, and said so (it was "failed (UND_ERR_RES_CONTENT_LENGTH_MISMATCH)")
      const twoway = await invoke(id, { method: 'GET', url: 'twoway' });
      expect(twoway.status).toBe(502);
      expect(twoway.json.error.message).toBe(
        `agent -> service: the agent reported: http://127.0.0.1:${odd.port} answered with a body that does not match its framing (Content-Length)`,
      );
      // undici refuses these two; they were "could not reach … (UND_ERR_SOCKET)", as if the network had failed
      // A transfer coding the relay cannot undo: the coded bytes were passed on as if they were the body.
      for (const url of ['gzipChunked', 'gzipToClose']) {
        const coded = await invoke(id, { method: 'GET', url });
        expect(coded.status).toBe(502);
        expect(coded.json.error.message).toBe(
          `agent -> service: the agent reported: http://127.0.0.1:${odd.port} answered with a transfer coding other than chunked, which the relay cannot undo (a compressed answer goes with Content-Encoding)`,
        );
      }
      const codedRaw = await fetch(`${hub.url}/v1/connections/${id}/proxy/gzipChunked`, { headers: { authorization: `Bearer ${token}` } });
      expect(codedRaw.status).toBe(502);
      expect(codedRaw.headers.get('x-gatehouse-error')).toBe('BadGateway');
      await codedRaw.text();
      const switching = await invoke(id, { method: 'GET', url: 'switching' });
      expect(switching.json.error).toMatchObject({
        code: 'BadGateway',
        message: `agent -> service: the agent reported: http://127.0.0.1:${odd.port} answered 101 (Switching Protocols) to a request that asked for no upgrade`,
      });
      const unasked100 = await invoke(id, { method: 'GET', url: 'unasked100' });
      expect(unasked100.json.error).toMatchObject({
        code: 'BadGateway',
        message: `agent -> service: the agent reported: http://127.0.0.1:${odd.port} answered with an unasked 100 (Continue), or before it was asked, which the relay does not take`,
      });
      expect((await invoke(id, { method: 'GET', url: 'hints' })).json).toMatchObject({ statusCode: 200, body: b64('ok') });
      // An answer broken off mid-body is a 502 on invoke (read whole before its 200 leaves; the caller's
      // connection was cut, with the envelope half written); the raw route, which streams, cuts the caller's.
      const cut = await invoke(id, { method: 'GET', url: 'cut' });
      expect(cut.status).toBe(502);
      expect(cut.json.error).toMatchObject({
        code: 'BadGateway',
        message: 'agent -> hub: the agent cancelled the call; the agent reported: the service broke off its answer (UND_ERR_SOCKET)',
      });
      // (the cut may reach the caller before the head has left, or after)
      await expect(
        fetch(`${hub.url}/v1/connections/${id}/proxy/cut`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.text()),
      ).rejects.toThrow();
      expect((await invoke(id, { method: 'GET', url: 'fine' })).json.statusCode).toBe(200);
      expect(gw.agent.lines.filter((l) => l.includes('"disconnected from hub"'))).toEqual([]);
    } finally {
      await gw.agent.stop();
      odd.close();
    }
  });

  it('service slower than the timeout: 504 GatewayTimeout and the agent abandons the call', async () => {
    const id = await connection(`${echo.url}/api`, { timeoutSeconds: 2 });
    const before = echo.abandoned;
    const r = await invoke(id, { method: 'GET', url: 'stall' });
    expect(r.status).toBe(504);
    expect(r.json.error.code).toBe('GatewayTimeout');
    await expect.poll(() => echo.abandoned, { timeout: 5000 }).toBe(before + 1);
  });

  it('timeoutSeconds above the hub maximum is refused', async () => {
    const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId, timeoutSeconds: 601 });
    expect(c.status).toBe(400);
  });
});

describe('throttling per connection', () => {
  it('the 101st call in the window gets 429 with Retry-After; a new window admits calls again', async () => {
    const id = await connection(`${echo.url}/api`);
    const other = await connection(`${echo.url}/api`);
    const results = [];
    for (let i = 0; i < 100; i++) results.push(await invoke(id, { method: 'GET', url: 'n' }));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results[0]!.headers['ratelimit-limit']).toBe('100');
    expect(results[0]!.headers['ratelimit-remaining']).toBe('99');
    expect(results[99]!.headers['ratelimit-remaining']).toBe('0');
    const over = await invoke(id, { method: 'GET', url: 'n' });
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe('TooManyRequests');
    const retry = Number(over.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(8);
    expect(over.json.error.message).toBe(`Rate limit is exceeded. Try again in ${retry} seconds.`);
    expect(over.headers['ratelimit-remaining']).toBe('0');
    expect(over.headers['ratelimit-reset']).toBe(String(retry));
    // another connection has its own budget
    expect((await invoke(other, { method: 'GET', url: 'n' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, retry * 1000 + 200));
    const again = await invoke(id, { method: 'GET', url: 'n' });
    expect(again.status).toBe(200);
    expect(again.headers['ratelimit-remaining']).toBe('99');
  });
});

describe('an intranet service on https with an internal CA', () => {
  it('is refused with a coded answer naming the certificate problem until the agent trusts the CA (NODE_EXTRA_CA_CERTS)', async () => {
    const ca = stack!.entra.ca;
    const server = createHttpsServer({ key: ca.key, cert: ca.cert }, (_req, res) => {
      res.end('over tls');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const agents: AgentProc[] = [];
    try {
      const untrusted = await gatewayWithAgent(hub.url, token, [`${base}/`], 'tls-untrusted');
      agents.push(untrusted.agent);
      const refused = await invoke(await connection(base, {}, untrusted.gatewayId), { method: 'GET', url: 'x' });
      expect(refused.status).toBe(502);
      expect(refused.json.error.code).toBe('BackendUnreachable');
      expect(refused.json.error.message).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE/);
      const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'tls-trusted' });
      agents.push(await startAgent([hub.url], gw.json.id, gw.json.registrationKey, [`${base}/`], { NODE_EXTRA_CA_CERTS: ca.caPath }));
      const served = await invoke(await connection(base, {}, gw.json.id), { method: 'GET', url: 'x' });
      expect(served.status, served.text).toBe(200);
      expect(Buffer.from(served.json.body as string, 'base64').toString()).toBe('over tls');
    } finally {
      for (const a of agents) await a.stop();
      server.closeAllConnections();
      server.close();
    }
  });
});
