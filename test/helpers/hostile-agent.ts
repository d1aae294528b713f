// A hand-driven agent for tests of what the hub does with an agent's frames: it registers as a real member (a
// real registration key from the hub's API), connects with the real credential, speaks the real protocol through
// the shared codec, and answers every request head with whatever the test scripts (`answer`), including what a
// real agent never sends. It records what the hub sends it (request heads, CANCELs).
import { WebSocket } from 'ws';
import { generateKeyPairSync } from 'node:crypto';
import {
  AGENT_CONNECT_PATH, AGENT_RECEIVES, AGENT_REGISTER_PATH, FrameType, decodeFrame, encodeFrame, type Frame, type RequestHeadMessage,
} from '@gatehouse/shared';
import { api } from './stack.js';

/** Connects to the hub's agent endpoint with `credential`; rejects with `status` when the upgrade is refused. */
export function connectAgentSocket(hubUrl: string, credential: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${hubUrl.replace('http', 'ws')}${AGENT_CONNECT_PATH}`, { headers: { authorization: `GatehouseAgent ${credential}` } });
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
    gatewayId: gw.json.id, registrationKey: gw.json.registrationKey, name,
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), sealedPrivateKey: 'sealed',
  });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  return { gatewayId: gw.json.id as string, memberId: reg.json.memberId as string, credential: reg.json.credential as string };
}

export interface HostileCall { stream: number; head: RequestHeadMessage }

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
    ...member, version, ws, heads: [], cancelled: new Set(), closeCode: undefined,
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
  ws.on('close', (code) => { clearInterval(ping); agent.closeCode = code; });
  return agent;
}
