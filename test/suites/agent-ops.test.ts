// Agent operations: doctor names the failing link, the agent works behind a CONNECT proxy with proxy
// credentials (and masks its frames there), and status shows the round trip and calls in flight.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createServer as createNetServer, connect } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { request } from 'undici';
import { patternBytes, type EchoServer } from '../helpers/echo-server.js';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';
import { freePort } from '../helpers/apache.js';
import { startCannedServer } from '../helpers/not-http.js';
import { AGENT_MAIN, api, runAgent, startCommand, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { NODE_FLAGS } from '@gatehouse/shared';
import { tempDir } from '../helpers/tmp.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let echo: EchoServer;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let stack: StandardStack | undefined;
let gatewayId: string;

async function doctor(configPath: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = startProc([AGENT_MAIN, 'doctor', '--config', configPath], env);
  return { code: await p.exited, out: p.lines.join('\n') };
}
function variant(change: (c: Record<string, unknown>) => void): string {
  const c = JSON.parse(readFileSync(agent.configPath, 'utf8')) as Record<string, unknown>;
  change(c);
  const p = join(tempDir(), 'agent.json');
  writeFileSync(p, JSON.stringify(c), { mode: 0o600 });
  return p;
}

beforeAll(async () => {
  stack = await startStandardStack();
  ({ echo, hub, token, gatewayId, agent } = stack);
});
afterAll(async () => {
  await stack?.stop();
});

describe('doctor', () => {
  it('all links fine: exit 0, every link ok, and the running agent is not disturbed', async () => {
    const r = await doctor(agent.configPath);
    expect(r.code, r.out).toBe(0);
    for (const link of ['tcp', 'upgrade', 'auth', 'service']) expect(r.out).toMatch(new RegExp(`^ok\\s+${link}\\s`, 'm'));
    expect((await api(hub.url, token, 'GET', `/v1/gateways/${gatewayId}`)).json.status).toBe('online');
    expect(agent.lines.some((l) => l.includes('disconnected from hub'))).toBe(false);
  });

  it('DNS: a hub name is resolved and shown; one that cannot be resolved fails at dns, before TCP', async () => {
    const named = await doctor(
      variant((c) => {
        c.hubs = [hub.url.replace('127.0.0.1', 'localhost')];
      }),
    );
    expect(named.out).toMatch(/^ok\s+dns\s+localhost -> (127\.0\.0\.1|::1)/m);
    // In a network namespace of its own (a loopback that is down, no route) the resolver cannot be asked: the
    // lookup fails at once and no query leaves this machine.
    if (spawnSync('unshare', ['-n', 'true']).status !== 0) {
      console.warn('agent-ops: skipping the unresolvable-name half: no network namespaces here (unshare -n needs root)');
      return;
    }
    const p = startCommand(
      [
        'unshare',
        '-n',
        process.execPath,
        ...NODE_FLAGS,
        AGENT_MAIN,
        'doctor',
        '--config',
        variant((c) => {
          c.hubs = ['http://gatehouse-doctor.invalid:8080'];
        }),
      ],
      {},
    );
    expect(await p.exited).toBe(1);
    const out = p.lines.join('\n');
    expect(out).toMatch(/^FAIL\s+dns\s+(EAI_AGAIN|ENOTFOUND)/m);
    expect(out).not.toMatch(/^\w+\s+tcp/m);
  });

  it('a wrong hub address fails at TCP', async () => {
    const closed = await freePort();
    const r = await doctor(
      variant((c) => {
        c.hubs = [`http://127.0.0.1:${closed}`];
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL\s+tcp\s+.*ECONNREFUSED/m);
    expect(r.out).not.toMatch(/^\w+\s+upgrade/m);
  });

  it('an address that is not a hub fails at the upgrade', async () => {
    const r = await doctor(
      variant((c) => {
        c.hubs = [echo.url];
      }),
    );
    expect(r.out).toMatch(/^FAIL\s+upgrade\s+/m);
  });

  it('a bad credential fails at authentication', async () => {
    const r = await doctor(
      variant((c) => {
        c.credential = `${String(c.memberId)}.not-the-secret`;
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^ok\s+upgrade/m);
    expect(r.out).toMatch(/^FAIL\s+auth\s+the hub refused the agent credential \(401\)/m);
  });

  it('an unreachable service is named', async () => {
    const closed = await freePort();
    const r = await doctor(
      variant((c) => {
        c.allow = [`${echo.url}/`, `http://127.0.0.1:${closed}/api`];
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^ok\\s+service\\s+${echo.url}`, 'm'));
    expect(r.out).toMatch(new RegExp(`^FAIL\\s+service\\s+http://127.0.0.1:${closed} \\(ECONNREFUSED\\)`, 'm'));
  });
});

describe('behind a corporate proxy', () => {
  let proxy: ConnectProxy;
  beforeAll(async () => {
    proxy = await startConnectProxy();
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('registers, connects and serves through a CONNECT proxy with proxy credentials', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'proxied' });
    const configPath = join(tempDir(), 'agent.json');
    const env = { HTTP_PROXY: proxy.authUrl };
    const reg = startProc(
      [AGENT_MAIN, 'register', '--hub', hub.url, '--gateway', gw.json.id, '--key', gw.json.registrationKey, '--allow', `${echo.url}/`, '--config', configPath],
      env,
    );
    expect(await reg.exited, reg.lines.join('\n')).toBe(0);
    const proxied = await runAgent(configPath, env);
    try {
      const hubPort = new URL(hub.url).port;
      expect(proxy.tunnels.filter((t) => t.endsWith(`:${hubPort}`)).length).toBeGreaterThanOrEqual(2); // register + WebSocket
      const c = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id })).json
        .id;
      expect((await api(hub.url, token, 'POST', `/v1/connections/${c}/invoke`, { method: 'GET', url: 'via-proxy' })).json.statusCode).toBe(200);
      const d = await doctor(configPath, env);
      expect(d.out).toMatch(/^ok\s+proxy\s+CONNECT/m);
      const bad = await doctor(configPath, { HTTP_PROXY: proxy.url });
      expect(bad.out).toMatch(/^FAIL\s+proxy\s+the proxy wants credentials \(407\)/m);
      // NO_PROXY bypasses it
      const before = proxy.tunnels.length;
      const direct = await doctor(configPath, { HTTP_PROXY: proxy.authUrl, NO_PROXY: '127.0.0.1' });
      expect(direct.code).toBe(0);
      expect(proxy.tunnels.length).toBe(before);
      // an entry with the hub's port bypasses it too (it was read as a host name "127.0.0.1:PORT" and never matched);
      // one with another port does not
      expect((await doctor(configPath, { HTTP_PROXY: proxy.authUrl, NO_PROXY: `example.com,127.0.0.1:${hubPort}` })).code).toBe(0);
      expect(proxy.tunnels.length).toBe(before);
      expect((await doctor(configPath, { HTTP_PROXY: proxy.authUrl, NO_PROXY: '127.0.0.1:1' })).code).toBe(0);
      expect(proxy.tunnels.length).toBeGreaterThan(before);
      // a network in CIDR form, as corporate NO_PROXY values carry them (it was read as a host name and never matched)
      const beforeCidr = proxy.tunnels.length;
      expect((await doctor(configPath, { HTTP_PROXY: proxy.authUrl, NO_PROXY: 'intranet.example,127.0.0.0/8' })).code).toBe(0);
      expect(proxy.tunnels.length).toBe(beforeCidr);
      expect((await doctor(configPath, { HTTP_PROXY: proxy.authUrl, NO_PROXY: '10.0.0.0/8,::1/128' })).code).toBe(0);
      expect(proxy.tunnels.length).toBeGreaterThan(beforeCidr);
    } finally {
      await proxied.stop();
    }
  });
});

describe('WebSocket masking', () => {
  /** The service's answer (echo's /big) through the raw route, and whether a slice of it crossed `seen` in clear. */
  async function fetchBig(connection: string): Promise<Buffer> {
    const r = await request(`${hub.url}/v1/connections/${connection}/proxy/big?bytes=${BIG}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(200);
    return Buffer.from(await r.body.arrayBuffer());
  }
  const BIG = 300_000;
  const probe = patternBytes(BIG, 11).subarray(150_000, 150_064);

  async function agentVia(hubUrl: string, env: Record<string, string>): Promise<{ stop(): Promise<unknown>; connection: string }> {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: `masking-${Math.random()}` });
    const configPath = join(tempDir(), 'agent.json');
    const reg = startProc(
      [AGENT_MAIN, 'register', '--hub', hubUrl, '--gateway', gw.json.id, '--key', gw.json.registrationKey, '--allow', `${echo.url}/`, '--config', configPath],
      env,
    );
    expect(await reg.exited, reg.lines.join('\n')).toBe(0);
    const a = await runAgent(configPath, env);
    const connection = (
      await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: gw.json.id })
    ).json.id as string;
    return { stop: () => a.stop(), connection };
  }

  it("through a proxy the agent masks its frames: the proxy never sees the service's bytes in clear", async () => {
    const proxy = await startConnectProxy();
    const a = await agentVia(hub.url, { HTTP_PROXY: proxy.authUrl });
    try {
      expect((await fetchBig(a.connection)).equals(patternBytes(BIG, 11))).toBe(true);
      expect(proxy.seen().length).toBeGreaterThan(BIG);
      expect(proxy.seen().includes(probe)).toBe(false);
    } finally {
      await a.stop();
      await proxy.close();
    }
  });

  it('over TLS to the hub (the production setup: TLS in front of the hub) large bodies cross intact both ways', async () => {
    // A TLS terminator in front of the hub, as a load balancer would be; the agent trusts the test CA.
    const { key, cert, caPath } = stack!.entra.ca;
    const front = createTlsServer({ key, cert }, (c) => {
      const up = connect(hub.port, '127.0.0.1');
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const a = await agentVia(`https://127.0.0.1:${(front.address() as { port: number }).port}`, { NODE_EXTRA_CA_CERTS: caPath });
    try {
      expect((await fetchBig(a.connection)).equals(patternBytes(BIG, 11))).toBe(true);
      const up = patternBytes(3 * 1024 * 1024 + 17, 5);
      const r = await request(`${hub.url}/v1/connections/${a.connection}/proxy/echo`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: up,
      });
      expect(r.statusCode).toBe(200);
      expect(Buffer.from(await r.body.arrayBuffer()).equals(up)).toBe(true);
    } finally {
      await a.stop();
      front.close();
    }
  });

  it('to a hub on a loopback address the masking key is zero (nothing on the path to fool): the bytes pass as they are', async () => {
    // A plain TCP relay in front of the hub, standing where a reader would: the agent sees a loopback hub.
    const seen: Buffer[] = [];
    const relay = createNetServer((c) => {
      const up = connect(hub.port, '127.0.0.1');
      c.on('data', (b: Buffer) => seen.push(Buffer.from(b)));
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const a = await agentVia(`http://127.0.0.1:${(relay.address() as { port: number }).port}`, {});
    try {
      expect((await fetchBig(a.connection)).equals(patternBytes(BIG, 11))).toBe(true);
      expect(Buffer.concat(seen).includes(probe)).toBe(true);
    } finally {
      await a.stop();
      relay.close();
    }
  });
});

describe('a member that vanishes without closing its connection', () => {
  it('shows offline within 30 s (heartbeat), and serves again when it comes back', async () => {
    const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'frozen' });
    const { startAgent } = await import('../helpers/stack.js');
    const frozen = await startAgent([hub.url], gw.json.id, gw.json.registrationKey, [`${echo.url}/`]);
    try {
      frozen.child.kill('SIGSTOP'); // the socket stays open; only the heartbeat can tell
      const started = Date.now();
      await expect
        .poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).json.status, { timeout: 32_000, interval: 500 })
        .toBe('offline');
      expect(Date.now() - started).toBeLessThan(30_000);
      frozen.child.kill('SIGCONT');
      await expect
        .poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${gw.json.id}`)).json.status, { timeout: 20_000, interval: 500 })
        .toBe('online');
    } finally {
      frozen.child.kill('SIGCONT');
      await frozen.stop();
    }
  }, 60_000);
});

describe('status', () => {
  it('shows the hub, connected since, round trip and calls in flight', async () => {
    await new Promise((r) => setTimeout(r, 5500)); // the status file is refreshed every 5 s
    const p = startProc([AGENT_MAIN, 'status', '--config', agent.configPath], {});
    expect(await p.exited).toBe(0);
    expect(p.lines.join('\n')).toMatch(new RegExp(`${hub.url}: connected since \\S+, round trip [\\d.]+ ms, 0 in flight`));
  });
});

describe('allow: the allow-list changes without a new registration or a restart', () => {
  it('lists, adds and removes prefixes; the running agent applies each change; bad changes are refused with one line', async () => {
    // Before: the only way was to edit the JSON by hand (undocumented) and restart the agent.
    const allow = async (...args: string[]) => {
      const p = startProc([AGENT_MAIN, 'allow', '--config', agent.configPath, ...args], {});
      return { code: await p.exited, out: p.lines.join('\n'), lines: p.lines };
    };
    expect(await allow()).toMatchObject({ code: 0, out: `${echo.url}/` });
    const other = await startCannedServer({ fine: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' });
    const prefix = `http://127.0.0.1:${other.port}/`;
    try {
      const id = (
        await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: `http://127.0.0.1:${other.port}`, gatewayId })
      ).json.id as string;
      const call = () => api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'fine' });
      const until = async (want: number) => {
        for (let i = 0; i < 50; i++) {
          const r = await call();
          if (r.status === want) return r;
          await new Promise((res) => setTimeout(res, 200));
        }
        throw new Error(`no ${want} within 10 s`);
      };
      const refused = await call();
      expect(refused.status).toBe(400);
      expect(refused.json.error.code).toBe('UrlNotAllowed');

      const added = await allow('--add', prefix);
      expect(added.code, added.out).toBe(0);
      expect(added.lines.slice(0, 2)).toEqual([`${echo.url}/`, prefix]);
      expect((await until(200)).json.body).toBe(Buffer.from('ok').toString('base64'));
      await agent.waitForLine((l) => l.includes('"allow-list changed"') && l.includes(prefix));
      expect(JSON.parse(readFileSync(agent.configPath, 'utf8')).allow).toEqual([`${echo.url}/`, prefix]);

      const removed = await allow('--remove', prefix);
      expect(removed.code, removed.out).toBe(0);
      expect((await until(400)).json.error.code).toBe('UrlNotAllowed');

      // Refused, each with one line and exit 2, the config unchanged.
      for (const bad of [['--add', 'ftp://x/'], ['--remove', prefix], ['--remove', `${echo.url}/`], ['--add']]) {
        const r = await allow(...bad);
        expect(r.code, r.out).toBe(2);
        expect(r.lines).toHaveLength(1);
      }
      expect((await allow('--add', 'ftp://x/')).out).toMatch(/^gatehouse-agent: --add ftp:\/\/x\/: /);
      expect(JSON.parse(readFileSync(agent.configPath, 'utf8')).allow).toEqual([`${echo.url}/`]);

      // A file edited by hand into an invalid list is not taken up: the agent says so and keeps its list.
      const good = readFileSync(agent.configPath, 'utf8');
      try {
        writeFileSync(agent.configPath, JSON.stringify({ ...JSON.parse(good), allow: [] }), { mode: 0o600 });
        await agent.waitForLine((l) => l.includes('"config change not applied: keeping the allow-list"') && l.includes('at least one --allow'));
        const echoConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
          .id as string;
        expect((await api(hub.url, token, 'POST', `/v1/connections/${echoConn}/invoke`, { method: 'GET', url: 'still' })).json.statusCode).toBe(200);
      } finally {
        writeFileSync(agent.configPath, good, { mode: 0o600 });
      }
    } finally {
      other.close();
    }
  });

  it('SIGHUP (systemctl reload) applies a changed allow-list at once; the agent keeps running (SIGHUP ended it)', async () => {
    const good = readFileSync(agent.configPath, 'utf8');
    const extra = 'https://reload.example/api/';
    try {
      writeFileSync(agent.configPath, JSON.stringify({ ...JSON.parse(good), allow: [`${echo.url}/`, extra] }), { mode: 0o600 });
      // Sent right after the write: the 2 s poll comes later (it could win only within this millisecond).
      agent.child.kill('SIGHUP');
      const line = JSON.parse(await agent.waitForLine((l) => l.includes('"allow-list changed"') && l.includes(extra), 5000));
      expect(line).toMatchObject({ by: 'SIGHUP', allow: [`${echo.url}/`, extra] });
      expect(agent.child.exitCode).toBeNull();
      const id = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
        .id as string;
      expect((await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'after-hup' })).json.statusCode).toBe(200);
    } finally {
      writeFileSync(agent.configPath, good, { mode: 0o600 });
    }
  });

  it.runIf(process.getuid?.() === 0)(
    "root editing a config that belongs to the service user leaves it to that user (it became root's: the service could not read it)",
    async () => {
      const copy = variant(() => {});
      chownSync(copy, 65534, 65534);
      const p = startProc([AGENT_MAIN, 'allow', '--config', copy, '--add', 'https://intranet.example/api/'], {});
      expect(await p.exited, p.lines.join('\n')).toBe(0);
      expect(statSync(copy)).toMatchObject({ uid: 65534, gid: 65534 });
      expect(statSync(copy).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(copy, 'utf8')).allow).toEqual([`${echo.url}/`, 'https://intranet.example/api/']);
    },
  );
});
