// Red team follow-up, finding 1: a WindowsGateway user name that kinit would read as an option. The hub refuses
// one (windows-auth.test.ts); here a hub that does not (hand-driven, sealing credentials as the hub does) sends
// one to a real agent, whose `kinit` is a fake on PATH that records its argv: no option from a user name reaches it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { FrameType, HUB_RECEIVES, Limits, decodeFrame, encodeFrame, sealSecret, type Frame } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.js';
import { AGENT_MAIN, api, runAgent, startHub, startProc, type AgentProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const VERSION = 3;
let entra: FakeEntra;
let hub: HubProc;
let nego: HostileServer;
let agent: AgentProc;
let server: ReturnType<typeof createServer>;
let wss: WebSocketServer;
let ws: WebSocket | undefined;
let closeCode: number | undefined;
const frames: Frame[] = [];
let kinitLog: string;
let publicKeyPem: string;
let gatewayId: string;

beforeAll(async () => {
  entra = await startFakeEntra();
  nego = await startHostileServer({ auth: 'negotiate' });
  hub = await startHub(entra);
  const token = await entra.token();
  // Registered on the real hub (for its key pair), then pointed at the hand-driven one below.
  const gw = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'kinit' });
  gatewayId = gw.json.id;
  const dir = tempDir();
  const configPath = join(dir, 'agent.json');
  const reg = startProc(
    [AGENT_MAIN, 'register', '--hub', hub.url, '--gateway', gatewayId, '--key', gw.json.registrationKey, '--allow', `${nego.url}/`, '--config', configPath],
    {},
  );
  expect(await reg.exited).toBe(0);
  const cfg = JSON.parse(readFileSync(configPath, 'utf8')) as { hubs: string[]; privateKeyPem: string };
  publicKeyPem = createPublicKey(cfg.privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();

  server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (s) => wss.emit('connection', s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  writeFileSync(configPath, JSON.stringify({ ...cfg, hubs: [`http://127.0.0.1:${(server.address() as { port: number }).port}`] }));
  wss.on('connection', (socket) => {
    ws = socket;
    let welcomed = false;
    socket.on('message', (d) => {
      const f = decodeFrame(d as Buffer, HUB_RECEIVES, welcomed ? VERSION : 0);
      if (f.type === FrameType.Hello) {
        welcomed = true;
        socket.send(
          encodeFrame({
            type: FrameType.Welcome,
            stream: 0,
            msg: {
              version: VERSION,
              memberId: 'm',
              gatewayId,
              heartbeatIntervalMs: 60_000,
              heartbeatTimeoutMs: 120_000,
              streamWindowBytes: 256 * 1024,
              maxDataBytes: Limits.maxDataBytes,
            },
          }),
        );
      } else frames.push(f);
    });
    socket.on('close', (code) => {
      closeCode = code;
    });
  });

  // The fake kinit: records each argument on a line, and fails (so no ticket: the call answers 401).
  const bin = tempDir();
  kinitLog = join(bin, 'kinit.argv');
  writeFileSync(join(bin, 'kinit'), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${kinitLog}'; done\necho end >> '${kinitLog}'\nexit 1\n`);
  chmodSync(join(bin, 'kinit'), 0o755);
  agent = await runAgent(configPath, { PATH: `${bin}:${process.env.PATH ?? ''}` });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  wss?.close();
  server?.closeAllConnections();
  server?.close();
  await hub?.stop();
  nego?.close();
  await entra?.close();
  cleanupTempDirs();
});

let stream = 1;
/** Sends one Windows call as `username` and waits for its end: a Failure, or a Response/End. */
async function call(username: string): Promise<Frame[]> {
  const s = (stream += 2);
  const sealed = sealSecret({ username, password: 'pw' }, publicKeyPem, gatewayId);
  ws!.send(
    encodeFrame(
      {
        type: FrameType.RequestHead,
        stream: s,
        msg: {
          requestId: `k${s}`,
          method: 'GET',
          url: `${nego.url}/ok`,
          headers: [],
          bodyLength: 0,
          timeoutMs: 10_000,
          credentials: { scheme: 'windows', sealed },
        },
      },
      VERSION,
    ),
  );
  await expect
    .poll(() => frames.some((f) => f.stream === s && (f.type === FrameType.Response || f.type === FrameType.End || f.type === FrameType.Failure)), {
      timeout: 15_000,
    })
    .toBe(true);
  return frames.filter((f) => f.stream === s);
}
const argvRuns = (): string[][] =>
  existsSync(kinitLog)
    ? readFileSync(kinitLog, 'utf8')
        .split('end\n')
        .filter(Boolean)
        .map((r) => r.split('\n').filter(Boolean))
    : [];

describe('red team finding 1: kinit option injection through a WindowsGateway user name', () => {
  it('the agent refuses a user name that starts with "-" (or DOMAIN\\-...) or holds whitespace: InvalidRequest, kinit never runs, the tunnel stays', async () => {
    for (const username of ['-kt/etc/krb5.keytab', '-V', 'CORP\\-c/tmp/x', 'alice -X']) {
      const got = await call(username);
      const failure = got.find((f) => f.type === FrameType.Failure);
      expect(failure?.type === FrameType.Failure ? failure.msg.code : got.map((f) => f.type)).toBe('InvalidRequest');
      if (failure?.type === FrameType.Failure) {
        expect(failure.msg.message).toMatch(/user name of a WindowsGateway connection must not/);
        expect(failure.msg.message).not.toContain('krb5.keytab');
      }
    }
    expect(argvRuns()).toEqual([]);
    expect(closeCode).toBeUndefined();
  });

  it('a good user name reaches kinit after "--", so it is never read as an option', async () => {
    const got = await call('alice@EXAMPLE.COM');
    expect(got.some((f) => f.type === FrameType.Response || f.type === FrameType.ResponseHead || f.type === FrameType.Failure)).toBe(true);
    const runs = argvRuns();
    expect(runs.length).toBeGreaterThan(0);
    for (const argv of runs) expect(argv.slice(-2)).toEqual(['--', 'alice@EXAMPLE.COM']);
    expect(closeCode).toBeUndefined();
  });
});
