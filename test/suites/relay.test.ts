// End to end through the real hub and agent processes: methods, binary bodies, header rules, input errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { api, b64, gatewayWithAgent, startHub, type HubProc } from '../helpers/stack.js';
import { connect } from 'node:net';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';
import { TENANT_B, USER_2 } from '../helpers/fake-entra.js';

let echo: EchoServer;
let hub: HubProc;
let token: string;
let stack: StandardStack | undefined;
let gatewayId: string;
let connId: string;

const invoke = (body: unknown, id = connId, t = token) => api(hub.url, t, 'POST', `/v1/connections/${id}/invoke`, body);

beforeAll(async () => {
  stack = await startStandardStack();
  ({ echo, hub, token, gatewayId } = stack);
  const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: `${echo.url}/echo`, gatewayId });
  expect(c.status).toBe(201);
  connId = c.json.id;
});

afterAll(async () => {
  await stack?.stop();
});

describe('invoke through hub and agent', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])('%s round trip keeps binary bytes intact both ways', async (method) => {
    const body = patternBytes(300_000 + method.length, method.charCodeAt(0));
    const r = await invoke({ method, url: 'binary', headers: { 'content-type': 'application/octet-stream' }, body: b64(body) });
    expect(r.status).toBe(200);
    expect(r.json.statusCode).toBe(200);
    expect(r.json.headers['x-echo-method']).toBe(method);
    const back = Buffer.from(r.json.body, 'base64');
    expect(back.equals(body)).toBe(true);
    const seen = echo.received.at(-1)!;
    expect(seen.method).toBe(method);
    expect(seen.url).toBe('/echo/binary');
    expect(seen.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('sends no body when none is given', async () => {
    const r = await invoke({ method: 'GET', url: '/nobody' });
    expect(r.status).toBe(200);
    expect(r.json.body).toBe('');
    expect(echo.received.at(-1)!.bytes).toBe(0);
  });
});

describe('header rules', () => {
  it('drops Cookie, strips hop-by-hop both ways, adds Via', async () => {
    const r = await invoke({
      method: 'POST',
      url: 'headers',
      body: b64('x'),
      headers: {
        cookie: 'secret=1',
        'x-custom': 'kept',
        connection: 'x-conn-listed',
        'x-conn-listed': 'gone',
        'keep-alive': 'timeout=1',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        via: '1.0 upstream',
        expect: '100-continue',
        'x-latin1': 'café',
      },
    });
    expect(r.status).toBe(200);
    const h = echo.received.at(-1)!.headers;
    expect(h.cookie).toBeUndefined();
    expect(h['x-custom']).toBe('kept');
    expect(h['x-latin1']).toBe('café'); // obs-text goes as Latin-1 bytes
    expect(h['x-conn-listed']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h.upgrade).toBeUndefined();
    expect(h['proxy-authorization']).toBeUndefined();
    expect(h.expect).toBeUndefined();
    expect(h.via).toBe('1.0 upstream, 1.1 gatehouse');
    expect(h['x-request-id']).toMatch(/.+/);
    // the service's answer: hop-by-hop (and what its Connection header lists) removed, the rest kept
    expect(r.json.headers['x-hop']).toBeUndefined();
    expect(r.json.headers['keep-alive']).toBeUndefined();
    expect(r.json.headers.connection).toBeUndefined();
    expect(r.json.headers['set-cookie']).toBe('session=abc; Path=/');
  });

  it('passes a caller request id through to the service', async () => {
    await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: 'rid' }, { 'x-request-id': 'trace-123' });
    expect(echo.received.at(-1)!.headers['x-request-id']).toBe('trace-123');
  });
});

describe('bad input gets a coded 4xx and the hub keeps serving', () => {
  it.each([
    ['method outside the five', { method: 'HEAD', url: 'x' }, 400, 'InvalidRequest'],
    ['method TRACE', { method: 'TRACE', url: 'x' }, 400, 'InvalidRequest'],
    ['missing url', { method: 'GET' }, 400, 'InvalidRequest'],
    ['bad base64', { method: 'POST', url: 'x', body: 'not base64!!' }, 400, 'InvalidRequest'],
    ['headers not strings', { method: 'GET', url: 'x', headers: { a: 1 } }, 400, 'InvalidRequest'],
    ['header with CRLF', { method: 'GET', url: 'x', headers: { a: 'b\r\nx-injected: 1' } }, 400, 'InvalidRequest'],
    // Regression: these reached the agent, whose HTTP client refused them: 502 BadGateway instead of the caller's 400
    ['header value beyond Latin-1', { method: 'GET', url: 'x', headers: { a: '日本' } }, 400, 'InvalidRequest'],
    ['header value with a control character', { method: 'GET', url: 'x', headers: { a: 'b\u0001c' } }, 400, 'InvalidRequest'],
    ['url too long', { method: 'GET', url: `x${'a'.repeat(9000)}` }, 414, 'UriTooLong'],
  ])('%s', async (_name, body, status, code) => {
    const r = await invoke(body);
    expect(r.status).toBe(status);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.requestId).toMatch(/.+/);
    expect((await invoke({ method: 'GET', url: 'alive' })).status).toBe(200);
  });

  it('malformed JSON', async () => {
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, '{"method": "GET", ');
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    expect((await invoke({ method: 'GET', url: 'alive' })).status).toBe(200);
  });

  it('unknown route and unknown connection', async () => {
    expect((await api(hub.url, token, 'GET', '/v1/nothing')).json.error.code).toBe('NotFound');
    const r = await invoke({ method: 'GET', url: 'x' }, '00000000-0000-4000-8000-000000000000');
    expect(r.status).toBe(404);
    expect(r.json.error.code).toBe('NotFound');
  });

  it('connection create validation', async () => {
    const bad = [
      { authType: 'Nope', baseResourceUrl: echo.url, gatewayId },
      { authType: 'AnonymousGateway', baseResourceUrl: 'ftp://x', gatewayId },
      { authType: 'AnonymousGateway', baseResourceUrl: 'http://u:p@127.0.0.1/', gatewayId },
      { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: 'no-such' },
      { authType: 'BasicGateway', baseResourceUrl: echo.url, gatewayId, username: 'u' },
    ];
    for (const b of bad) {
      const r = await api(hub.url, token, 'POST', '/v1/connections', b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.json.error.code).toBe('InvalidRequest');
    }
  });

  it('a request body that stalls is refused after the idle time and the connection closed (API routes and invoke)', async () => {
    // Regression: the hub waited for ever for the rest of an API body or of invoke's object (requestTimeout is
    // off for the raw route's long uploads), so a caller could hold connections open indefinitely.
    const quick = await startHub(stack!.entra, { GATEHOUSE_IDLE_TIMEOUT: '1s' });
    try {
      const gw = (await api(quick.url, token, 'POST', '/v1/gateways', { name: 'stall' })).json.id as string;
      const conn = (await api(quick.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw })).json
        .id as string;
      for (const [path, partial] of [
        ['/v1/gateways', '{"name":'],
        [`/v1/connections/${conn}/invoke`, '{"method":"GET",'],
      ]) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(quick.port, '127.0.0.1', () => {
            socket.write(
              `POST ${path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n${partial}`,
            );
          });
          let text = '';
          socket.on('data', (c: Buffer) => {
            text += c.toString();
          });
          socket.on('close', () => resolve(text));
          socket.on('error', reject);
          setTimeout(() => {
            socket.destroy();
            resolve(`${text}(still open after 10 s)`);
          }, 10_000);
        });
        expect(answer, path).toMatch(/^HTTP\/1\.1 400 /);
        expect(answer).toMatch(/"code":"InvalidRequest"/);
        expect(answer).toMatch(/the request body stalled/);
      }
      expect((await api(quick.url, token, 'GET', '/v1/gateways')).status).toBe(200); // and it keeps serving
    } finally {
      await quick.stop();
    }
  });
});

/** Writes each part to a fresh connection (the next part once an answer to the previous one has arrived) and
 *  returns everything the hub sent until it closed the connection (at most 10 s). */
function exchange(port: number, parts: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(parts.shift()!));
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (parts.length && /\r\n\r\n/.test(text)) socket.write(parts.shift()!);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      resolve(`${text}(still open after 10 s)`);
    }, 10_000);
  });
}

describe("requests Node's HTTP parser refuses get the hub's coded error, not a bare status line", () => {
  const expectCoded = (answer: string, status: number, message: RegExp) => {
    expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(answer).toMatch(/\r\nx-gatehouse-error: InvalidRequest\r\n/);
    expect(answer).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body.error.code).toBe('InvalidRequest');
    expect(body.error.message).toMatch(message);
  };

  it('a malformed header: 400 InvalidRequest naming the fault, and the hub keeps serving', async () => {
    expectCoded(await exchange(hub.port, ['GET /healthz HTTP/1.1\r\nHost: hub\r\nBad Header: x\r\n\r\n']), 400, /malformed HTTP request: Invalid header/);
    expect((await api(hub.url, token, 'GET', '/v1/gateways')).status).toBe(200);
  });

  it('a request head over GATEHOUSE_MAX_HEADER_BYTES: 431 naming the limit', async () => {
    expectCoded(
      await exchange(hub.port, [`GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`]),
      431,
      /over 32768 bytes \(GATEHOUSE_MAX_HEADER_BYTES\)/,
    );
  });

  it('a malformed request on a reused connection is answered too (Node sent nothing there)', async () => {
    const answer = await exchange(hub.port, [
      'GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: hub\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expectCoded(answer.slice(answer.indexOf('HTTP/1.1 400')), 400, /malformed HTTP request/);
  });

  it('an absolute-form request target is served by its path (RFC 9112 3.2.2; it got 404 NotFound)', async () => {
    const answer = await exchange(hub.port, [
      `GET http://hub.example/v1/connections/${connId}/proxy/absolute-form?q=1 HTTP/1.1\r\nHost: hub.example\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(echo.received.at(-1)!.url).toBe('/echo/absolute-form?q=1');
  });

  it('an HTTP/1.1 request without Host gets the coded 400 (Node answered a bare 400 with an empty body)', async () => {
    expectCoded(await exchange(hub.port, ['GET /healthz HTTP/1.1\r\n\r\n']), 400, /must carry a Host header/);
    expect(await exchange(hub.port, ['GET /healthz HTTP/1.0\r\n\r\n'])).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('a request head that stalls: 408 RequestTimeout naming GATEHOUSE_HEAD_TIMEOUT (10 s by default; it was 30-60 s)', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(hub.port, '127.0.0.1', () => socket.write('GET /v1/gateways HTTP/1.1\r\nHost: hub\r\nX-Slow: '));
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
      });
      socket.on('close', () => resolve(text));
      setTimeout(() => {
        socket.destroy();
        resolve(`${text}(still open after 25 s)`);
      }, 25_000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/\r\nx-gatehouse-error: RequestTimeout\r\n/);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    expect(body.error).toMatchObject({
      code: 'RequestTimeout',
      message: 'caller -> hub: the request line and headers did not arrive within 10 s (GATEHOUSE_HEAD_TIMEOUT)',
    });
  }, 30_000);

  it('a transfer coding other than chunked: the coded 400, nothing reaches the service (gzip, chunked was relayed still gzipped; gzip alone closed the connection without a word)', async () => {
    const before = echo.received.length;
    for (const te of ['gzip, chunked', 'gzip', 'identity']) {
      const answer = await exchange(hub.port, [
        `POST /v1/connections/${connId}/proxy/coded HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: ${te}\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      ]);
      expectCoded(answer, 400, /other transfer codings \(Transfer-Encoding: gzip and the like\) are not supported/);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    }
    expect(echo.received.length).toBe(before);
    // Chunked alone (any case) goes through.
    const ok = await exchange(hub.port, [
      `POST /v1/connections/${connId}/proxy/coded HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: Chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    ]);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
    expect(echo.received.at(-1)).toMatchObject({ url: '/echo/coded', bytes: 5 });
  });

  it('CONNECT gets the coded 400 (Node closed the connection without a word)', async () => {
    expectCoded(await exchange(hub.port, [`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\nHost: 127.0.0.1:${echo.port}\r\n\r\n`]), 400, /CONNECT is not supported/);
  });

  it('an Expect other than 100-continue is ignored (Node answered a bare 417) and not passed on', async () => {
    const answer = await exchange(hub.port, [
      `GET /v1/connections/${connId}/proxy/odd-expect HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nExpect: x-odd\r\nConnection: close\r\n\r\n`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    const seen = echo.received.at(-1)!;
    expect(seen.url).toMatch(/odd-expect$/);
    expect(seen.headers.expect).toBeUndefined();
  });
});

describe('a service that answers before the request body has all arrived (an early 401 or 413)', () => {
  // Regression: the hub stopped reading the rest of the body and never read the connection again, so the
  // caller's next request on it got no answer (undici's callers saw ECONNRESET).
  const upload = (path: string, bytes: number) =>
    `POST ${path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\n` + `Content-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`;
  const big = 4 * 1024 * 1024;

  it('raw route: the answer arrives, the rest of the body is read and dropped, and the connection serves the next request', async () => {
    const answer = await exchange(hub.port, [
      upload(`/v1/connections/${connId}/proxy/early`, big) + 'u'.repeat(big),
      'GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/too large/);
    expect(answer).toMatch(/HTTP\/1\.1 200 OK[\s\S]*"status":"ok"/);
  });
});

describe('URL containment at the hub', () => {
  const port = () => echo.port;
  it.each([
    ['other host', () => `http://localhost:${port()}/echo/x`],
    ['other port', () => `http://127.0.0.1:${port() + 1}/echo/x`],
    ['other scheme', () => `https://127.0.0.1:${port()}/echo/x`],
    ['.. escape', () => '../secret'],
    ['%2e%2e escape', () => '%2e%2e/secret'],
    ['absolute .. escape', () => `http://127.0.0.1:${port()}/echo/../secret`],
    ['userinfo', () => `http://user:pw@127.0.0.1:${port()}/echo/x`],
    ['host suffix', () => `http://127.0.0.1.evil:${port()}/echo/x`],
    ['backslash', () => '..\\secret'],
    ['%5c', () => '..%5csecret'],
    ['prefix without segment boundary', () => `http://127.0.0.1:${port()}/echox`],
  ])('%s is refused with UrlNotAllowed', async (_name, url) => {
    const before = echo.received.length;
    const r = await invoke({ method: 'GET', url: url() });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('UrlNotAllowed');
    expect(echo.received.length).toBe(before);
  });

  it.each([
    ['relative', 'a/b', '/echo/a/b'],
    ['relative with leading slash', '/a/b?q=1', '/echo/a/b?q=1'],
    ['absolute inside', () => `${echo.url}/echo/in`, '/echo/in'],
    ['the base itself', () => `${echo.url}/echo`, '/echo'],
    ['dot segments that stay inside', 'a/../b', '/echo/b'],
  ])('%s is allowed', async (_name, url, path) => {
    const r = await invoke({ method: 'GET', url: typeof url === 'function' ? url() : url });
    expect(r.status).toBe(200);
    expect(echo.received.at(-1)!.url).toBe(path);
  });
});

describe('the invoke object is read as a stream', () => {
  it('body before method and url still works (buffered)', async () => {
    const body = patternBytes(50_000, 5);
    const raw = `{"body":"${b64(body)}","url":"first","method":"POST"}`;
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, raw);
    expect(r.status).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/echo/first');
    expect(echo.received.at(-1)!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('a slash escaped as \\/ in the base64 text is decoded', async () => {
    const body = Buffer.from([0xff, 0xff, 0xff, 0xfb, 0xef, 0xbe]); // base64 "////++++"
    const raw = `{"method":"POST","url":"esc","headers":{},"body":"${b64(body).replace(/\//g, '\\/')}"}`;
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, raw);
    expect(r.status).toBe(200);
    expect(Buffer.from(r.json.body, 'base64').equals(body)).toBe(true);
  });

  it('base64 wrapped into lines (the `base64` tool, MIME) or spaced is decoded; whitespace is ignored as .NET does', async () => {
    // Before: 400 "body must be a base64 string" for the output of `base64 file`, which Microsoft's gateway takes.
    const body = patternBytes(3000, 17);
    const wrapped = b64(body).replace(/.{76}/g, '$&\r\n');
    for (const text of [wrapped, `${wrapped}\n`, b64(body).replace(/.{4}/g, '$& '), `\t${b64(body)}`]) {
      const r = await invoke({ method: 'POST', url: 'wrapped', headers: {}, body: text });
      expect(r.status, r.text).toBe(200);
      expect(echo.received.at(-1)!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
      expect(Buffer.from(r.json.body, 'base64').equals(body)).toBe(true);
    }
    // the same body before the other fields (read whole first)
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, JSON.stringify({ body: wrapped, method: 'POST', url: 'wrapped-first' }));
    expect(r.status, r.text).toBe(200);
    expect(echo.received.at(-1)!.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    // other characters are still refused
    expect((await invoke({ method: 'POST', url: 'x', headers: {}, body: `${b64(body).slice(0, 8)}\u0000${b64(body).slice(8)}` })).status).toBe(400);
    expect((await invoke({ method: 'POST', url: 'x', headers: {}, body: 'QQ==\nQUFB' })).status).toBe(400);
  });

  it('a JSON body that starts with a UTF-8 byte order mark (PowerShell 5, Notepad) is read, for invoke and the API', async () => {
    // Before: 400 "the body is not valid JSON".
    const bom = '\ufeff';
    const r = await api(
      hub.url,
      token,
      'POST',
      `/v1/connections/${connId}/invoke`,
      `${bom}{"method":"POST","url":"bom","headers":{},"body":"${b64('with bom')}"}`,
    );
    expect(r.status, r.text).toBe(200);
    expect(echo.received.at(-1)!.url).toBe('/echo/bom');
    expect(Buffer.from(r.json.body, 'base64').toString()).toBe('with bom');
    const g = await api(hub.url, token, 'POST', '/v1/gateways', `${bom}{"name":"bom-gateway"}`);
    expect(g.status, g.text).toBe(201);
    expect(g.json.name).toBe('bom-gateway');
    // anywhere else it is still not JSON
    expect((await api(hub.url, token, 'POST', '/v1/gateways', `{"name":"x"}${bom}`)).status).toBe(400);
  });

  it('bodies the hub reads whole are bounded across calls (GATEHOUSE_MAX_HELD_BODIES): over it 503, and the bytes come back when a call ends', async () => {
    // Before: each call could hold up to GATEHOUSE_MAX_BODY (a body before method/url/headers is read whole),
    // with no bound on their sum: a handful of callers could run the hub out of memory.
    const small = await startHub(stack!.entra, { GATEHOUSE_MAX_HELD_BODIES: '3MiB', GATEHOUSE_MAX_HELD_BODIES_SHARE: '100%' });
    const gw = await gatewayWithAgent(small.url, token, [`${echo.url}/`], 'held');
    try {
      const id = (await api(small.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.gatewayId }))
        .json.id;
      const bodyFirst = (url: string) => `{"body":"${b64(patternBytes(2 * 1024 * 1024, 3))}","method":"POST","url":"${url}"}`;
      const slow = api(small.url, token, 'POST', `/v1/connections/${id}/invoke`, bodyFirst('slow?ms=1500&held=1'));
      // the first body has been read whole and sent: the hub holds it while the service is slow
      await expect.poll(() => echo.received.some((r) => r.url === '/slow?ms=1500&held=1'), { timeout: 10_000, interval: 20 }).toBe(true);
      const refused = await api(small.url, token, 'POST', `/v1/connections/${id}/invoke`, bodyFirst('second'));
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json.error).toMatchObject({ code: 'ServiceUnavailable' });
      expect(refused.json.error.message).toMatch(/GATEHOUSE_MAX_HELD_BODIES, 3145728 bytes/);
      expect((await slow).json.statusCode).toBe(200);
      const after = await api(small.url, token, 'POST', `/v1/connections/${id}/invoke`, bodyFirst('third'));
      expect(after.status, after.text).toBe(200);
      expect(echo.received.at(-1)!.url).toBe('/third');
    } finally {
      await gw.agent.stop();
      await small.stop();
    }
  });

  it('held-body pool shared across tenants: one caller holding body-first invokes to a slow service gets 503 past its share (GATEHOUSE_MAX_HELD_BODIES_SHARE), and another tenant is still served', async () => {
    // Before: GATEHOUSE_MAX_HELD_BODIES was one pool; five 1.5 MiB bodies of one caller, held while the service
    // was slow, took 7.5 of its 8 MiB and the other tenant's body-first invoke got 503.
    const small = await startHub(stack!.entra, { GATEHOUSE_MAX_HELD_BODIES: '8MiB' }); // share: 25 %, 2 MiB
    const other = await stack!.entra.token({ tid: TENANT_B, oid: USER_2 });
    const [gwA, gwB] = [
      await gatewayWithAgent(small.url, token, [`${echo.url}/`], 'held-a'),
      await gatewayWithAgent(small.url, other, [`${echo.url}/`], 'held-b'),
    ];
    try {
      const conn = async (t: string, gw: string) =>
        (await api(small.url, t, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw })).json.id as string;
      const [a, b] = [await conn(token, gwA.gatewayId), await conn(other, gwB.gatewayId)];
      const bodyFirst = (url: string) => `{"body":"${b64(patternBytes(1536 * 1024, 4))}","method":"POST","url":"${url}"}`;
      const held = [1, 2, 3, 4, 5].map((i) => api(small.url, token, 'POST', `/v1/connections/${a}/invoke`, bodyFirst(`slow?ms=6000&tenant=a${i}`)));
      // One of A's bodies is held while the service is slow; the other four are refused at once.
      const statuses: number[] = [];
      for (const p of held) void p.then((r) => statuses.push(r.status));
      await expect.poll(() => echo.received.filter((r) => r.url.includes('tenant=a')).length, { timeout: 15_000, interval: 20 }).toBe(1);
      await expect.poll(() => statuses.filter((x) => x === 503).length, { timeout: 15_000, interval: 20 }).toBe(4);
      // A's share is full; tenant B's body-first invoke is served from the rest of the pool.
      const theirs = await api(small.url, other, 'POST', `/v1/connections/${b}/invoke`, bodyFirst('tenant-b'));
      expect(theirs.status, theirs.text).toBe(200);
      expect(echo.received.at(-1)!.url).toBe('/tenant-b');
      const answers = await Promise.all(held);
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of answers.filter((x) => x.status === 503)) {
        expect(r.json.error.code).toBe('ServiceUnavailable');
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json.error.message).toMatch(
          /^hub: this caller holds as many invoke bodies in memory as one caller may \(GATEHOUSE_MAX_HELD_BODIES_SHARE, 2097152 bytes\)/,
        );
      }
    } finally {
      await gwA.agent.stop();
      await gwB.agent.stop();
      await small.stop();
    }
  }, 60_000);

  it('answers up to 1 MiB, and request bodies in the usual order, are read whole within GATEHOUSE_MAX_HELD_BODIES; larger ones, or ones the bound has no room for, stream', async () => {
    const small = await startHub(stack!.entra, { GATEHOUSE_MAX_HELD_BODIES: '512KiB', GATEHOUSE_MAX_HELD_BODIES_SHARE: '100%' });
    const gw = await gatewayWithAgent(small.url, token, [`${echo.url}/`], 'held-answers');
    try {
      const id = (await api(small.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.gatewayId }))
        .json.id;
      const answer = async (bytes: number) => {
        const r = await api(small.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: `big?bytes=${bytes}` });
        expect(r.status, r.text).toBe(200);
        expect(Buffer.from(r.json.body as string, 'base64').equals(patternBytes(bytes, 11))).toBe(true);
        return r.headers['transfer-encoding'] === 'chunked' ? 'streamed' : 'whole';
      };
      expect(await answer(400 * 1024)).toBe('whole');
      expect(await answer(600 * 1024)).toBe('streamed'); // under 1 MiB, over what the hub may hold
      expect(await answer(400 * 1024)).toBe('whole'); // the share came back
      // A request body in the usual order that the bound has no room for streams to the service (it was a 503).
      const body = patternBytes(600 * 1024, 7);
      const up = await api(small.url, token, 'POST', `/v1/connections/${id}/invoke`, {
        method: 'POST',
        url: 'echo/held-up',
        headers: { 'content-type': 'application/octet-stream' },
        body: b64(body),
      });
      expect(up.status, up.text).toBe(200);
      const seen = echo.received.at(-1)!;
      expect(seen).toMatchObject({ url: '/echo/held-up', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
      expect(seen.headers['transfer-encoding']).toBe('chunked');
    } finally {
      await gw.agent.stop();
      await small.stop();
    }
  });

  it('a streamed body (over 1 MiB) goes out with the Content-Length given in headers, not chunked (services that answer 411); the body must match it', async () => {
    // Before: every body over 1 MiB reached the service with Transfer-Encoding: chunked, whatever headers said.
    const body = patternBytes(2 * 1024 * 1024 + 3, 5);
    const r = await invoke({
      method: 'PUT',
      url: 'sized',
      headers: { 'Content-Length': String(body.length), 'content-type': 'application/octet-stream' },
      body: b64(body),
    });
    expect(r.status, r.text).toBe(200);
    const seen = echo.received.at(-1)!;
    expect(seen).toMatchObject({ url: '/echo/sized', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(seen.headers['content-length']).toBe(String(body.length));
    expect(seen.headers['transfer-encoding']).toBeUndefined();
    // Without it the body still streams chunked.
    expect((await invoke({ method: 'PUT', url: 'unsized', headers: {}, body: b64(body) })).status).toBe(200);
    expect(echo.received.at(-1)!.headers['transfer-encoding']).toBe('chunked');

    // A body longer or shorter than promised fails before the service has a complete request.
    const before = echo.received.length;
    const longer = await invoke({ method: 'PUT', url: 'slow?ms=10', headers: { 'content-length': String(body.length - 1) }, body: b64(body) });
    expect(longer.status, longer.text).toBe(400);
    expect(longer.json.error.message).toBe(`caller -> hub: the body is longer than the ${body.length - 1} bytes its Content-Length header gives`);
    const shorter = await invoke({ method: 'PUT', url: 'slow?ms=10', headers: { 'content-length': String(body.length + 10) }, body: b64(body) });
    expect(shorter.status, shorter.text).toBe(400);
    expect(shorter.json.error.message).toBe(
      `caller -> hub: the body is ${body.length} bytes, shorter than the ${body.length + 10} its Content-Length header gives`,
    );
    await new Promise((res) => setTimeout(res, 300));
    expect(echo.received.length).toBe(before);

    // A small body is read whole and sent with its own length, whatever headers say (as before).
    expect((await invoke({ method: 'POST', url: 'small', headers: { 'content-length': '99' }, body: b64('hello') })).status).toBe(200);
    expect(echo.received.at(-1)!.headers['content-length']).toBe('5');
    // A value that is no length is refused by name; so is one over the body limit.
    const bad = await invoke({ method: 'POST', url: 'x', headers: { 'content-length': '12abc' }, body: b64('hello') });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe('caller -> hub: header Content-Length must be a whole number of bytes');
    const twice = await invoke({ method: 'POST', url: 'x', headers: { 'content-length': '5', 'Content-Length': '6' }, body: b64('hello') });
    expect(twice.json.error.message).toBe('caller -> hub: headers give Content-Length twice, with different values');
    const huge = await invoke({ method: 'POST', url: 'x', headers: { 'content-length': String(10 * 1024 ** 3) }, body: b64('hello') });
    expect(huge.status).toBe(413);
  });

  it('bad base64 deep inside a streamed body: 400, the service never sees a complete request', async () => {
    const good = b64(patternBytes(3 * 1024 * 1024, 9));
    const raw = `{"method":"POST","url":"slow?ms=10","headers":{},"body":"${good.slice(0, -8)}!!!!${good.slice(-4)}"}`;
    const before = echo.received.length;
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, raw);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequest');
    await new Promise((res) => setTimeout(res, 300));
    expect(echo.received.length).toBe(before);
    expect((await invoke({ method: 'GET', url: 'alive' })).status).toBe(200);
  });

  it('a second body member is refused by name', async () => {
    // Before: 400 "body must be a base64 string", about a body that was one.
    const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, `{"method":"POST","url":"x","body":"${b64('a')}","body":"${b64('b')}"}`);
    expect(r.status).toBe(400);
    expect(r.json.error.message).toBe('caller -> hub: body must appear once');
  });

  it('padding in the middle is refused', async () => {
    const r = await invoke({ method: 'POST', url: 'x', headers: {}, body: 'QQ==QUFB' });
    expect(r.status).toBe(400);
  });

  it('bodyEncoding base64 sends the base64 text, as the connector documents', async () => {
    const c = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      baseResourceUrl: `${echo.url}/echo`,
      gatewayId,
      bodyEncoding: 'base64',
    });
    const body = patternBytes(2 * 1024 * 1024 + 1, 2);
    const r = await api(hub.url, token, 'POST', `/v1/connections/${c.json.id}/invoke`, { method: 'POST', url: 'text', headers: {}, body: b64(body) });
    expect(r.status).toBe(200);
    expect(Buffer.from(r.json.body, 'base64').toString()).toBe(b64(body));
  });
});

describe('HeldBodies (GATEHOUSE_MAX_HELD_BODIES and its per-caller, per-tenant, per-gateway, per-connection share)', () => {
  it('bounds each caller, tenant, gateway and connection to its share and the hub to the pool; a released call takes nothing more', async () => {
    const { HeldBodies } = await import('../../packages/hub/dist/relay/invoke-body.js');
    const pool = new HeldBodies(100, 25);
    const a1 = pool.share({ tenant: 'a', caller: 'a', gateway: 'g1', connection: 'c1' });
    expect(a1.tryTake(25)).toBe(true);
    expect(a1.tryTake(1)).toBe(false);
    // Same caller on another gateway and connection: the caller's share is full.
    expect(() => pool.share({ tenant: 'a', caller: 'a', gateway: 'g2', connection: 'c2' }).take(1)).toThrow(
      /this caller holds .* \(GATEHOUSE_MAX_HELD_BODIES_SHARE, 25 bytes\)/,
    );
    // Another caller of the same tenant, on its own gateway and connection: the tenant's share is full (red team B1).
    expect(() => pool.share({ tenant: 'a', caller: 'a2', gateway: 'g-a2', connection: 'c-a2' }).take(1)).toThrow(
      /this caller's tenant holds .* one tenant may \(GATEHOUSE_MAX_HELD_BODIES_SHARE, 25 bytes\)/,
    );
    // Another caller on the same gateway: the gateway's share is full.
    expect(() => pool.share({ tenant: 'b', caller: 'b', gateway: 'g1', connection: 'c3' }).take(1)).toThrow(/gateway g1 holds/);
    // Another caller, gateway and connection: served; four of them fill the pool.
    const others = ['b', 'c', 'd'].map((c) => pool.share({ tenant: c, caller: c, gateway: `g-${c}`, connection: `c-${c}` }));
    for (const o of others) expect(o.tryTake(25)).toBe(true);
    expect(pool.heldBytes).toBe(100);
    expect(() => pool.share({ tenant: 'e', caller: 'e', gateway: undefined, connection: 'c-e' }).take(1)).toThrow(/GATEHOUSE_MAX_HELD_BODIES, 100 bytes/);
    a1.release();
    expect(pool.heldBytes).toBe(75);
    expect(a1.tryTake(1)).toBe(false);
    a1.release();
    expect(pool.heldBytes).toBe(75);
    expect(pool.share({ tenant: 'a', caller: 'a', gateway: 'g1', connection: 'c1' }).tryTake(25)).toBe(true);
  });
});
