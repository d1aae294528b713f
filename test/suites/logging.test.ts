// Log output: the access line of a relayed call, and log writing that never stalls the relay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { decodeJwt } from 'jose';
import { api, gatewayWithAgent } from '../helpers/stack.js';
import { startCannedServer } from '../helpers/not-http.js';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';

let stack: StandardStack;
beforeAll(async () => {
  stack = await startStandardStack({ hubEnv: { GATEHOUSE_THROTTLE: '100000/60s' } });
});
afterAll(async () => {
  await stack?.stop();
});

describe('access log', () => {
  it("the caller's request id names the call everywhere: answer, hub log, the service's one x-request-id, errors", async () => {
    // Regression: the hub logged and answered its own UUID while the agent and service got the caller's id, and
    // on the raw route the service got the caller's x-request-id and the hub's as two headers.
    const { hub, token, gatewayId, echo } = stack;
    const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
      .id as string;
    const auth = { authorization: `Bearer ${token}` };
    const res = await request(`${hub.url}/v1/connections/${conn}/proxy/echo/rid`, { headers: { ...auth, 'x-request-id': 'caller-trace-42' } });
    await res.body.text();
    expect(res.headers['x-request-id']).toBe('caller-trace-42');
    expect(echo.received.at(-1)!.headers['x-request-id']).toBe('caller-trace-42');
    expect(JSON.parse(await hub.waitForLine((l) => l.includes('"call done"') && l.includes('caller-trace-42'))).requestId).toBe('caller-trace-42');
    // invoke: the HTTP header names the call; an x-request-id among the service's headers does not make a second one
    const inv = await api(
      hub.url,
      token,
      'POST',
      `/v1/connections/${conn}/invoke`,
      { method: 'GET', url: 'rid2', headers: { 'x-request-id': 'in-json' } },
      { 'x-ms-client-request-id': 'ms-client-7' },
    );
    expect(inv.headers['x-request-id']).toBe('ms-client-7');
    expect(echo.received.at(-1)!.headers['x-request-id']).toBe('ms-client-7');
    const missing = await api(hub.url, token, 'GET', '/v1/connections/no-such-connection', undefined, { 'x-request-id': 'caller-trace-43' });
    expect(missing.json.error.requestId).toBe('caller-trace-43');
    // an id that is not a sane token is replaced by a new one, used the same way
    const odd = await request(`${hub.url}/v1/connections/${conn}/proxy/echo/rid3`, { headers: { ...auth, 'x-request-id': 'has spaces; and more' } });
    await odd.body.text();
    expect(odd.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(echo.received.at(-1)!.headers['x-request-id']).toBe(odd.headers['x-request-id']);
  });

  it('one JSON line per relayed call, in the logger format, with ids, status and sizes and no secrets', async () => {
    const { hub, token, gatewayId, echo } = stack;
    const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
      .id as string;
    const res = await request(`${hub.url}/v1/connections/${conn}/proxy/echo/logged`, {
      method: 'POST',
      body: 'twelve bytes',
      headers: { authorization: `Bearer ${token}`, cookie: 'session=secret-cookie' },
    });
    await res.body.text();
    expect(res.statusCode).toBe(200);
    const requestId = res.headers['x-request-id'] as string;
    const line = await hub.waitForLine((l) => l.includes('"call done"') && l.includes(requestId));
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({
      level: 30,
      name: 'gatehouse-hub',
      pid: hub.child.pid,
      requestId,
      connection: conn,
      route: 'proxy',
      method: 'POST',
      status: 200,
      finished: true,
      requestBytes: 12,
      msg: 'call done',
    });
    expect(typeof entry.time).toBe('number');
    expect(entry.responseBytes).toBeGreaterThan(0);
    expect(entry.host).toBe(new URL(echo.url).host);
    expect(entry.client).toBe('127.0.0.1'); // the address the caller's connection came from
    expect(hub.lines.filter((l) => l.includes(requestId) && l.includes('"call done"'))).toHaveLength(1);
    for (const l of hub.lines) {
      expect(l).not.toContain(token);
      expect(l).not.toContain('secret-cookie');
    }
  });
});

describe('the access line says what the caller got, beside what the service answered', () => {
  it("a service's answer that breaks off after its head: status 200 (the service's), answered 502 with the error code; a good call and a 404 have no error", async () => {
    // Before: the line said status 200 and nothing else while the caller got the hub's 502.
    const { hub, token } = stack;
    const odd = await startCannedServer({ cut: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello', fine: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' });
    const gw = await gatewayWithAgent(hub.url, token, [`http://127.0.0.1:${odd.port}/`], 'answer-line');
    try {
      const id = (
        await api(hub.url, token, 'POST', '/v1/connections', {
          authType: 'AnonymousGateway',
          baseResourceUrl: `http://127.0.0.1:${odd.port}`,
          gatewayId: gw.gatewayId,
        })
      ).json.id as string;
      const lineOf = async (requestId: unknown) => JSON.parse(await hub.waitForLine((l) => l.includes('"call done"') && l.includes(String(requestId))));
      const cut = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'cut' });
      expect(cut.status).toBe(502);
      expect(await lineOf(cut.headers['x-request-id'])).toMatchObject({ route: 'invoke', status: 200, answered: 502, error: 'BadGateway', finished: true });
      const fine = await api(hub.url, token, 'POST', `/v1/connections/${id}/invoke`, { method: 'GET', url: 'fine' });
      expect(fine.json.statusCode).toBe(200);
      const fineLine = await lineOf(fine.headers['x-request-id']);
      expect(fineLine).toMatchObject({ route: 'invoke', status: 200, answered: 200, finished: true });
      expect(fineLine.error).toBeUndefined();
      const missing = await request(`${hub.url}/v1/connections/${id}/proxy/nothing`, { headers: { authorization: `Bearer ${token}` } });
      await missing.body.text();
      expect(missing.statusCode).toBe(404);
      const missingLine = await lineOf(missing.headers['x-request-id']);
      expect(missingLine).toMatchObject({ route: 'proxy', status: 404, answered: 404, finished: true });
      expect(missingLine.error).toBeUndefined();
    } finally {
      await gw.agent.stop();
      odd.close();
    }
  });
});

describe('who acted: every line after the token check names the caller', () => {
  it('connection created, updated and deleted, gateway routing changed, a registration key issued, and the access line of a call carry tid and oid', async () => {
    // Before: admin lines said what changed but not who changed it; updates and deletions were not logged at all.
    // Each change is one `audit` line (audit/audit.ts), which names the actor as well.
    const { hub, token, gatewayId, echo } = stack;
    const claims = decodeJwt(token);
    const who = { tid: String(claims.tid), oid: String(claims.oid).toLowerCase() };
    const line = async (msg: string, id: string) => JSON.parse(await hub.waitForLine((l) => l.includes(`"msg":"${msg}"`) && l.includes(id)));
    const audit = async (action: string, id: string) =>
      JSON.parse(await hub.waitForLine((l) => l.includes('"msg":"audit"') && l.includes(`"action":"${action}"`) && l.includes(id)));
    const actor = { type: 'User', ...who };
    const c = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId });
    expect(c.status).toBe(201);
    expect(await audit('connection.create', c.json.id)).toMatchObject({ ...who, actor, target: { type: 'connection', id: c.json.id } });
    expect((await api(hub.url, token, 'PATCH', `/v1/connections/${c.json.id}`, { displayName: 'audited', timeoutSeconds: 30 })).status).toBe(200);
    expect(await audit('connection.update', c.json.id)).toMatchObject({
      ...who,
      actor,
      target: { type: 'connection', id: c.json.id },
      details: { changed: ['displayName', 'timeoutSeconds'] },
    });
    const inv = await api(hub.url, token, 'POST', `/v1/connections/${c.json.id}/invoke`, { method: 'GET', url: 'echo/audited' });
    expect(await line('call done', inv.headers['x-request-id'] as string)).toMatchObject({ ...who, connection: c.json.id, route: 'invoke' });
    expect((await api(hub.url, token, 'DELETE', `/v1/connections/${c.json.id}`)).status).toBe(204);
    expect(await audit('connection.delete', c.json.id)).toMatchObject({ ...who, actor, target: { type: 'connection', id: c.json.id } });
    const key = await api(hub.url, token, 'POST', `/v1/gateways/${gatewayId}/registration-keys`);
    expect(key.status).toBe(201);
    expect(await audit('registrationKey.create', gatewayId)).toMatchObject({ ...who, actor, gateway: gatewayId });
    expect((await api(hub.url, token, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: 'primary' })).status).toBe(200);
    expect(await audit('gateway.update', gatewayId)).toMatchObject({ ...who, actor, gateway: gatewayId, details: { routing: 'primary' } });
    for (const l of hub.lines) {
      expect(l).not.toContain(token.split('.')[2]!);
      expect(l).not.toContain(key.json.registrationKey);
    }
  });
});

describe('log output', () => {
  it('the hub keeps relaying while nobody reads its log, and no line is lost once the reader is back', async () => {
    const { hub, token, gatewayId, echo } = stack;
    const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId })).json
      .id as string;
    const before = hub.lines.filter((l) => l.includes('"call done"')).length;
    hub.child.stdout!.pause();
    // 1,200 access lines (~500 KiB) are more than a pipe holds: a hub writing its log with blocking writes
    // would stop serving part way through.
    const ids: string[] = [];
    const worker = async () => {
      while (ids.length < 1200) {
        const res = await request(`${hub.url}/v1/connections/${conn}/proxy/echo/quiet-reader`, { headers: { authorization: `Bearer ${token}` } });
        await res.body.text();
        expect(res.statusCode).toBe(200);
        ids.push(res.headers['x-request-id'] as string);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    hub.child.stdout!.resume();
    await hub.waitForLine((l) => l.includes(ids.at(-1)!) && l.includes('"call done"'));
    await new Promise((r) => setTimeout(r, 300));
    const done = hub.lines.filter((l) => l.includes('"call done"'));
    expect(done.length - before).toBe(ids.length);
    for (const id of ids.slice(0, 50)) expect(done.some((l) => l.includes(id))).toBe(true);
  });

  it('a log reader that stops reading neither blocks the process nor tears lines; drops are counted; the last line is kept', async () => {
    const shared = fileURLToPath(new URL('../../packages/shared/dist/index.js', import.meta.url));
    // Writes 20 lines of ~1 KiB per event-loop turn for 1.5 s with a 256 KiB bound, reports how many turns
    // ran in the first 0.9 s (while nobody reads its stdout), then writes a last line and exits.
    const script = `
      import { LineOutput } from ${JSON.stringify(shared)};
      import { writeSync } from 'node:fs';
      void process.stdout; // as the hub and agent do: a pipe on stdout becomes non-blocking
      const out = new LineOutput((buf) => writeSync(1, buf), 256 * 1024);
      const pad = 'x'.repeat(1000);
      const t0 = Date.now();
      let turns = 0, reported = false;
      const tick = () => {
        for (let i = 0; i < 20; i++) out.write('{"turn":' + turns + ',"pad":"' + pad + '"}\\n');
        turns++;
        if (!reported && Date.now() - t0 >= 900) { reported = true; process.stderr.write('turns ' + turns + '\\n'); }
        if (Date.now() - t0 < 1500) setImmediate(tick);
        else { out.write('{"msg":"last line"}\\n'); process.exit(0); }
      };
      tick();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const chunks: Buffer[] = [];
    setTimeout(() => {
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stdout.resume();
    }, 1000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, stderr).toBe(0);
    // With blocking writes the first full pipe (a few hundred KiB, a dozen turns) would have stopped it.
    const turns = Number(/turns (\d+)/.exec(stderr)?.[1]);
    expect(turns).toBeGreaterThan(200);
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    for (const l of lines) expect(() => JSON.parse(l), l.slice(0, 80)).not.toThrow();
    const dropped = lines.map((l) => JSON.parse(l)).filter((e) => /log output was not read in time: \d+ lines dropped/.test(e.msg ?? ''));
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped[0].level).toBe(40);
    expect(lines.at(-1)).toBe('{"msg":"last line"}');
  });
});
