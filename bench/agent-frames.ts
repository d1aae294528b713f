// What a busy real agent sends the hub, in frames (for GATEHOUSE_AGENT_FRAME_RATE's default): the real agent dials
// the real hub through a counting TCP proxy on loopback, wrk loads each route in turn, and the proxy counts the
// WebSocket frames from agent to hub with the hub's own counter (agents/frame-meter.ts). Prints, per load, the
// calls made and the most frames seen in any 1 s and any 10 s window.
//
//   npm run build && tsc -p bench && node bench/dist/bench/agent-frames.js [--seconds 15]
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startFakeEntra } from '../test/helpers/fake-entra.js';
import { api, gatewayWithAgent, killLeftovers, startHub, startProc } from '../test/helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../test/helpers/tmp.js';
import type * as FrameMeter from '../packages/hub/dist/agents/frame-meter.js';

// The hub's own counter, from its build (the hub package exports only createHub).
const { WsFrameCounter } = (await import(new URL('../../../packages/hub/dist/agents/frame-meter.js', import.meta.url).href)) as typeof FrameMeter;
type WsFrameCounter = FrameMeter.WsFrameCounter;

const run = promisify(execFile);
const log = (s: string) => process.stdout.write(`${s}\n`);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '15' } } });
const SECONDS = Math.max(2, Number(values.seconds) || 15);

/** A TCP proxy to `port`; the agent's WebSocket (the connection whose request is GET /v1/agent/connect) is counted
 *  from the end of its upgrade request on. */
function countingProxy(port: number): Promise<{ url: string; counter: WsFrameCounter; close(): void }> {
  const counter = new WsFrameCounter();
  const server = createServer((client: Socket) => {
    const upstream = connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    const onHead = (c: Buffer) => {
      head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onHead);
      upstream.write(head);
      if (head.subarray(0, 40).toString('latin1').startsWith('GET /v1/agent/connect')) {
        counter.feed(head.subarray(end + 4));
        client.on('data', (d: Buffer) => counter.feed(d));
      }
      client.pipe(upstream);
    };
    client.on('data', onHead);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        counter,
        close: () => server.close(),
      }),
    ),
  );
}

async function main(): Promise<void> {
  const wrkPath = execFileSync('sh', ['-c', 'command -v wrk || true'], { encoding: 'utf8' }).trim();
  if (!wrkPath) {
    log('agent-frames: wrk is not installed. Stopping.');
    process.exit(2);
  }
  const dir = tempDir('gatehouse-frames-');
  const origin = startProc([new URL('./origin.js', import.meta.url).pathname, '0'], {});
  const direct = `http://127.0.0.1:${(await origin.waitForLine((l) => l.startsWith('origin listening'))).split(' ')[2]}`;
  const entra = await startFakeEntra();
  const hub = await startHub(entra, {
    GATEHOUSE_THROTTLE: '1000000000/60s',
    GATEHOUSE_MAX_CALLS_PER_CONNECTION: '10000',
    GATEHOUSE_MAX_CALLS_PER_CALLER: '10000',
    GATEHOUSE_MAX_CALLS_PER_GATEWAY: '10000',
  });
  const proxy = await countingProxy(hub.port);
  const token = await entra.token({}, { expSec: 3600 });
  const { gatewayId, agent } = await gatewayWithAgent(proxy.url, token, [`${direct}/`]);
  const conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: direct, gatewayId, timeoutSeconds: 600 }))
    .json.id as string;

  const script = (name: string, body: string) => {
    const p = join(dir, name);
    writeFileSync(p, `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n`);
    return p;
  };
  const small = script('small.lua', JSON.stringify({ method: 'POST', url: '/', body: Buffer.alloc(3072, 'z').toString('base64') }));
  const get64k = script('64k.lua', JSON.stringify({ method: 'GET', url: '/64k' }));
  const loads: Array<[string, string[]]> = [
    ['invoke, 3 KB bodies, 64 connections', ['-c64', '-s', small, `${hub.url}/v1/connections/${conn}/invoke`]],
    ['invoke, 64 KiB answers, 64 connections', ['-c64', '-s', get64k, `${hub.url}/v1/connections/${conn}/invoke`]],
    ['raw route, 12-byte answers, 128 connections', ['-c128', `${hub.url}/v1/connections/${conn}/proxy/`]],
    ['raw route, 64 MiB downloads, 8 connections', ['-c8', `${hub.url}/v1/connections/${conn}/proxy/big?mb=64`]],
  ];
  log(`agent-frames: ${SECONDS} s per load, node ${process.version}; frames from one real agent to the hub`);
  for (const [name, args] of loads) {
    const perSecond: number[] = [];
    let last = proxy.counter.frames;
    const sampler = setInterval(() => {
      perSecond.push(proxy.counter.frames - last);
      last = proxy.counter.frames;
    }, 1000);
    const out = (await run(wrkPath, ['-t1', `-d${SECONDS}s`, '-H', `Authorization: Bearer ${token}`, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }))
      .stdout;
    clearInterval(sampler);
    const calls = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    let max10 = 0;
    for (let i = 0; i + 10 <= perSecond.length; i++)
      max10 = Math.max(
        max10,
        perSecond.slice(i, i + 10).reduce((a, b) => a + b, 0),
      );
    log(
      `${name}: ${calls} calls (${errors} non-2xx), ${(calls / SECONDS).toFixed(0)}/s; frames from the agent: most in 1 s ${Math.max(...perSecond)}, most in 10 s ${max10}`,
    );
  }
  await agent.stop();
  proxy.close();
  await hub.stop();
  await origin.stop();
  await entra.close();
  cleanupTempDirs();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`agent-frames: ${(err as Error).stack}\n`);
  killLeftovers();
  process.exit(1);
});
