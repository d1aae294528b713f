// The held-body pool (GATEHOUSE_MAX_HELD_BODIES) and callers that go away: red team session 15's findings on
// issue 22 (B1, B1b) and the log flood of a caller aborting mid-body. The real hub and agent, an echo service and
// real sockets on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { api } from '../helpers/stack.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let stack: StandardStack;
/** The standard caller's connection to the echo service through the standard gateway. */
let echoConn: string;
const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const HOLDER_BYTES = 1_040_001;

beforeAll(async () => {
  stack = await startStandardStack({
    hubEnv: {
      GATEHOUSE_MAX_HELD_BODIES: '4MiB',
      GATEHOUSE_MAX_HELD_BODIES_SHARE: '25%',
      GATEHOUSE_HELD_BODY_TIMEOUT: '5s',
      GATEHOUSE_MIN_BODY_RATE: '1KiB',
      GATEHOUSE_THROTTLE: '100000/60s',
      GATEHOUSE_LOG_LEVEL: 'debug',
    },
  });
  const c = await api(stack.hub.url, stack.token, 'POST', '/v1/connections', {
    authType: 'AnonymousGateway',
    gatewayId: stack.gatewayId,
    baseResourceUrl: `${stack.echo.url}/`,
  });
  expect(c.status, c.text).toBe(201);
  echoConn = c.json.id;
});

afterAll(async () => {
  await stack?.stop();
});

interface Held {
  /** Resolves with the hub's answer, if one comes. */
  answer: Promise<{ status: number; text: string }>;
  /** Resolves when the hub closed the connection. */
  closed: Promise<void>;
  write(text: string): void;
  destroy(): void;
}

/** A body-first invoke (body before method, url and headers: the hub must read it whole) whose body starts with
 *  `bytes` bytes and then waits for more. */
function bodyFirst(connection: string, token: string, bytes: number): Held {
  const req = httpRequest(`${stack.hub.url}/v1/connections/${connection}/invoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  });
  req.on('error', () => {});
  const answer = new Promise<{ status: number; text: string }>((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text }));
    });
  });
  const closed = new Promise<void>((resolve) => req.on('socket', (s) => s.on('close', () => resolve())));
  req.write(`{"body":"${Buffer.alloc(bytes, 7).toString('base64')}`);
  return { answer, closed, write: (t) => req.write(t), destroy: () => req.destroy() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pending = Symbol('pending');
const settled = <T>(p: Promise<T>, ms: number) => Promise.race([p, sleep(ms).then(() => pending)]);

/** A body-first invoke of the standard caller through its echo connection, sent at once. */
const victimCall = (bytes: number) =>
  api(stack.hub.url, stack.token, 'POST', `/v1/connections/${echoConn}/invoke`, {
    body: Buffer.alloc(bytes, 1).toString('base64'),
    method: 'POST',
    url: 'held',
    headers: {},
  });

describe('the held-body pool', () => {
  it("B1, one tenant fills the whole held-body pool: 4 object ids of one tenant, each with its own gateway and connection, hold at most the tenant's share, and another tenant's body-first invoke is served", async () => {
    // Before: the share was per caller (tid+oid), gateway and connection, all free to make: 4 callers of tenant B
    // took the whole 4 MiB pool, and tenant A's body-first invoke got 503.
    const holders: Held[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const t = await stack.entra.token({ tid: TENANT_B, oid: `bbbbbbbb-0000-4000-8000-0000000000${i}0` });
        const g = await api(stack.hub.url, t, 'POST', '/v1/gateways', { name: `holder${i}` });
        const c = await api(stack.hub.url, t, 'POST', '/v1/connections', {
          authType: 'AnonymousGateway',
          gatewayId: g.json.id,
          baseResourceUrl: 'http://127.0.0.1:9/',
        });
        expect(c.status, c.text).toBe(201);
        holders.push(bodyFirst(c.json.id, t, HOLDER_BYTES));
        await sleep(300);
      }
      // Tenant B's first body holds its whole share; each of its other callers is refused on the tenant's share.
      const refused = await settled(Promise.all(holders.slice(1).map((h) => h.answer)), 10_000);
      expect(refused).not.toBe(pending);
      for (const r of refused as { status: number; text: string }[]) {
        expect(r.status).toBe(503);
        expect(JSON.parse(r.text).error.message).toMatch(
          /^hub: this caller's tenant holds as many invoke bodies in memory as one tenant may \(GATEHOUSE_MAX_HELD_BODIES_SHARE, 1048576 bytes\)/,
        );
      }
      expect(await settled(holders[0]!.answer, 10)).toBe(pending);
      // Tenant A, while tenant B holds all it may.
      const r = await victimCall(200_000);
      expect(r.status, r.text).toBe(200);
      expect(Buffer.from(r.json.body, 'base64').equals(Buffer.alloc(200_000, 1))).toBe(true);
    } finally {
      for (const h of holders) h.destroy();
    }
  });

  it('B1b, a trickled body holds pool space forever: a body read whole, trickled above GATEHOUSE_MIN_BODY_RATE, gets 408 at GATEHOUSE_HELD_BODY_TIMEOUT, its connection closed, and its space is free at once', async () => {
    // Before: only a stall timer (GATEHOUSE_IDLE_TIMEOUT, restarted on each byte) and the rate floor bounded it,
    // so a body kept just above 1 KiB/s held its share of the pool for as long as its sender liked.
    const held = bodyFirst(echoConn, stack.token, 900_000);
    const drip = setInterval(() => held.write('A'.repeat(800)), 500);
    try {
      const r = await settled(held.answer, 20_000);
      expect(r, 'the trickled body is still held after 20 s').not.toBe(pending);
      const { status, text } = r as { status: number; text: string };
      expect(status).toBe(408);
      const error = JSON.parse(text).error;
      expect(error.code).toBe('RequestTimeout');
      expect(error.message).toBe('caller -> hub: the invoke body, read whole, did not arrive within 5 s (GATEHOUSE_HELD_BODY_TIMEOUT)');
      expect(await settled(held.closed, 5_000)).not.toBe(pending);
    } finally {
      clearInterval(drip);
      held.destroy();
    }
    // The same caller's share (1 MiB) has room for another 900,000 bytes only if the cut call gave its bytes back.
    const next = await victimCall(900_000);
    expect(next.status, next.text).toBe(200);
  });
});

describe('a body the hub reads whole on an API route', () => {
  it('B1b, a trickled body holds pool space forever (API route): a body trickled above GATEHOUSE_MIN_BODY_RATE to POST /v1/gateways gets 408 at GATEHOUSE_HELD_BODY_TIMEOUT and is closed', async () => {
    // Before: only the rate floor and the stall timer bounded it, so a body kept above 1 KiB/s was held for as long as it lasted.
    const r = await new Promise<{ answer: string; closed: boolean }>((resolve) => {
      const socket = connect(stack.hub.port, '127.0.0.1', () =>
        socket.write(
          `POST /v1/gateways HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${stack.token}\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"name":"`,
        ),
      );
      let answer = '';
      const drip = setInterval(() => {
        if (socket.writable) socket.write('n'.repeat(800));
      }, 500);
      const done = (closed: boolean) => {
        clearInterval(drip);
        clearTimeout(guard);
        socket.destroy();
        resolve({ answer, closed });
      };
      const guard = setTimeout(() => done(false), 20_000);
      socket.on('data', (c: Buffer) => {
        answer += c.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => done(true));
    });
    expect(r.closed, `still open; got: ${r.answer}`).toBe(true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408 /);
    const body = JSON.parse(r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({
      code: 'RequestTimeout',
      message: 'caller -> hub: the request body did not arrive within 5 s (GATEHOUSE_HELD_BODY_TIMEOUT)',
    });
  });
});

describe('a caller that goes away', () => {
  it('a caller aborting mid-body (invoke read whole, invoke streamed, raw route) is one debug line without a stack, never an error line', async () => {
    // Before: each such call logged level 50 "unexpected fault" with a stack: a caller could flood the log.
    const from = stack.hub.lines.length;
    const auth = `Authorization: Bearer ${stack.token}\r\n`;
    const heads = [
      `POST /v1/connections/${echoConn}/invoke HTTP/1.1\r\nHost: hub\r\n${auth}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"body":"AAAA`,
      `POST /v1/connections/${echoConn}/invoke HTTP/1.1\r\nHost: hub\r\n${auth}Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n{"method":"POST","url":"gone","headers":{},"body":"${'A'.repeat(1_500_000)}`,
      `POST /v1/connections/${echoConn}/proxy/gone HTTP/1.1\r\nHost: hub\r\n${auth}Content-Length: 100000\r\n\r\n${'a'.repeat(5000)}`,
    ];
    for (const head of heads) {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((resolve) => {
          const socket = connect(stack.hub.port, '127.0.0.1', () => socket.write(head));
          socket.on('error', () => {});
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 400);
        });
      }
    }
    await sleep(1500);
    // Nothing on stderr either (a streamed answer wrote a MaxListenersExceededWarning each).
    expect(stack.hub.lines.slice(from).filter((l) => !l.startsWith('{'))).toEqual([]);
    const lines = stack.hub.lines
      .slice(from)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: unknown; requestId?: string });
    const loud = lines.filter((l) => l.level >= 50);
    expect(loud, JSON.stringify(loud)).toEqual([]);
    expect(lines.filter((l) => l.err !== undefined)).toEqual([]);
    // Each aborted invoke: one debug line (the raw route notices the caller gone itself: its access line only).
    const gone = lines.filter((l) => l.msg === 'caller went away');
    expect(gone.length).toBe(6);
    for (const l of gone) expect(l.level).toBe(20);
    expect(new Set(gone.map((l) => l.requestId)).size).toBe(6);
    // No warn line either.
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    // The hub keeps serving.
    const ok = await victimCall(10);
    expect(ok.status).toBe(200);
  });
});
