// Slow or greedy callers are cut off, and a finished call holds nothing (issue 22, findings 4 and 7): the real hub
// and agent, raw sockets that trickle, real services on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { request } from 'undici';
import { USER_2 } from '../helpers/fake-entra.js';
import { startEntraBackend, type EntraBackend } from '../helpers/entra-backend.js';
import { api, b64, nodeHttp, type HubProc } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';
import { tempDir } from '../helpers/tmp.js';

const RESOURCE = 'api://backend-api';
let stack: StandardStack;
let hub: HubProc;
let token: string;
let backend: EntraBackend;
let snapshots: string;
/** A service that leaves request bodies unread for 15 s, then reads them at once (the hub must wait for it). */
let hesitant: Server;
let hesitantUrl: string;

beforeAll(async () => {
  snapshots = tempDir('gatehouse-snapshots-');
  hesitant = createServer((req, res) => {
    req.pause();
    let bytes = 0;
    setTimeout(() => {
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.on('end', () => res.end(String(bytes)));
      req.resume();
    }, 15_000);
  });
  await new Promise<void>((r) => hesitant.listen(0, '127.0.0.1', r));
  hesitantUrl = `http://127.0.0.1:${(hesitant.address() as { port: number }).port}`;
  stack = await startStandardStack({
    hubEnv: {
      GATEHOUSE_HEAD_TIMEOUT: '2s',
      GATEHOUSE_MIN_BODY_RATE: '1KiB',
      GATEHOUSE_BODY_RATE_GRACE: '2s',
      GATEHOUSE_MAX_CALLS_PER_CONNECTION: '2',
      GATEHOUSE_MAX_CALLS_PER_GATEWAY: '3',
      GATEHOUSE_MAX_CALLS_PER_CALLER: '4',
      GATEHOUSE_THROTTLE: '100000/60s',
      // The memory test asks the hub for a heap snapshot: writing one collects all garbage first.
      NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`,
    },
    allow: (echoUrl) => [`${echoUrl}/`, `${hesitantUrl}/`],
  });
  ({ hub, token } = stack);
  backend = await startEntraBackend(stack.entra, RESOURCE);
});

afterAll(async () => {
  hesitant?.closeAllConnections();
  hesitant?.close();
  await backend?.close();
  await stack?.stop();
});

async function connection(body: Record<string, unknown>, t = token): Promise<string> {
  const c = await api(hub.url, t, 'POST', '/v1/connections', body);
  expect(c.status, c.text).toBe(201);
  return c.json.id as string;
}
const gatewayConnection = (base: string) => connection({ authType: 'AnonymousGateway', baseResourceUrl: base, gatewayId: stack.gatewayId });
const entraConnection = (t = token) => connection({ authType: 'EntraAuth', resourceUri: RESOURCE, baseResourceUrl: `${backend.url}/api` }, t);

/**
 * Writes `head` on a raw socket, then one byte of `trickle` a second until the hub closes the connection (or
 * `guardMs` passes: the test then fails on what it got). Resolves with everything the hub wrote.
 */
function trickle(head: string, guardMs: number): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(hub.port, '127.0.0.1', () => socket.write(head));
    let answer = '';
    const drip = setInterval(() => {
      if (socket.writable) socket.write('a');
    }, 1000);
    const done = (closed: boolean) => {
      clearInterval(drip);
      clearTimeout(guard);
      socket.destroy();
      resolve({ answer, closed });
    };
    const guard = setTimeout(() => done(false), guardMs);
    socket.on('data', (c: Buffer) => {
      answer += c.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => done(true));
  });
}

function expectRequestTimeout(r: { answer: string; closed: boolean }, message: RegExp): void {
  expect(r.closed, `the connection is still open; got: ${r.answer}`).toBe(true);
  expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
  expect(r.answer).toMatch(/\r\nx-gatehouse-error: RequestTimeout\r\n/i);
  const body = JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('RequestTimeout');
  expect(body.error.message).toMatch(message);
}

describe('finding 4: slow callers are cut off', () => {
  it('finding 4: a request head trickled a byte a second gets 408 RequestTimeout and is closed after GATEHOUSE_HEAD_TIMEOUT (it stayed open)', async () => {
    const r = await trickle('GET /v1/gateways HTTP/1.1\r\nHost: hub\r\nX-Slow: ', 20_000);
    expectRequestTimeout(r, /^caller -> hub: the request line and headers did not arrive within 2 s \(GATEHOUSE_HEAD_TIMEOUT\)$/);
  });

  it('finding 4: a body at 1 byte/s (raw route, invoke, an API route) gets 408 RequestTimeout and is closed after the grace and the window; the hub keeps serving', async () => {
    const conn = await gatewayConnection(`${stack.echo.url}/echo`);
    const auth = `Authorization: Bearer ${token}\r\n`;
    const [raw, invoke, api1] = await Promise.all([
      trickle(`POST /v1/connections/${conn}/proxy/status/trickled HTTP/1.1\r\nHost: hub\r\n${auth}Content-Length: 100000\r\n\r\n`, 45_000),
      trickle(
        `POST /v1/connections/${conn}/invoke HTTP/1.1\r\nHost: hub\r\n${auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"method":"POST","url":"trickled","body":"`,
        45_000,
      ),
      trickle(
        `POST /v1/gateways HTTP/1.1\r\nHost: hub\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n{"name":"`,
        45_000,
      ),
    ]);
    for (const r of [raw, invoke, api1])
      expectRequestTimeout(r, /^caller -> hub: the request body arrived at under 1024 bytes\/s over 10 s \(GATEHOUSE_MIN_BODY_RATE\)$/);
    // Nothing of the trickled calls reached the service, and the hub answers the next call.
    expect(stack.echo.received.some((x) => x.url.includes('trickled'))).toBe(false);
    const ok = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'POST', url: 'after', body: b64('fine') });
    expect(ok.status).toBe(200);
    expect(Buffer.from(ok.json.body, 'base64').toString()).toBe('fine');
  }, 60_000);

  it('finding 4: a fast upload is not cut, not even one the service leaves unread for 15 s (the hub is waiting for the service, not the caller)', async () => {
    const fast = await gatewayConnection(`${stack.echo.url}/echo`);
    const big = Buffer.alloc(64 * 1024 * 1024, 'u');
    const r = await nodeHttp(`${hub.url}/v1/connections/${fast}/proxy/fast`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: big });
    expect(r.status).toBe(200);
    expect(r.data.length).toBe(big.length);
    const slowReader = await gatewayConnection(hesitantUrl);
    const body = Buffer.alloc(32 * 1024 * 1024, 'h');
    const held = await nodeHttp(`${hub.url}/v1/connections/${slowReader}/proxy/`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    expect(held.status, held.data.toString()).toBe(200);
    expect(held.data.toString()).toBe(String(body.length));
  }, 60_000);

  it('finding 4: the unauthenticated agent routes take small bodies (413 over 32 KiB) and cut a slow one at 10 s (408 RequestTimeout)', async () => {
    for (const path of ['/v1/agent/register', '/v1/agent/join-info']) {
      const big = await api(hub.url, undefined, 'POST', path, { gatewayId: 'x', registrationKey: 'y', pad: 'p'.repeat(40 * 1024) });
      expect(big.status).toBe(413);
      expect(big.json.error.code).toBe('PayloadTooLarge');
    }
    const slow = await Promise.all(
      ['/v1/agent/register', '/v1/agent/join-info'].map((path) =>
        trickle(`POST ${path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 30000\r\n\r\n{"gatewayId":"`, 30_000),
      ),
    );
    for (const r of slow) expectRequestTimeout(r, /^caller -> hub: the request body did not arrive within 10 s \(unauthenticated agent route\)$/);
  }, 45_000);

  it('finding 4: calls in progress are capped per connection (429), per gateway (503) and per caller (429), each answer naming its cap; another caller is unaffected and a finished call frees its place', async () => {
    const [a, b] = [await gatewayConnection(`${stack.echo.url}/echo`), await gatewayConnection(`${stack.echo.url}/echo`)];
    const e = await entraConnection();
    const other = await stack.entra.token({ oid: USER_2 });
    const f = await entraConnection(other);
    // Each slow call answers its head at once, then 4 chunks a second apart: in progress for about 4 s.
    const slow = (id: string, t = token) => api(hub.url, t, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'drip?n=4&ms=1000' });
    const quick = (id: string, t = token) => api(hub.url, t, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'status?code=204' });
    const inProgress = [slow(a), slow(a)];
    await new Promise((r) => setTimeout(r, 500));
    const overConnection = await quick(a);
    expect(overConnection.status).toBe(429);
    expect(overConnection.json.error.code).toBe('TooManyRequests');
    expect(overConnection.json.error.message).toMatch(/GATEHOUSE_MAX_CALLS_PER_CONNECTION/);
    expect(overConnection.headers['retry-after']).toBe('1');

    inProgress.push(slow(b));
    await new Promise((r) => setTimeout(r, 500));
    const overGateway = await quick(b);
    expect(overGateway.status).toBe(503);
    expect(overGateway.json.error.code).toBe('ServiceUnavailable');
    expect(overGateway.json.error.message).toMatch(/GATEHOUSE_MAX_CALLS_PER_GATEWAY/);

    inProgress.push(slow(e));
    await new Promise((r) => setTimeout(r, 500));
    const overCaller = await api(hub.url, token, 'POST', `/v1/connections/${e}/invoke`, { method: 'GET', url: 'anything' });
    expect(overCaller.status).toBe(429);
    expect(overCaller.json.error.message).toMatch(/GATEHOUSE_MAX_CALLS_PER_CALLER/);

    // Another caller, while this one is at every cap.
    const theirs = await api(hub.url, other, 'POST', `/v1/connections/${f}/invoke`, { method: 'GET', url: 'anything' });
    expect(theirs.status).toBe(200);

    for (const r of await Promise.all(inProgress)) expect(r.status).toBe(200);
    const again = await Promise.all([quick(a), quick(a), quick(b)]);
    for (const r of again) expect(r.status).toBe(200);
  }, 60_000);
});

/** Heap used and external memory the hub reports, right after it wrote a heap snapshot (which collects all
 *  garbage first): what is still reachable. */
async function reachable(): Promise<{ heap: number; external: number }> {
  const before = new Set(existsSync(snapshots) ? readdirSync(snapshots) : []);
  hub.child.kill('SIGUSR2');
  // The snapshot is written synchronously, so the hub answers /metrics only once it is done.
  for (let i = 0; i < 100 && !readdirSync(snapshots).some((f) => !before.has(f) && statSync(`${snapshots}/${f}`).size > 0); i++)
    await new Promise((r) => setTimeout(r, 100));
  const text = await (await request(`${hub.url}/metrics`)).body.text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
  return { heap: read('gatehouse_hub_nodejs_heap_size_used_bytes'), external: read('gatehouse_hub_nodejs_external_memory_bytes') };
}

describe('finding 7: a finished call holds nothing', () => {
  it('finding 7: invoke calls hold their memory after they finish (each held its body and a 60 s timer): after 2,000 calls the reachable heap and external memory are back near idle', async () => {
    const conn = await gatewayConnection(`${stack.echo.url}/echo`);
    const body = b64(Buffer.alloc(24 * 1024, 'm'));
    const idle = await reachable();
    let left = 2_000;
    const worker = async () => {
      while (left-- > 0) {
        const r = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'POST', url: 'mem', body });
        expect(r.status).toBe(200);
      }
    };
    await Promise.all([worker(), worker()]);
    const after = await reachable();
    // Each finished call held about its 24 KiB body (48 MiB for 2,000) until its stall timer fired a minute later.
    expect(after.external - idle.external).toBeLessThan(8 * 1024 * 1024);
    expect(after.heap - idle.heap).toBeLessThan(8 * 1024 * 1024);
  }, 60_000);
});
