// A raw WebSocket client playing a misbehaving agent: every violation closes only its own socket with the
// documented code, and a real agent on the same hub keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WebSocket, WebSocketServer } from 'ws';
import { connect as netConnect } from 'node:net';
import { createServer } from 'node:http';
import { CloseCode, FrameType, HUB_RECEIVES, Limits, MAX_STREAM_ID, decodeFrame, encodeFrame, joinUrl, AGENT_RECEIVES, type Frame } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { AGENT_MAIN, api, gatewayWithAgent, runAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';
import { agentHandshake, connectAgentSocket, helloFrame } from '../helpers/hostile-agent.js';
import { URL_CORPUS } from '../helpers/url-corpus.js';

let entra: FakeEntra;
let echo: EchoServer;
let hub: HubProc;
let agent: AgentProc;
let token: string;
let goodConn: string;
let rawCredential: string;
let rawGateway: string;

async function registerOnly(): Promise<{ credential: string; gatewayId: string; configPath: string }> {
  const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'raw' });
  const configPath = join(tempDir(), 'agent.json');
  const p = startProc(
    [AGENT_MAIN, 'register', '--hub', hub.url, '--gateway', gw.json.id, '--key', gw.json.registrationKey, '--allow', `${echo.url}/`, '--config', configPath],
    {},
  );
  expect(await p.exited).toBe(0);
  const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as { credential: string };
  return { credential: cfg.credential, gatewayId: gw.json.id, configPath };
}

const connect = (credential = rawCredential): Promise<WebSocket> => connectAgentSocket(hub.url, credential);
const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));
const hello = helloFrame;

async function handshake(ws: WebSocket, versions = [1]): Promise<number> {
  const version = await agentHandshake(ws, versions);
  expect(version).toBeGreaterThan(0);
  return version;
}

async function othersUnaffected(): Promise<void> {
  const r = await api(hub.url, token, 'POST', `/v1/connections/${goodConn}/invoke`, { method: 'GET', url: 'still-ok' });
  expect(r.status).toBe(200);
}

/** A hand-driven hub for a real agent (registered on the real hub, then pointed here): answers HELLO with
 *  WELCOME of `version` and records every other frame, and writes and reads frames as that version does.
 *  `allow`: the agent's --allow prefixes instead of the whole echo service. */
async function handDrivenHub(version: number, allow?: string[]) {
  const { configPath } = await registerOnly();
  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as { hubs: string[] };
  writeFileSync(configPath, JSON.stringify({ ...cfg, hubs: [`http://127.0.0.1:${(server.address() as { port: number }).port}`], ...(allow ? { allow } : {}) }));
  const h = {
    frames: [] as Frame[],
    offered: [] as number[],
    closeCode: undefined as number | undefined,
    ws: undefined as WebSocket | undefined,
    send: (f: Frame) => h.ws!.send(encodeFrame(f, version)),
    close: () => {
      wss.close();
      server.closeAllConnections();
      server.close();
    },
  };
  wss.on('connection', (socket) => {
    h.ws = socket;
    socket.on('message', (d) => {
      const f = decodeFrame(d as Buffer, HUB_RECEIVES, h.offered.length ? version : 0);
      if (f.type === FrameType.Hello) {
        h.offered = f.msg.versions;
        socket.send(
          encodeFrame({
            type: FrameType.Welcome,
            stream: 0,
            msg: {
              version,
              memberId: 'm',
              gatewayId: 'g',
              heartbeatIntervalMs: 60_000,
              heartbeatTimeoutMs: 120_000,
              streamWindowBytes: 256 * 1024,
              maxDataBytes: Limits.maxDataBytes,
            },
          }),
        );
      } else h.frames.push(f);
    });
    socket.on('close', (code) => {
      h.closeCode = code;
    });
  });
  return Object.assign(h, { agent: await runAgent(configPath) });
}

beforeAll(async () => {
  entra = await startFakeEntra();
  echo = await startEchoServer();
  hub = await startHub(entra);
  token = await entra.token();
  const good = await gatewayWithAgent(hub.url, token, [`${echo.url}/`]);
  agent = good.agent;
  goodConn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: good.gatewayId })).json
    .id;
  ({ credential: rawCredential, gatewayId: rawGateway } = await registerOnly());
});
afterAll(async () => {
  await agent?.stop();
  await hub?.stop();
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

describe('agent authentication at the upgrade', () => {
  it('a bad credential gets 401 before any WebSocket exists', async () => {
    const [memberId] = rawCredential.split('.');
    await expect(connect(`${memberId}.wrong-secret`)).rejects.toMatchObject({ status: 401 });
    await expect(connect('')).rejects.toMatchObject({ status: 401 });
    await othersUnaffected();
  });
  it('the right credential connects', async () => {
    const ws = await connect();
    await handshake(ws);
    ws.close();
  });
});

describe('frame violations close with their code', () => {
  it.each([
    ['too short to be a frame', () => Buffer.from([1, 0]), CloseCode.MalformedFrame],
    ['unknown frame type', () => Buffer.from([99, 0, 0, 0, 0]), CloseCode.UnknownFrameType],
    [
      'hub-to-agent frame type sent by an agent',
      () =>
        encodeFrame({
          type: FrameType.Welcome,
          stream: 0,
          msg: { version: 1, memberId: 'x', gatewayId: 'y', heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 2000, streamWindowBytes: 4096, maxDataBytes: 4096 },
        }),
      CloseCode.UnexpectedFrame,
    ],
    ['data before HELLO', () => Buffer.concat([Buffer.from([FrameType.Data, 0, 0, 0, 1]), Buffer.from('x')]), CloseCode.UnexpectedFrame],
    ['HELLO with bad JSON', () => Buffer.concat([Buffer.from([FrameType.Hello, 0, 0, 0, 0]), Buffer.from('{nope')]), CloseCode.MalformedFrame],
    ['HELLO with no common version', () => hello([99]), CloseCode.UnsupportedVersion],
  ])('%s', async (_name, frame, code) => {
    const ws = await connect();
    const c = closed(ws);
    ws.send(frame());
    expect(await c).toBe(code);
    await othersUnaffected();
  });

  it('a text message', async () => {
    const ws = await connect();
    const c = closed(ws);
    ws.send('hello');
    expect(await c).toBe(CloseCode.MalformedFrame);
  });

  it('an oversized message is refused by maxPayload (1009)', async () => {
    const ws = await connect();
    const c = closed(ws);
    ws.send(Buffer.alloc(Limits.maxFrameBytes + 1));
    expect(await c).toBe(CloseCode.MessageTooBig);
    await othersUnaffected();
  });

  it('out of order after the handshake: second HELLO, response for a stream never opened', async () => {
    let ws = await connect();
    await handshake(ws);
    let c = closed(ws);
    ws.send(hello());
    expect(await c).toBe(CloseCode.UnexpectedFrame);
    ws = await connect();
    await handshake(ws);
    c = closed(ws);
    ws.send(encodeFrame({ type: FrameType.ResponseHead, stream: 41, msg: { status: 200, headers: [] } }));
    expect(await c).toBe(CloseCode.UnexpectedFrame);
    await othersUnaffected();
  });

  it('data beyond the credit window closes with 4003; the stalled caller is cut off', async () => {
    const ws = await connect();
    await handshake(ws);
    const conn = await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: rawGateway });
    const headSeen = new Promise<number>((r) =>
      ws.on('message', (d) => {
        const f = decodeFrame(d as Buffer, AGENT_RECEIVES);
        if (f.type === FrameType.RequestHead) r(f.stream);
      }),
    );
    // A caller that sends its request and then never reads: the hub stops granting credit once it backs up.
    const body = JSON.stringify({ method: 'GET', url: 'x' });
    const caller = netConnect(hub.port, '127.0.0.1');
    caller.on('error', () => {});
    caller.write(
      `POST /v1/connections/${conn.json.id}/invoke HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    caller.pause();
    const stream = await headSeen;
    const c = closed(ws);
    let isClosed = false;
    void c.then(() => {
      isClosed = true;
    });
    ws.send(encodeFrame({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [] } }));
    const chunk = Buffer.alloc(Limits.maxDataBytes, 1);
    // Bounded: the hub must object long before 256 MiB (its window is 256 KiB plus what the caller's socket absorbed).
    for (let sent = 0; sent < 256 * 1024 * 1024 && !isClosed; sent += chunk.length) {
      await new Promise<void>((r) => ws.send(encodeFrame({ type: FrameType.Data, stream, data: chunk }), () => r()));
    }
    expect(await c).toBe(CloseCode.FlowControlViolation);
    caller.destroy();
    await othersUnaffected();
  });

  it('the gateway shows offline once its only raw session is gone', async () => {
    await expect.poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${rawGateway}`)).json.status).toBe('offline');
  });
});

describe('protocol versions 2 (RESPONSE frames, no END after a body-less head) and 3 (binary heads)', () => {
  /** A raw agent on the raw gateway that records every frame it gets; `answer` replies to each REQUEST_HEAD. */
  async function rawAgent(versions: number[], answer: (ws: WebSocket, stream: number) => void) {
    const ws = await connect();
    const version = await handshake(ws, versions);
    const frames: Frame[] = [];
    ws.on('message', (d) => {
      const f = decodeFrame(d as Buffer, AGENT_RECEIVES, version);
      frames.push(f);
      if (f.type === FrameType.RequestHead) answer(ws, f.stream);
    });
    // The hub answers a PING after every frame it sent before it: all of them have arrived when the PONG has.
    const settled = async () => {
      const pong = new Promise<void>((r) =>
        ws.on('message', (d) => {
          if ((d as Buffer)[0] === FrameType.Pong) r();
        }),
      );
      ws.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) }));
      await pong;
    };
    return { ws, version, frames, settled };
  }
  let conn: string;
  const proxied = async (path: string) => {
    conn ??= (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: rawGateway })).json.id;
    const r = await fetch(`${hub.url}/v1/connections/${conn}/proxy/${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, headers: r.headers, body: await r.text() };
  };
  const ends = (frames: Frame[]) => frames.filter((f) => f.type === FrameType.End).length;

  it('an agent offering version 2 gets it, no END after a body-less head, and its RESPONSE frame is the whole answer', async () => {
    const a = await rawAgent([2, 1], (ws, stream) =>
      ws.send(
        encodeFrame({
          type: FrameType.Response,
          stream,
          msg: {
            status: 201,
            headers: [
              ['x-one', 'frame'],
              ['content-type', 'text/plain'],
            ],
          },
          data: Buffer.from('whole answer'),
        }),
      ),
    );
    try {
      expect(a.version).toBe(2);
      const r = await proxied('v2');
      expect([r.status, r.headers.get('x-one'), r.body]).toEqual([201, 'frame', 'whole answer']);
      await a.settled();
      expect(a.frames.filter((f) => f.type === FrameType.RequestHead)).toHaveLength(1);
      expect(ends(a.frames)).toBe(0);
    } finally {
      a.ws.close();
    }
    // An answer without a body comes the same way.
    await expect.poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${rawGateway}`)).json.status).toBe('offline');
    const empty = await rawAgent([2], (ws, stream) =>
      ws.send(encodeFrame({ type: FrameType.Response, stream, msg: { status: 204, headers: [] }, data: Buffer.alloc(0) })),
    );
    try {
      expect((await proxied('v2-empty')).status).toBe(204);
      await empty.settled();
      expect(ends(empty.frames)).toBe(0);
    } finally {
      empty.ws.close();
    }
  });

  it('a version-1 agent still gets END after a body-less head, and a RESPONSE frame from it closes its connection (4002)', async () => {
    const a = await rawAgent([1], () => {});
    try {
      expect(a.version).toBe(1);
      const caller = proxied('v1');
      await expect.poll(() => a.frames.find((f) => f.type === FrameType.RequestHead)).toBeDefined();
      const stream = a.frames.find((f) => f.type === FrameType.RequestHead)!.stream;
      await expect.poll(() => ends(a.frames)).toBe(1);
      const c = closed(a.ws);
      a.ws.send(encodeFrame({ type: FrameType.Response, stream, msg: { status: 200, headers: [] }, data: Buffer.from('x') }));
      expect(await c).toBe(CloseCode.UnexpectedFrame);
      const r = await caller;
      expect(r.status).toBe(502);
    } finally {
      a.ws.close();
    }
    await othersUnaffected();
  });

  it('an agent offering version 3 gets it: the request head comes in binary, its binary RESPONSE is the answer', async () => {
    const a = await rawAgent([3, 2, 1], (ws, stream) =>
      ws.send(
        encodeFrame(
          {
            type: FrameType.Response,
            stream,
            msg: {
              status: 202,
              headers: [
                ['x-three', 'binary é'],
                ['content-type', 'text/plain'],
              ],
              backendMs: 3,
            },
            data: Buffer.from('binary answer'),
          },
          3,
        ),
      ),
    );
    const raw: Buffer[] = [];
    a.ws.on('message', (d) => {
      if ((d as Buffer)[0] === FrameType.RequestHead) raw.push(d as Buffer);
    });
    try {
      expect(a.version).toBe(3);
      const r = await proxied('v3/path?q=1');
      expect([r.status, r.headers.get('x-three'), r.body]).toEqual([202, 'binary é', 'binary answer']);
      await a.settled();
      const head = a.frames.find((f) => f.type === FrameType.RequestHead);
      expect(head?.type === FrameType.RequestHead && [head.msg.method, head.msg.url, head.msg.bodyLength]).toEqual(['GET', `${echo.url}/v3/path?q=1`, 0]);
      expect(ends(a.frames)).toBe(0);
      // what came is not JSON: read as version 2 it is no frame at all
      expect(() => decodeFrame(raw[0]!, AGENT_RECEIVES, 2)).toThrow(expect.objectContaining({ closeCode: CloseCode.MalformedFrame }));
    } finally {
      a.ws.close();
    }
    await expect.poll(async () => (await api(hub.url, token, 'GET', `/v1/gateways/${rawGateway}`)).json.status).toBe('offline');
  });

  it('a JSON head on a version-3 connection closes it (4000)', async () => {
    const a = await rawAgent([3], (ws, stream) =>
      ws.send(encodeFrame({ type: FrameType.Response, stream, msg: { status: 200, headers: [] }, data: Buffer.from('x') })),
    );
    const c = closed(a.ws);
    const caller = proxied('json-on-v3');
    expect(await c).toBe(CloseCode.MalformedFrame);
    expect((await caller).status).toBe(502);
    await othersUnaffected();
  });

  it('a RESPONSE after a RESPONSE_HEAD on the same stream closes the connection (4002)', async () => {
    const a = await rawAgent([2], (ws, stream) => {
      ws.send(encodeFrame({ type: FrameType.ResponseHead, stream, msg: { status: 200, headers: [] } }));
      ws.send(encodeFrame({ type: FrameType.Response, stream, msg: { status: 200, headers: [] }, data: Buffer.from('x') }));
    });
    const c = closed(a.ws);
    const caller = proxied('twice').catch(() => ({ status: 0 }));
    expect(await c).toBe(CloseCode.UnexpectedFrame);
    await caller;
    await othersUnaffected();
  });
});

describe('a real agent on a version-2 connection', () => {
  it('answers a small call in one RESPONSE frame, a large one as RESPONSE_HEAD, DATA and END; a body-less head needs no END', async () => {
    const hubSide = await handDrivenHub(2);
    const { frames } = hubSide;
    try {
      const call = async (stream: number, path: string) => {
        hubSide.send({
          type: FrameType.RequestHead,
          stream,
          msg: { requestId: `r${stream}`, method: 'GET', url: `${echo.url}${path}`, headers: [], bodyLength: 0, timeoutMs: 10_000, credentials: null },
        });
        await expect
          .poll(() => frames.some((f) => f.stream === stream && (f.type === FrameType.Response || f.type === FrameType.End || f.type === FrameType.Failure)))
          .toBe(true);
        return frames.filter((f) => f.stream === stream);
      };
      expect(hubSide.offered).toEqual([4, 3, 2, 1]);
      const small = await call(1, '/status?code=202');
      expect(small.map((f) => f.type)).toEqual([FrameType.Response]);
      const one = small[0]!;
      expect(
        one.type === FrameType.Response && [one.msg.status, Buffer.from(one.data).toString(), one.msg.headers.find(([k]) => k === 'x-status-test')?.[1]],
      ).toEqual([202, 'status body', 'yes']);
      const none = await call(3, '/status?code=204');
      expect(none.map((f) => f.type)).toEqual([FrameType.Response]);
      expect(none[0]!.type === FrameType.Response && none[0]!.data.length).toBe(0);
      // 65,500 bytes and the head do not fit in one 64 KiB frame; 200,000 arrive over several reads (under the 256 KiB window this hub never adds to).
      for (const [stream, bytes] of [
        [5, 65_500],
        [7, 200_000],
      ] as const) {
        const big = await call(stream, `/big?bytes=${bytes}`);
        expect(big[0]!.type).toBe(FrameType.ResponseHead);
        expect(big.at(-1)!.type).toBe(FrameType.End);
        expect(big.slice(1, -1).every((f) => f.type === FrameType.Data)).toBe(true);
        expect(big.reduce((n, f) => n + (f.type === FrameType.Data ? f.data.length : 0), 0)).toBe(bytes);
      }
      expect(hubSide.closeCode).toBeUndefined();
    } finally {
      await hubSide.agent.stop();
      hubSide.close();
    }
  });
});

describe('a real agent on a version-3 connection', () => {
  it('reads binary request heads and answers with binary heads, small and large, with every header it was given', async () => {
    const hubSide = await handDrivenHub(3);
    const { frames } = hubSide;
    try {
      const call = async (stream: number, path: string, headers: [string, string][] = []) => {
        hubSide.send({
          type: FrameType.RequestHead,
          stream,
          msg: { requestId: `r${stream}`, method: 'GET', url: `${echo.url}${path}`, headers, bodyLength: 0, timeoutMs: 10_000, credentials: null },
        });
        await expect
          .poll(() => frames.some((f) => f.stream === stream && (f.type === FrameType.Response || f.type === FrameType.End || f.type === FrameType.Failure)))
          .toBe(true);
        return frames.filter((f) => f.stream === stream);
      };
      expect(hubSide.offered).toEqual([4, 3, 2, 1]);
      const small = await call(1, '/status?code=203&set=x-latin:caf%C3%A9', [['x-sent', 'é']]);
      expect(
        small.map((f) => f.type),
        JSON.stringify(small),
      ).toEqual([FrameType.Response]);
      const one = small[0]!;
      expect(
        one.type === FrameType.Response && [
          one.msg.status,
          Buffer.from(one.data).toString(),
          one.msg.headers.find(([k]) => k === 'x-latin')?.[1],
          typeof one.msg.backendMs,
        ],
      ).toEqual([203, 'status body', 'café', 'number']);
      // the header went to the service as the agent read it from the binary head (as the Latin-1 byte, the one way HTTP carries é)
      expect(echo.received.at(-1)!.headers['x-sent']).toBe('é');
      const big = await call(3, '/big?bytes=70000');
      expect(big[0]!.type).toBe(FrameType.ResponseHead);
      expect(big[0]!.type === FrameType.ResponseHead && big[0]!.msg.status).toBe(200);
      expect(big.at(-1)!.type).toBe(FrameType.End);
      expect(big.reduce((n, f) => n + (f.type === FrameType.Data ? f.data.length : 0), 0)).toBe(70_000);
      expect(hubSide.closeCode).toBeUndefined();
    } finally {
      await hubSide.agent.stop();
      hubSide.close();
    }
  });
});

describe('a real agent on a connection that has used every stream id once', () => {
  it('takes the ids again from 1 (a new lap) instead of closing, and still refuses a reused one', async () => {
    // A hand-driven hub: the agent's own hub would need 2^31 calls to get there.
    const hubSide = await handDrivenHub(1);
    const { frames } = hubSide;
    try {
      const call = async (stream: number) => {
        hubSide.send({
          type: FrameType.RequestHead,
          stream,
          msg: { requestId: `r${stream}`, method: 'GET', url: `${echo.url}/lap?s=${stream}`, headers: [], bodyLength: 0, timeoutMs: 10_000, credentials: null },
        });
        await expect.poll(() => frames.some((f) => f.type === FrameType.End && f.stream === stream) || hubSide.closeCode !== undefined).toBe(true);
        expect(hubSide.closeCode).toBeUndefined();
        const head = frames.find((f) => f.type === FrameType.ResponseHead && f.stream === stream);
        return head?.type === FrameType.ResponseHead ? head.msg.status : undefined;
      };
      expect(await call(MAX_STREAM_ID - 2)).toBe(200);
      expect(await call(MAX_STREAM_ID)).toBe(200);
      expect(await call(1)).toBe(200);
      // A late frame of the last lap's call is dropped, as any finished call's is.
      hubSide.send({ type: FrameType.Credit, stream: MAX_STREAM_ID, bytes: 1024 });
      expect(await call(3)).toBe(200);
      expect(hubSide.closeCode).toBeUndefined();
      // Within a lap an id is still used once.
      hubSide.send({
        type: FrameType.RequestHead,
        stream: 3,
        msg: { requestId: 'again', method: 'GET', url: `${echo.url}/`, headers: [], bodyLength: 0, timeoutMs: 10_000, credentials: null },
      });
      await expect.poll(() => hubSide.closeCode).toBe(CloseCode.UnexpectedFrame);
    } finally {
      await hubSide.agent.stop();
      hubSide.close();
    }
  });
});

describe('a real agent applies the URL rule on its own, whatever a hub asks', () => {
  it('refuses every refused case of the URL corpus with UrlNotAllowed before calling the service, and calls the allowed ones under its prefix', async () => {
    // A hub that sends what the real hub would refuse: the agent, allowed only {echo}/api/v1/, decides alone.
    const base = `${echo.url}/api/v1`;
    const hubSide = await handDrivenHub(3, [`${base}/`]);
    const { frames } = hubSide;
    const outcomes: string[] = [];
    try {
      let stream = 1;
      for (const c of URL_CORPUS) {
        const before = echo.received.length;
        const s = (stream += 2);
        hubSide.send({
          type: FrameType.RequestHead,
          stream: s,
          msg: { requestId: `c${s}`, method: 'GET', url: joinUrl(base, c.path), headers: [], bodyLength: 0, timeoutMs: 10_000, credentials: null },
        });
        await expect
          .poll(() => frames.some((f) => f.stream === s && (f.type === FrameType.Response || f.type === FrameType.End || f.type === FrameType.Failure)))
          .toBe(true);
        const failure = frames.find((f) => f.stream === s && f.type === FrameType.Failure);
        const got =
          failure?.type === FrameType.Failure
            ? `refuse ${failure.msg.code} ${/\(([^)]*)\)$/.exec(failure.msg.message)?.[1]}`
            : `allow ${echo.received.at(-1)?.url}`;
        const want =
          c.verdict === 'allow'
            ? `allow ${c.reaches}`
            : `refuse UrlNotAllowed ${c.rule === 'path outside the base path' ? 'not under any --allow prefix' : c.rule}`;
        if (got !== want) outcomes.push(`${c.name}: ${got}, want ${want}`);
        if (c.verdict === 'refuse' && echo.received.length !== before) outcomes.push(`${c.name}: reached the service`);
      }
      expect(outcomes).toEqual([]);
      expect(hubSide.closeCode).toBeUndefined();
    } finally {
      await hubSide.agent.stop();
      hubSide.close();
    }
  });
});
