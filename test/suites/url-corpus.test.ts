// The URL rule's named corpus (test/fixtures/url-corpus.json) through the real hub and agent: a gateway connection
// whose base is http://127.0.0.1:P/api/v1 and an agent allowed only that prefix, in front of a service that records
// every path it receives. Refused cases get 400 UrlNotAllowed by invoke and by the raw route and never reach the
// service; allowed ones reach it under the base, and what arrived is safe in every server reading (the oracle).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { URL_CORPUS, onRequestLine, startPathRecorder, type PathRecorder } from '../helpers/url-corpus.js';
import { unsafeReadings } from '../helpers/server-readings.js';

let entra: FakeEntra;
let service: PathRecorder;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let connId: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  service = await startPathRecorder();
  hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s' });
  token = await entra.token();
  const gw = await gatewayWithAgent(hub.url, token, [`${service.url}/api/v1/`]);
  agent = gw.agent;
  const c = await api(hub.url, token, 'POST', '/v1/connections', {
    authType: 'AnonymousGateway',
    baseResourceUrl: `${service.url}/api/v1`,
    gatewayId: gw.gatewayId,
  });
  expect(c.status, c.text).toBe(201);
  connId = c.json.id;
});
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  await service?.close();
  await entra?.close();
  cleanupTempDirs();
});

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  body: string;
}

const invoke = async (path: string): Promise<Answer> => {
  const r = await api(hub.url, token, 'POST', `/v1/connections/${connId}/invoke`, { method: 'GET', url: path });
  return {
    status: r.status,
    code: r.json?.error?.code,
    message: r.json?.error?.message,
    body: r.status === 200 ? Buffer.from(r.json.body as string, 'base64').toString() : '',
  };
};

/** The raw route over a plain socket, so the request line carries the path byte for byte as written. */
const raw = (path: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const s = connect(hub.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const code = /\r\nx-gatehouse-error: ([^\r]*)/i.exec(head)?.[1];
      let message: string | undefined;
      try {
        message = code ? (JSON.parse(body) as { error: { message: string } }).error.message : undefined;
      } catch {
        message = undefined;
      }
      resolve({ status: Number(head.split(' ')[1]), code, message, body });
    });
    s.write(
      `GET /v1/connections/${connId}/proxy/${onRequestLine(path)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
      'latin1',
    );
  });

const ROUTES = { invoke, raw } as const;

describe('the URL corpus through the real hub and agent', () => {
  it('holds at least 150 named cases, refused and allowed', () => {
    expect(URL_CORPUS.length).toBeGreaterThanOrEqual(150);
    expect(URL_CORPUS.filter((c) => c.verdict === 'allow').length).toBeGreaterThanOrEqual(40);
    expect(new Set(URL_CORPUS.map((c) => c.name)).size).toBe(URL_CORPUS.length);
  });

  it.each(URL_CORPUS.filter((c) => c.verdict === 'refuse').map((c) => [c.name, c] as const))('refused: %s', async (_n, c) => {
    for (const route of ['invoke', 'raw'] as const) {
      const before = service.received.length;
      const a = await ROUTES[route](c.path);
      expect([route, a.status, a.code], a.body).toEqual([route, 400, 'UrlNotAllowed']);
      // the reason names the rule that refused it, and never quotes the path
      if (route === 'invoke') expect(a.message).toContain(`(${c.rule})`);
      expect(service.received.length, `${route} reached the service`).toBe(before);
    }
  });

  it.each(URL_CORPUS.filter((c) => c.verdict === 'allow').map((c) => [c.name, c] as const))('allowed: %s', async (_n, c) => {
    for (const route of ['invoke', 'raw'] as const) {
      const before = service.received.length;
      const a = await ROUTES[route](c.path);
      expect([route, a.status], a.body).toEqual([route, 200]);
      expect(service.received.slice(before)).toEqual([c.reaches]);
      const seen = service.received.at(-1)!;
      expect([route, seen]).toEqual([route, c.reaches]);
      expect(unsafeReadings(seen.split('?')[0]!, '/api/v1')).toEqual([]);
      // (the raw route's answer may come chunked: its body holds the word)
      expect(a.body).toContain('inside');
    }
  });

  // Regression (issue 21, finding 1): `hasEncodedDotSegment()` answered "nothing wrong" when decodeURIComponent threw, so
  // one undecodable escape switched off the encoded-dot check in the hub and in the agent: both calls below
  // returned a file outside the base.
  it('finding 1: an undecodable escape no longer switches off the check (invoke and raw route)', async () => {
    const before = service.received.length;
    const viaInvoke = await invoke('..%2f..%2f%zz%2f..%2fsecret.txt');
    expect([viaInvoke.status, viaInvoke.code, viaInvoke.message]).toEqual([
      400,
      'UrlNotAllowed',
      "caller -> hub: url is not under the connection's baseResourceUrl (invalid escape in path)",
    ]);
    const viaRaw = await raw('..%2f..%2fsecret.txt%2f%ED%A0%80%2f..');
    expect([viaRaw.status, viaRaw.code]).toEqual([400, 'UrlNotAllowed']);
    expect(viaRaw.message).toContain('(path is not UTF-8 once decoded)');
    expect(service.received.length).toBe(before);
  });

  // Regression (issue 21, finding 2): segments that Tomcat, Jetty and Spring (';params'), double-decoding servers,
  // overlong-UTF-8 decoders, C string handling and NFKC read as '..' reached services unchanged.
  it.each(['..;/secret', '%2e%2e;/secret', 'x/..;/..;/secret', '%252e%252e/secret', '%c0%ae%c0%ae/secret', '..%00/secret', '．．/secret'])(
    'finding 2: %s is refused by invoke and the raw route and never reaches the service',
    async (path) => {
      const before = service.received.length;
      for (const a of [await invoke(path), await raw(path)]) expect([a.status, a.code]).toEqual([400, 'UrlNotAllowed']);
      expect(service.received.length).toBe(before);
    },
  );

  it('the hub and the agent keep serving after every refusal', async () => {
    expect((await invoke('items/after-the-corpus')).status).toBe(200);
    expect(hub.child.exitCode).toBeNull();
    expect(agent.child.exitCode).toBeNull();
  });
});
