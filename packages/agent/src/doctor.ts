// `gatehouse-agent doctor`: checks each link in order and says which one fails and why: for every hub DNS,
// TCP (to the proxy when one is set), the proxy's CONNECT, TLS, the WebSocket upgrade and the agent's
// authentication; then whether each --allow service answers TCP (and TLS).
import { lookup } from 'node:dns/promises';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket } from 'ws';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { AGENT_AUTH_SCHEME, AGENT_CONNECT_PATH, Limits } from '@gatehouse/shared';
import { proxyForHub, type AgentConfig } from './config.js';

type Out = (line: string) => void;
const TIMEOUT_MS = 5000;

class LinkError extends Error {}

const line = (out: Out, ok: boolean, link: string, detail: string) => out(`${ok ? 'ok  ' : 'FAIL'}  ${link.padEnd(10)} ${detail}`);
const port = (u: URL) => Number(u.port || (u.protocol === 'https:' ? 443 : 80));
const code = (e: unknown) => (e as { code?: string }).code ?? (e as Error).message;

function tcp(host: string, p: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port: p, timeout: TIMEOUT_MS });
    s.once('connect', () => {
      s.setTimeout(0);
      resolve(s);
    });
    s.once('timeout', () => {
      s.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    });
    s.once('error', reject);
  });
}

function connectThrough(socket: Socket, target: string, proxy: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const auth = proxy.username
      ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}\r\n`
      : '';
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(buf)?.[1] ?? 0);
      if (status === 200) resolve();
      else reject(new LinkError(status === 407 ? 'the proxy wants credentials (407): put them in the proxy URL' : `the proxy answered ${status}`));
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

function tls(socket: Socket | undefined, host: string, p: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = tlsConnect({ socket, host: socket ? undefined : host, port: p, servername: isIP(host) ? undefined : host, timeout: TIMEOUT_MS });
    t.once('secureConnect', () => {
      const cert = t.getPeerCertificate();
      t.end();
      resolve(`certificate for ${cert.subject?.CN ?? '?'}, valid until ${cert.valid_to}`);
    });
    t.once('error', reject);
  });
}

function upgrade(hub: string, credential: string, proxy: URL | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${hub.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: { authorization: `${AGENT_AUTH_SCHEME} ${credential}` },
      handshakeTimeout: TIMEOUT_MS,
      maxPayload: Limits.maxFrameBytes,
      ...(proxy ? { agent: new HttpsProxyAgent(proxy) } : {}),
    });
    // Closed right after the upgrade, before HELLO: a running agent of this member is not replaced.
    ws.once('open', () => {
      ws.terminate();
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      const s = res.statusCode ?? 0;
      res.resume();
      ws.terminate();
      reject(
        new LinkError(
          s === 401
            ? 'auth:the hub refused the agent credential (401): the member was removed, or this config belongs to another hub'
            : s === 404
              ? 'upgrade:no agent endpoint at this address: is it a Gatehouse hub?'
              : `upgrade:the hub answered ${s}`,
        ),
      );
    });
    ws.once('error', (e) => reject(e));
  });
}

async function checkHub(hub: string, config: AgentConfig, out: Out): Promise<boolean> {
  out(`hub ${hub}`);
  const u = new URL(hub);
  const proxy = proxyForHub(hub);
  const first = proxy ?? u;
  const step = async (link: string, fn: () => Promise<string>): Promise<boolean> => {
    try {
      line(out, true, link, await fn());
      return true;
    } catch (e) {
      line(out, false, link, e instanceof LinkError ? e.message : `${first === u ? '' : 'proxy '}${code(e)}`);
      return false;
    }
  };
  if (!isIP(first.hostname) && !(await step('dns', async () => `${first.hostname} -> ${(await lookup(first.hostname)).address}`))) return false;
  let socket: Socket | undefined;
  if (
    !(await step('tcp', async () => {
      const t0 = Date.now();
      socket = await tcp(first.hostname, port(first));
      return `${first.hostname}:${port(first)}${proxy ? ' (proxy)' : ''} in ${Date.now() - t0} ms`;
    }))
  )
    return false;
  if (
    proxy &&
    !(await step('proxy', async () => {
      await connectThrough(socket!, `${u.hostname}:${port(u)}`, proxy);
      return `CONNECT ${u.hostname}:${port(u)} allowed`;
    }))
  ) {
    socket?.destroy();
    return false;
  }
  if (u.protocol === 'https:') {
    if (!(await step('tls', () => tls(proxy ? socket : undefined, u.hostname, port(u))))) {
      socket?.destroy();
      return false;
    }
  }
  socket?.destroy();
  try {
    await upgrade(hub, config.credential, proxy);
    line(out, true, 'upgrade', `${AGENT_CONNECT_PATH} accepted the WebSocket`);
    line(out, true, 'auth', `member ${config.memberId} of gateway ${config.gatewayId}`);
    return true;
  } catch (e) {
    if (e instanceof LinkError) {
      const [link, why] = e.message.split(/:(.*)/s) as [string, string];
      if (link === 'auth') line(out, true, 'upgrade', `${AGENT_CONNECT_PATH} answered`);
      line(out, false, link, why);
    } else line(out, false, 'upgrade', code(e));
    return false;
  }
}

async function checkService(prefix: string, out: Out): Promise<boolean> {
  const u = new URL(prefix);
  try {
    if (!isIP(u.hostname)) await lookup(u.hostname);
    const s = await tcp(u.hostname, port(u));
    if (u.protocol === 'https:') await tls(s, u.hostname, port(u));
    else s.destroy();
    line(out, true, 'service', `${u.origin} answers`);
    return true;
  } catch (e) {
    line(out, false, 'service', `${u.origin} (${code(e)})`);
    return false;
  }
}

export async function doctor(config: AgentConfig, out: Out): Promise<boolean> {
  let ok = true;
  for (const hub of config.hubs) ok = (await checkHub(hub, config, out)) && ok;
  out('services (--allow)');
  for (const p of config.allow) ok = (await checkService(p, out)) && ok;
  return ok;
}
