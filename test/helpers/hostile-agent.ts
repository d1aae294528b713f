// A hand-driven agent for tests of what the hub does with an agent's frames: it registers as a real member (a
// real registration key from the hub's API), connects with the real credential, speaks the real protocol through
// the shared codec, and answers every request head with whatever the test scripts (`answer`), including what a
// real agent never sends. It records what the hub sends it (request heads, CANCELs).
import { request as httpRequest } from 'node:http';
import { WebSocket } from 'ws';
import { generateKeyPairSync } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import {
  AGENT_CONNECT_PATH,
  AGENT_RECEIVES,
  AGENT_REGISTER_PATH,
  FrameType,
  decodeFrame,
  encodeFrame,
  type Frame,
  type RequestHeadMessage,
} from '@gatehouse/shared';
import { api, b64 } from './stack.js';

/** Connects to the hub's agent endpoint with `credential`; rejects with `status` when the upgrade is refused. */
export function connectAgentSocket(hubUrl: string, credential: string, localAddress?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${hubUrl.replace('http', 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: { authorization: `GatehouseAgent ${credential}` },
      ...(localAddress ? { localAddress } : {}),
    });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}

export const helloFrame = (versions = [1]): Buffer =>
  encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions, agentVersion: 'raw', hostname: 'raw', capabilities: [] } });

/** Sends HELLO and waits for WELCOME; the version the hub picked (0 when the answer was no WELCOME). */
export async function agentHandshake(ws: WebSocket, versions = [1]): Promise<number> {
  const welcome = new Promise<Buffer>((r) => ws.once('message', (d) => r(d as Buffer)));
  ws.send(helloFrame(versions));
  const f = decodeFrame(await welcome, AGENT_RECEIVES);
  return f.type === FrameType.Welcome ? f.msg.version : 0;
}

/** A new gateway with one member registered through the agent API (no agent process): its credential. */
export async function registerMember(hubUrl: string, token: string, name = 'hostile'): Promise<{ gatewayId: string; memberId: string; credential: string }> {
  const gw = await api(hubUrl, token, 'POST', '/v1/gateways', { name });
  if (gw.status !== 201) throw new Error(`gateway create: ${gw.status} ${gw.text}`);
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const reg = await api(hubUrl, undefined, 'POST', AGENT_REGISTER_PATH, {
    gatewayId: gw.json.id,
    registrationKey: gw.json.registrationKey,
    name,
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sealedPrivateKey: 'sealed',
  });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  return { gatewayId: gw.json.id as string, memberId: reg.json.memberId as string, credential: reg.json.credential as string };
}

export interface HostileCall {
  stream: number;
  head: RequestHeadMessage;
}

export interface HostileAgent {
  gatewayId: string;
  memberId: string;
  version: number;
  ws: WebSocket;
  /** Scripted answer to each request head (replace it per case); the default never answers. */
  answer: (call: HostileCall, agent: HostileAgent) => void | Promise<void>;
  /** Request heads received, and the streams the hub cancelled. */
  heads: HostileCall[];
  cancelled: Set<number>;
  /** Sends a frame in the agreed version; resolves once ws has written it. */
  send(frame: Frame): Promise<void>;
  /** Set when the hub closed the socket (its close code). */
  closeCode: number | undefined;
  close(): Promise<void>;
}

/**
 * Registers a member of a new gateway and connects it (protocol `versions`, default [2]: JSON heads, which carry
 * any text, and RESPONSE frames). It pings every 5 s so the hub's heartbeat never takes it offline mid-test.
 */
export async function startHostileAgent(hubUrl: string, token: string, versions = [2]): Promise<HostileAgent> {
  const member = await registerMember(hubUrl, token);
  const ws = await connectAgentSocket(hubUrl, member.credential);
  const version = await agentHandshake(ws, versions);
  const ping = setInterval(() => ws.send(encodeFrame({ type: FrameType.Ping, stream: 0, data: Buffer.alloc(8) })), 5_000);
  const agent: HostileAgent = {
    ...member,
    version,
    ws,
    heads: [],
    cancelled: new Set(),
    closeCode: undefined,
    answer: () => {},
    send: (frame) => new Promise((resolve, reject) => ws.send(encodeFrame(frame, version), (err) => (err ? reject(err) : resolve()))),
    async close() {
      clearInterval(ping);
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((r) => ws.once('close', () => r()));
      ws.close();
      await closed;
    },
  };
  ws.on('message', (d) => {
    const f = decodeFrame(d as Buffer, AGENT_RECEIVES, version);
    if (f.type === FrameType.RequestHead) {
      const call = { stream: f.stream, head: f.msg };
      agent.heads.push(call);
      void Promise.resolve(agent.answer(call, agent)).catch(() => {});
    } else if (f.type === FrameType.Cancel) agent.cancelled.add(f.stream);
  });
  ws.on('close', (code) => {
    clearInterval(ping);
    agent.closeCode = code;
  });
  return agent;
}

/** A number from the hub's /metrics (undefined when the series is not there). */
export async function hubMetric(hubUrl: string, pattern: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** gatehouse_agent_streams_open of one gateway on a hub (-1 when the gateway has no session there). */
export const streamsOpen = async (hubUrl: string, gatewayId: string): Promise<number> =>
  (await hubMetric(hubUrl, new RegExp(`^gatehouse_agent_streams_open\\{gateway="${gatewayId}"\\} (\\d+)$`, 'm'))) ?? -1;

/** The hub process's external memory (Buffers), in bytes. */
export const externalBytes = async (hubUrl: string): Promise<number> =>
  (await hubMetric(hubUrl, /^gatehouse_hub_nodejs_external_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m))!;

/** A raw GET of `path` on the hub, with the caller's token, asking to keep the connection. */
export const keepAliveGet = (path: string, token: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer ${token}\r\nConnection: keep-alive\r\n\r\n`;

/** One raw exchange on a keep-alive connection to `port`: `first` is sent, and once its answer's head has come,
 *  `second`; everything received until the hub closes the connection (or 10 s pass: `closed` false). */
export function keepAliveExchange(port: number, first: string, second: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(first));
    let text = '';
    let sentSecond = false;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, 10_000);
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (!sentSecond && text.includes('\r\n\r\n')) {
        sentSecond = true;
        socket.write(second);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

/** Another tenant's calls on connection `goodConn` (invoke and raw route, through its real agent to the echo service), every 20 ms until stopped: every answer must be right. */
export function otherTenantCalls(hubUrl: string, token: string, goodConn: string): { stop(): Promise<{ ok: number; wrong: string[] }> } {
  let running = true;
  let ok = 0;
  const wrong: string[] = [];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        if (i % 2) {
          const r = await api(hubUrl, token, 'POST', `/v1/connections/${goodConn}/invoke`, { method: 'POST', url: 'echo/b', body: b64(`tenant-b ${i}`) });
          if (r.status === 200 && r.json.statusCode === 200 && Buffer.from(r.json.body, 'base64').toString() === `tenant-b ${i}`) ok++;
          else wrong.push(`invoke ${r.status} ${r.text.slice(0, 200)}`);
        } else {
          const r = await fetch(`${hubUrl}/v1/connections/${goodConn}/proxy/echo/b`, {
            method: 'POST',
            body: `tenant-b ${i}`,
            headers: { authorization: `Bearer ${token}` },
          });
          const text = await r.text();
          if (r.status === 200 && text === `tenant-b ${i}`) ok++;
          else wrong.push(`proxy ${r.status} ${text.slice(0, 200)}`);
        }
      } catch (err) {
        wrong.push(String(err));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, wrong };
    },
  };
}

/** A key rotation commit from `credential` whose body is still arriving (1,000 bytes declared, 26 sent): it holds the
 *  member's (and its tenant's) place among rotation requests in progress until `release()`, which resolves once the
 *  connection is gone. */
export function holdRotationCommit(hubUrl: string, credential: string): { release(): Promise<void> } {
  const req = httpRequest(`${hubUrl}/v1/agent/rotate/commit`, {
    method: 'POST',
    headers: { authorization: `GatehouseAgent ${credential}`, 'content-type': 'application/json', 'content-length': '1000' },
  });
  const done = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });
  req.write('{"previousPublicKeyPem":"');
  return {
    release() {
      req.destroy();
      return done;
    },
  };
}
