// The raw proxy route: plain HTTP both ways, streamed, with the same rules as invoke.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent, request } from 'undici';
import type { FakeEntra } from '../helpers/fake-entra.js';
import { patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, nodeHttp, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let entra: FakeEntra;
let echo: EchoServer;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let stack: StandardStack | undefined;
let gatewayId: string;
let connId: string;

async function newConnection(h = hub, gw = gatewayId, extra: Record<string, unknown> = {}): Promise<string> {
  const c = await api(h.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: `${echo.url}/svc`, gatewayId: gw, ...extra });
  expect(c.status, c.text).toBe(201);
  return c.json.id;
}
const proxyUrl = (path: string, id = connId, h = hub) => `${h.url}/v1/connections/${id}/proxy${path}`;

beforeAll(async () => {
  stack = await startStandardStack({ hubEnv: { GATEHOUSE_IDLE_TIMEOUT: '2s' } });
  ({ entra, echo, hub, token, gatewayId, agent } = stack);
  connId = await newConnection();
});
afterAll(async () => {
  await stack?.stop();
});

describe('raw proxy route', () => {
  it('binary round trip with the service status and headers passed through', async () => {
    const body = patternBytes(5 * 1024 * 1024 + 3, 4);
    const res = await request(proxyUrl('/echo/bin?x=1&y=%20z'), {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-test', cookie: 'a=b', 'x-custom': 'v' },
    });
    const back = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-echo-method']).toBe('PUT');
    expect(res.headers['content-type']).toBe('application/x-test');
    expect(res.headers['x-hop']).toBeUndefined();
    expect(back.equals(body)).toBe(true);
    const seen = echo.received.at(-1)!;
    expect(seen.url).toBe('/svc/echo/bin?x=1&y=%20z');
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-custom']).toBe('v');
    expect(seen.headers.via).toBe('1.1 gatehouse');
    expect(seen.headers['content-length']).toBe(String(body.length));
    expect(res.headers['ratelimit-limit']).toBe('100');
  });

  it('the hub token may come in X-Gatehouse-Authorization: Authorization then reaches the service (its own API token), never the hub token', async () => {
    // Before: the raw route always dropped Authorization (it carried the hub token), so a service with its own
    // bearer or API token could not be called through it; invoke's headers could carry one.
    const both = { 'x-gatehouse-authorization': `Bearer ${token}`, authorization: 'Token service-api-key' };
    const r = await request(proxyUrl('/echo/own-auth'), { headers: both });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    let seen = echo.received.at(-1)!;
    expect(seen.url).toBe('/svc/echo/own-auth');
    expect(seen.headers.authorization).toBe('Token service-api-key');
    expect(seen.headers['x-gatehouse-authorization']).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(token);
    // The hub token given in both headers is dropped from both.
    const twice = await request(proxyUrl('/echo/twice'), { headers: { 'x-gatehouse-authorization': `Bearer ${token}`, authorization: `Bearer ${token}` } });
    await twice.body.text();
    seen = echo.received.at(-1)!;
    expect(seen.url).toBe('/svc/echo/twice');
    expect(seen.headers.authorization).toBeUndefined();
    // When given, X-Gatehouse-Authorization is the hub credential: a bad one is refused even beside a good Authorization.
    const bad = await request(proxyUrl('/echo/bad'), { headers: { 'x-gatehouse-authorization': 'Bearer a.b.c', authorization: `Bearer ${token}` } });
    expect(bad.statusCode).toBe(401);
    expect(JSON.parse(await bad.body.text()).error.code).toBe('Unauthorized');
    // A Basic connection still sends the agent's credentials, whatever the caller's Authorization says.
    const basic = await newConnection(hub, gatewayId, { authType: 'BasicGateway', username: 'svc-user', password: 'svc-pass' });
    const b = await request(proxyUrl('/echo/basic', basic), { headers: both });
    await b.body.text();
    expect(echo.received.at(-1)!.headers.authorization).toBe(`Basic ${Buffer.from('svc-user:svc-pass').toString('base64')}`);
    // invoke takes the hub token there too; the header is never passed on, from the request or from invoke's headers.
    const inv = await api(
      hub.url,
      undefined,
      'POST',
      `/v1/connections/${connId}/invoke`,
      { method: 'GET', url: 'echo/inv', headers: { authorization: 'Token svc', 'X-Gatehouse-Authorization': 'x' } },
      { 'x-gatehouse-authorization': `Bearer ${token}` },
    );
    expect(inv.status, inv.text).toBe(200);
    seen = echo.received.at(-1)!;
    expect(seen.url).toBe('/svc/echo/inv');
    expect(seen.headers.authorization).toBe('Token svc');
    expect(seen.headers['x-gatehouse-authorization']).toBeUndefined();
  });

  it('a service status other than 200, HEAD, and the base path itself', async () => {
    const r = await request(proxyUrl('/status?code=418'), { headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(418);
    expect(r.headers['x-status-test']).toBe('yes');
    expect(await r.body.text()).toBe('status body');
    const h = await request(proxyUrl('/status?code=204'), { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    expect(h.statusCode).toBe(204);
    await h.body.text();
    const base = await request(proxyUrl('?q=1'), { headers: { authorization: `Bearer ${token}` } });
    await base.body.text();
    expect(echo.received.at(-1)!.url).toBe('/svc?q=1');
  });

  it('a 304 that declares the Content-Length of its 200 (RFC 9110 allows it) is answered, on both routes, and the connection carries the next call', async () => {
    // Regression: the agent's HTTP client (undici) failed such an answer after its head; the caller's connection
    // was closed with no answer at all (raw route) or a broken envelope (invoke).
    // (The caller here is Node's own client: undici's fails such an answer too.)
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await nodeHttp(proxyUrl('/status?code=304&set=etag:%22v1%22&set=content-length:1000'), {
          agent: keepAlive,
          headers: { authorization: `Bearer ${token}`, 'if-none-match': '"v1"' },
        });
        expect(r.status).toBe(304);
        expect(r.headers.etag).toBe('"v1"');
        expect(r.headers['content-length']).toBe('1000');
        expect(r.data.length).toBe(0);
        const inv = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'status?code=304&set=content-length:1000' });
        expect(inv.status, inv.text).toBe(200);
        expect(inv.json).toMatchObject({ statusCode: 304, body: '' });
      }
      // both calls went over one connection to the hub
      expect(Object.values(keepAlive.freeSockets).flat()).toHaveLength(1);
    } finally {
      keepAlive.destroy();
    }
  });

  it('a request with more header lines than the relay carries, or a head too large for it, is refused (400), and the agent stays connected', async () => {
    // Before: the hub relayed them and the agent refused the head by closing its connection (every call on it
    // failed); and Node dropped the lines past about 1,000 without a word, the Authorization after them too.
    const many = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`x-h${i}`, 'v']));
    const raw = await nodeHttp(proxyUrl('/echo/many'), { headers: { ...many, authorization: `Bearer ${token}` } });
    expect(raw.status).toBe(400);
    // Counted as the relay would send them (issue 21, finding 3): the 1,200 and the hub's Via, X-Forwarded-For,
    // X-Forwarded-Proto and X-Request-Id; not Authorization, nor the Host and Connection Node's client adds.
    const asSent = 'caller -> hub: the request has 1204 header lines as the relay sends them (the hub adds its own), over the 1000 it carries';
    expect(JSON.parse(raw.data.toString()).error).toMatchObject({ code: 'InvalidRequest', message: asSent });
    const inv = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'echo', headers: many });
    expect(inv.status).toBe(400);
    expect(inv.json.error.message).toBe(asSent);
    // a head whose encoding for the relay is over its 64 KiB (a Latin-1 letter such as é takes two bytes there, in
    // UTF-8; so did a quote in the JSON heads of protocol versions 1 and 2): it was a 500 "unexpected fault"
    const quoted = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, {
      method: 'GET',
      url: 'echo',
      headers: { 'x-q': 'é'.repeat(33_000) },
    });
    expect(quoted.status).toBe(400);
    expect(quoted.json.error.message).toBe("caller -> hub: the request's URL and headers are over the 64 KiB the relay carries as it encodes them");
    const fine = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, {
      method: 'GET',
      url: 'echo',
      headers: Object.fromEntries(Object.entries(many).slice(0, 900)),
    });
    expect(fine.json.statusCode).toBe(200);
    expect(agent.lines.filter((l) => l.includes('"disconnected from hub"'))).toEqual([]);
  });

  it('any method is relayed (WebDAV PROPFIND and MKCOL, as SharePoint Server takes them; QUERY), except TRACE', async () => {
    // Before: only GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS; PROPFIND got 400 "not allowed on this route".
    const xml = Buffer.from('<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>');
    for (const method of ['PROPFIND', 'MKCOL', 'QUERY']) {
      const r = await nodeHttp(proxyUrl('/echo/dav/folder'), {
        method,
        body: xml,
        headers: { authorization: `Bearer ${token}`, depth: '1', 'content-type': 'application/xml' },
      });
      expect(r.status, method).toBe(200);
      expect(r.headers['x-echo-method']).toBe(method);
      expect(r.data.equals(xml)).toBe(true);
      expect(echo.received.at(-1)).toMatchObject({ method, url: '/svc/echo/dav/folder', bytes: xml.length });
      expect(echo.received.at(-1)!.headers.depth).toBe('1');
    }
    const trace = await nodeHttp(proxyUrl('/echo/trace'), { method: 'TRACE', headers: { authorization: `Bearer ${token}` } });
    expect(trace.status).toBe(400);
    expect(JSON.parse(trace.data.toString()).error.message).toBe('caller -> hub: method TRACE is not relayed');
  });

  it('a path whose first segment has a colon (urn:…, name:value) is a path under the base, not a URL of its own', async () => {
    // Before: "/proxy/urn:isbn:123" was read as the absolute URL "urn:isbn:123" and refused (400 UrlNotAllowed).
    for (const path of ['/urn:isbn:0451450523/info', '/user:42', '//double//slashes']) {
      const r = await request(proxyUrl(path), { headers: { authorization: `Bearer ${token}` } });
      await r.body.text();
      expect(r.statusCode, path).toBe(200);
      expect(echo.received.at(-1)!.url).toBe(`/svc/${path.replace(/^\/+/, '')}`);
    }
    // and a full URL in the path is still a path: it cannot leave the base
    const out = await request(proxyUrl('/http://other.example/x'), { headers: { authorization: `Bearer ${token}` } });
    await out.body.text();
    expect(out.statusCode).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/svc/http://other.example/x');
  });

  it('repeated answer headers (two Set-Cookie, two WWW-Authenticate challenges) all reach the caller', async () => {
    // Regression: Node's writeHead kept only the last value of a repeated name once the hub had set its own headers.
    const r = await request(
      proxyUrl('/status?code=401&set=set-cookie:a=1;%20Path=/&set=Set-Cookie:b=2&set=www-authenticate:Negotiate&set=www-authenticate:NTLM'),
      { headers: { authorization: `Bearer ${token}` } },
    );
    await r.body.text();
    expect(r.statusCode).toBe(401);
    expect(r.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2']);
    expect(r.headers['www-authenticate']).toEqual(['Negotiate', 'NTLM']);
    expect(r.headers['x-request-id']).toMatch(/.+/);
  });

  it('a service response head up to 32 KiB passes; over it, or too large to relay, is a coded 502 and the agent keeps serving', async () => {
    // Regression: the agent's HTTP client took 16 KiB (undici's default, documented nowhere) and answered an
    // opaque "failed (UND_ERR_HEADERS_OVERFLOW)".
    const client = new Agent({ maxHeaderSize: 64 * 1024 }); // this test's own client takes big heads too
    const get = async (q: string) => {
      const r = await request(proxyUrl(`/status?code=200&${q}`), { headers: { authorization: `Bearer ${token}` }, dispatcher: client });
      return { r, text: await r.body.text() };
    };
    const ok = await get('big=20000');
    expect(ok.r.statusCode).toBe(200);
    expect(String(ok.r.headers['x-big']).length).toBe(20000);
    const over = await get('big=40000');
    expect(over.r.statusCode).toBe(502);
    expect(over.r.headers['x-gatehouse-error']).toBe('BadGateway');
    expect(JSON.parse(over.text).error.message).toMatch(/answered with a head over the 32 KiB limit for response headers/);
    // headers under the head limit whose encoding is over the frame limit (é, one byte from the service, takes
    // two in UTF-8): failed cleanly, not an agent fault
    const quoted = await get('many=990&quotes=31&char=%C3%A9');
    expect(quoted.r.statusCode).toBe(502);
    expect(JSON.parse(quoted.text).error.message).toMatch(/the service's response headers are too large to relay \(over 64 KiB as the relay encodes them\)/);
    // more header lines than the relay carries
    const many = await get('many=12000');
    expect(many.r.statusCode).toBe(502);
    expect(JSON.parse(many.text).error.message).toBe(
      "agent -> service: the agent reported: the service's answer has 12003 header lines, over the 1000 the relay carries",
    );
    expect((await get('set=x-after:1')).r.statusCode).toBe(200);
    await client.close();
  });

  it("the hub's own answer headers (request id, RateLimit-*) are kept when the service sends the same names", async () => {
    // Regression: the service's x-request-id and RateLimit-* replaced the hub's (SPEC 5: every response carries
    // the hub's throttle headers).
    const r = await request(proxyUrl('/status?code=200&set=ratelimit-limit:5&set=RateLimit-Remaining:4&set=x-request-id:svc-own&set=x-other:kept'), {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'caller-rl-1' },
    });
    await r.body.text();
    expect(r.headers['x-request-id']).toBe('caller-rl-1');
    expect(r.headers['ratelimit-limit']).toBe('100');
    expect(Number(r.headers['ratelimit-remaining'])).toBeLessThan(100);
    expect(r.headers['x-other']).toBe('kept');
  });

  it('hub-side failures carry x-gatehouse-error', async () => {
    const noToken = await request(proxyUrl('/x'));
    expect(noToken.statusCode).toBe(401);
    expect(noToken.headers['x-gatehouse-error']).toBe('Unauthorized');
    await noToken.body.text();
    const dotDot = await request(proxyUrl('/..%2fsecret'), { headers: { authorization: `Bearer ${token}` } });
    expect(dotDot.statusCode).toBe(400);
    expect(dotDot.headers['x-gatehouse-error']).toBe('UrlNotAllowed');
    expect(((await dotDot.body.json()) as { error: { code: string } }).error.code).toBe('UrlNotAllowed');
    const long = await request(proxyUrl(`/${'a'.repeat(2100)}`), { headers: { authorization: `Bearer ${token}` } });
    expect(long.statusCode).toBe(414);
    expect(long.headers['x-gatehouse-error']).toBe('UriTooLong');
    await long.body.text();
  });

  it('Expect: 100-continue (curl sends it with large bodies): the hub answers 100 itself and the body reaches the service', async () => {
    // Regression: the header was forwarded, the agent's HTTP client refused it (UND_ERR_NOT_SUPPORTED): 502.
    const body = patternBytes(2 * 1024 * 1024, 9);
    const answer = await new Promise<{ status: number; continued: boolean; data: Buffer }>((resolve, reject) => {
      const req = httpRequest(proxyUrl('/echo/expect'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, expect: '100-continue', 'content-length': String(body.length) },
      });
      let continued = false;
      req.on('continue', () => {
        continued = true;
        req.end(body);
      });
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, data: Buffer.concat(parts) }));
      });
      req.on('error', reject);
    });
    expect(answer.continued).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.data.equals(body)).toBe(true);
    expect(echo.received.at(-1)!.headers.expect).toBeUndefined();
  });

  it("an HTTP/2 upgrade offer (Upgrade: h2c, as curl --http2 and Java's HttpClient send) is ignored: the call is served as HTTP/1.1", async () => {
    // Regression: every request offering an upgrade went to the hub's WebSocket handler and got a bare 404.
    const offer = { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' };
    const plain = (url: string, method: string, headers: Record<string, string>, body?: Buffer) => nodeHttp(url, { method, headers, body });
    const auth = { authorization: `Bearer ${token}` };
    const body = patternBytes(300 * 1024, 21);
    const up = await plain(proxyUrl('/echo/h2c'), 'POST', { ...auth, ...offer }, body);
    expect(up.status).toBe(200);
    expect(up.data.equals(body)).toBe(true);
    expect(echo.received.at(-1)!.headers.upgrade).toBeUndefined();
    const api2 = await plain(`${hub.url}/v1/connections/${connId}`, 'GET', { ...auth, ...offer });
    expect(api2.status).toBe(200);
    expect(JSON.parse(api2.data.toString()).id).toBe(connId);
    // a WebSocket is only for agents: anything else gets a coded refusal
    const ws = await plain(proxyUrl('/socket'), 'GET', {
      ...auth,
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
    expect(ws.status).toBe(400);
    expect(JSON.parse(ws.data.toString()).error.code).toBe('InvalidRequest');
  });

  it('a hub-side 5xx is logged once with its code and message (one "msg" key per line)', async () => {
    const offline = await newConnection(hub, (await api(hub.url, token, 'POST', '/v1/gateways', { name: 'nobody-home' })).json.id);
    const r = await request(proxyUrl('/x', offline), { headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(502);
    await r.body.text();
    const requestId = String(r.headers['x-request-id']);
    const line = await hub.waitForLine((l) => l.includes('"call failed"') && l.includes(requestId));
    expect(line.match(/"msg":/g)).toHaveLength(1);
    expect(JSON.parse(line)).toMatchObject({ code: 'GatewayOffline', why: expect.stringMatching(/has no online member/), msg: 'call failed' });
  });

  it('a request head over the header limit gets 431 and the hub keeps serving', async () => {
    const r = await request(proxyUrl('/x'), { headers: { authorization: `Bearer ${token}`, 'x-big': 'a'.repeat(40 * 1024) } });
    expect(r.statusCode).toBe(431);
    await r.body.text();
    const ok = await request(proxyUrl('/status?code=200'), { headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
  });

  it('is throttled like invoke: the 101st call gets 429', async () => {
    const id = await newConnection();
    for (let i = 0; i < 100; i++) {
      const r = await request(proxyUrl('/n', id), { headers: { authorization: `Bearer ${token}` } });
      await r.body.text();
      expect(r.statusCode).toBe(200);
    }
    const over = await request(proxyUrl('/n', id), { headers: { authorization: `Bearer ${token}` } });
    expect(over.statusCode).toBe(429);
    expect(over.headers['x-gatehouse-error']).toBe('TooManyRequests');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    await over.body.text();
  });

  it('a caller that disconnects cancels the backend call', async () => {
    const before = echo.abandoned;
    const ac = new AbortController();
    const pending = request(proxyUrl('/stall'), { headers: { authorization: `Bearer ${token}` }, signal: ac.signal }).catch(() => 'aborted');
    await expect.poll(() => echo.stalled).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect(await pending).toBe('aborted');
    await expect.poll(() => echo.abandoned, { timeout: 5000 }).toBe(before + 1);
  });

  it('a service that goes quiet after its head is cut off after the idle time', async () => {
    const before = echo.abandoned;
    const r = await request(proxyUrl('/headstall'), { headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(200);
    await expect(r.body.text()).rejects.toThrow();
    await expect.poll(() => echo.abandoned, { timeout: 5000 }).toBe(before + 1);
  });

  it('limits: a declared body over the raw limit is 413 at once, a chunked one over it is 413 too, an answer declared over it is a 502 before its head', async () => {
    const small = await startHub(entra, { GATEHOUSE_MAX_RAW_BODY: '1MiB' });
    try {
      const g = await gatewayWithAgent(small.url, token, [`${echo.url}/`]);
      const id = await newConnection(small, g.gatewayId);
      // The caller, still uploading, gets the 413 (regression: the hub closed at once, and most such callers
      // saw EPIPE or ECONNRESET instead; now it lingers, reading and dropping, before it closes).
      const big = Buffer.alloc(16 * 1024 * 1024);
      for (let i = 0; i < 5; i++) {
        const r = await request(proxyUrl('/slow?ms=1', id, small), { method: 'POST', body: big, headers: { authorization: `Bearer ${token}` } });
        expect(r.statusCode).toBe(413);
        expect(r.headers['x-gatehouse-error']).toBe('PayloadTooLarge');
        expect(r.headers.connection).toBe('close');
        await r.body.text();
      }
      const chunks = async function* () {
        for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024);
      };
      const before = echo.received.length;
      for (let i = 0; i < 3; i++) {
        const c = await request(proxyUrl('/slow?ms=1', id, small), {
          method: 'POST',
          body: Readable.from(chunks()),
          headers: { authorization: `Bearer ${token}` },
        });
        expect(c.statusCode).toBe(413);
        await c.body.text();
      }
      expect(echo.received.length).toBe(before);
      // An answer declaring a length over the limit is a 502 naming it before any of its head (follow-up 4: it was
      // a 200 cut off later); one at the limit arrives whole.
      for (const bytes of [1024 * 1024 + 1, 3 * 1024 * 1024]) {
        const res = await request(proxyUrl(`/big?bytes=${bytes}`, id, small), { headers: { authorization: `Bearer ${token}` } });
        const text = await res.body.text();
        expect([res.statusCode, res.headers['x-gatehouse-error']]).toEqual([502, 'BadGateway']);
        expect(JSON.parse(text).error.message).toMatch(/Content-Length is over the raw route's 1048576-byte limit/);
      }
      const under = await request(proxyUrl(`/big?bytes=${1024 * 1024}`, id, small), { headers: { authorization: `Bearer ${token}` } });
      expect(Buffer.from(await under.body.arrayBuffer()).length).toBe(1024 * 1024);
      // and the hub still serves
      const ok = await request(proxyUrl('/status?code=200', id, small), { headers: { authorization: `Bearer ${token}` } });
      expect(ok.statusCode).toBe(200);
      await ok.body.text();
      await g.agent.stop();
    } finally {
      await small.stop();
    }
  });

  it('1 GiB streams through with bounded memory in hub and agent', async () => {
    const total = 1024 * 1024 * 1024;
    const chunk = patternBytes(1024 * 1024, 21);
    const sent = createHash('sha256');
    async function* upload() {
      for (let i = 0; i < total / chunk.length; i++) {
        sent.update(chunk);
        yield chunk;
      }
    }
    const hubBefore = hub.peakRss();
    const agentBefore = agent.peakRss();
    const res = await request(proxyUrl('/echo/gig'), {
      method: 'POST',
      body: Readable.from(upload()),
      headers: { authorization: `Bearer ${token}`, 'content-length': String(total) },
    });
    const got = createHash('sha256');
    let n = 0;
    for await (const c of res.body) {
      got.update(c);
      n += c.length;
    }
    expect(res.statusCode).toBe(200);
    expect(n).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    const hubGrowth = hub.peakRss() - hubBefore;
    const agentGrowth = agent.peakRss() - agentBefore;
    process.stdout.write(`1 GiB raw route: hub peak RSS +${(hubGrowth / 2 ** 20).toFixed(0)} MiB, agent +${(agentGrowth / 2 ** 20).toFixed(0)} MiB\n`);
    expect(hubGrowth).toBeLessThan(256 * 2 ** 20);
    expect(agentGrowth).toBeLessThan(256 * 2 ** 20);
  }, 120_000);

  it("an upload that outlasts the connection's timeout goes through while it moves; one that stops is cut after the idle time", async () => {
    // Before: the timeout (3 s here) ran from the start, so a raw-route upload still moving at 3 s got 504 from
    // the hub ("no answer within 3 s") and from the agent ("deadline passed"); a stalled one was held for the
    // whole timeout. Now idle time (2 s) watches the upload and the timeout runs from its end to the head.
    const id = await newConnection(hub, gatewayId, { timeoutSeconds: 3 });
    const upload = (chunks: number, everyMs: number, stopAfter = chunks) =>
      new Promise<string>((resolve) => {
        const sock = connect(hub.port, '127.0.0.1');
        let text = '';
        sock.on('data', (d: Buffer) => {
          text += d.toString('latin1');
        });
        sock.on('close', () => resolve(text));
        sock.on('error', () => {});
        sock.write(
          `POST /v1/connections/${id}/proxy/status HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\nContent-Length: ${chunks}\r\n\r\n`,
        );
        let sent = 0;
        const timer = setInterval(() => {
          if (sent < stopAfter) sock.write('u');
          if (++sent >= chunks) clearInterval(timer);
        }, everyMs);
        setTimeout(() => {
          clearInterval(timer);
          sock.destroy();
          resolve(`${text}(still open after 15 s)`);
        }, 15_000);
      });
    const slow = await upload(12, 500); // 6 s of upload, a byte every 0.5 s
    expect(slow).toMatch(/^HTTP\/1\.1 200 /);
    expect(slow).toContain('status body');
    expect(echo.received.at(-1)!.url).toBe('/svc/status');
    const stalled = await upload(12, 500, 2); // two bytes, then nothing
    expect(stalled).toMatch(/^HTTP\/1\.1 504 /);
    expect(stalled).toContain('the request body moved no further for 2 s');
  }, 30_000);
});
