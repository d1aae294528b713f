// Red team, session 17, F6: one address opened connections, sent one request on each and went quiet; the hub kept
// every one for its keep-alive time (75 s), and with the hub's file descriptors used up every other caller's new
// connection was reset. GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS caps what one address (an IPv6 /64) holds open; an
// agent's tunnel stops counting once upgraded. The capped address here is 127.0.0.3 (loopback, used by nothing
// else); another address (127.0.0.2) is served throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, gatewayWithAgent, startHub, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs } from '../helpers/tmp.js';
import { agentHandshake, connectAgentSocket, registerMember } from '../helpers/hostile-agent.js';
import { addressKey } from '../../packages/hub/dist/http/address-connections.js';

const CAP = 20;

/** Opens a connection from `from`, sends `text`, and resolves with the socket and the first answer's text once the
 *  answer's body is in (the connection stays open when the hub keeps it alive). */
function ask(port: number, from: string, text: string, halfOpen = false): Promise<{ socket: Socket; answer: string }> {
  return new Promise((resolve, reject) => {
    // halfOpen: when the hub ends its side, this one stays open (as a hostile client keeps it).
    const socket = connect({ port, host: '127.0.0.1', localAddress: from, allowHalfOpen: halfOpen }, () => socket.write(text));
    let data = '';
    const done = () => resolve({ socket, answer: data });
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
      const end = data.indexOf('\r\n\r\n');
      const length = Number(/content-length: (\d+)/i.exec(data)?.[1] ?? -1);
      if (end >= 0 && length >= 0 && data.length >= end + 4 + length) done();
    });
    socket.on('close', done);
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
  });
}

const healthz = 'GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n';

describe('connections per address (red team, session 17, F6)', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let agent: AgentProc;
  let conn: string;

  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    token = await entra.token();
    hub = await startHub(entra, { GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS: String(CAP) });
    const g = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'per-address');
    agent = g.agent;
    conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: g.gatewayId })).json.id;
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it(`an address holding ${CAP} idle connections gets 429 for the next (its agent tunnels not counted), another address is served, and closing them frees the address`, async () => {
    const held: Socket[] = [];
    // Four agent tunnels from the address first: counted while they upgrade, not once they are tunnels (else only
    // 16 of the 20 below would be served).
    const tunnels = [];
    for (let i = 0; i < 4; i++) {
      const m = await registerMember(hub.url, token, `tunnel-${i}`);
      const ws = await connectAgentSocket(hub.url, m.credential, '127.0.0.3');
      expect(await agentHandshake(ws, [4])).toBe(4);
      tunnels.push(ws);
    }
    try {
      for (let i = 0; i < CAP; i++) {
        const r = await ask(hub.port, '127.0.0.3', healthz);
        expect(r.answer).toMatch(/^HTTP\/1\.1 200 /);
        held.push(r.socket);
      }
      const over = await ask(hub.port, '127.0.0.3', healthz);
      expect(over.answer).toMatch(/^HTTP\/1\.1 429 /);
      expect(over.answer).toMatch(/retry-after: 1\r\n/i);
      const body = JSON.parse(over.answer.slice(over.answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('TooManyRequests');
      expect(body.error.message).toContain(`${CAP} connections are open from this address`);
      over.socket.destroy();
      expect(tunnels.every((ws) => ws.readyState === ws.OPEN)).toBe(true);
      // Another address: served, and a call through the real agent too.
      expect((await ask(hub.port, '127.0.0.2', healthz)).answer).toMatch(/^HTTP\/1\.1 200 /);
      const invoke = JSON.stringify({ method: 'GET', url: 'echo/per-address' });
      const call = await ask(
        hub.port,
        '127.0.0.2',
        `POST /v1/connections/${conn}/invoke HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${invoke.length}\r\nConnection: close\r\n\r\n${invoke}`,
      );
      expect(call.answer).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      for (const s of held) s.destroy();
      for (const ws of tunnels) ws.terminate();
    }
    // Once they are closed the address is served again.
    let again = '';
    for (let i = 0; i < 50 && !again.startsWith('HTTP/1.1 200'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const r = await ask(hub.port, '127.0.0.3', healthz);
      again = r.answer;
      r.socket.destroy();
    }
    expect(again).toMatch(/^HTTP\/1\.1 200 /);
    expect((await api(hub.url, token, 'GET', '/v1/connections')).status).toBe(200);
  }, 60_000);

  it('a refused upgrade (a wrong path, a bad agent credential) stays counted until it closes, and the hub closes it soon after its answer: the cap holds, and the address is served again once they are gone', async () => {
    const upgrade = (path: string, auth = '') =>
      `GET ${path} HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${auth}\r\n`;
    const refused: Array<{ socket: Socket; answer: string }> = [];
    for (let i = 0; i < CAP; i++) {
      const r = await ask(
        hub.port,
        '127.0.0.4',
        i % 2 ? upgrade('/not-the-agent-path') : upgrade('/v1/agent/connect', 'Authorization: GatehouseAgent nobody.wrong\r\n'),
        true,
      );
      expect(r.answer).toMatch(/^HTTP\/1\.1 (400|401) /);
      refused.push(r);
    }
    // Before: each was let go at its upgrade and stayed open on the client's side: 1,100 held the hub's descriptors.
    const over = await ask(hub.port, '127.0.0.4', upgrade('/not-the-agent-path'));
    expect(over.answer).toMatch(/^HTTP\/1\.1 429 /);
    // The hub closes each refused socket itself, whatever the client does (it never closes them here).
    await Promise.all(refused.map((r) => new Promise((done) => (r.socket.destroyed ? done(undefined) : r.socket.once('close', done)))));
    const again = await ask(hub.port, '127.0.0.4', healthz);
    expect(again.answer).toMatch(/^HTTP\/1\.1 200 /);
    again.socket.destroy();
  }, 30_000);

  it('any IPv6 spelling (generated: compressed or not, any case, leading zeros): one key per /64, the same however the last 64 bits or the spelling vary', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    const groups = fc.array(group, { minLength: 8, maxLength: 8 });
    // A spelling of eight groups: hex in either case, with or without leading zeros, one run of zero groups "::"d.
    const spell = (g: number[], upper: boolean, pad: boolean, squeeze: boolean): string => {
      const parts = g.map((x) => {
        const h = pad ? x.toString(16).padStart(4, '0') : x.toString(16);
        return upper ? h.toUpperCase() : h;
      });
      if (!squeeze) return parts.join(':');
      let best = -1;
      let len = 0;
      for (let i = 0; i < 8; i++) {
        let j = i;
        while (j < 8 && g[j] === 0) j++;
        if (j - i > len) [best, len] = [i, j - i];
      }
      return len < 2 ? parts.join(':') : `${parts.slice(0, best).join(':')}::${parts.slice(best + len).join(':')}`;
    };
    fc.assert(
      fc.property(groups, groups, fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (a, b, upper, pad, squeeze, squeeze2) => {
        const sameNet = [...a.slice(0, 4), ...b.slice(4)];
        expect(addressKey(spell(a, upper, pad, squeeze))).toBe(addressKey(spell(sameNet, !upper, !pad, squeeze2)));
        expect(addressKey(spell(a, upper, pad, squeeze))).toBe(
          `${a
            .slice(0, 4)
            .map((x) => x.toString(16))
            .join(':')}::/64`,
        );
        if (a.slice(0, 4).join() !== b.slice(0, 4).join())
          expect(addressKey(spell(a, upper, pad, squeeze))).not.toBe(addressKey(spell(b, upper, pad, squeeze)));
      }),
      { numRuns: 2000 },
    );
  });

  it('IPv6 addresses count per /64; IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('2001:0DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3');
  });
});
