// A hostile tenant's agents in a process of their own (so the flood never slows the test that measures another
// tenant): one raw WebSocket per credential, HELLO, then protocol PINGs at RATE a second each for SECS seconds,
// whatever comes back read and dropped. Writes wait while the hub does not read (at most 1 MiB queued per socket),
// so the flooder's memory stays bounded under the hub's backpressure. Prints "flooder: start", then at the end
// "flooder: frames <written per socket, comma-separated>" and "flooder: sockets <open or cut>".
//   node test/helpers/frame-flooder.mjs PORT CRED1,CRED2,... (env RATE, SECS)
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { AGENT_CONNECT_PATH, FrameType, encodeFrame } from '../../packages/shared/dist/index.js';

const port = Number(process.argv[2]);
const creds = process.argv[3].split(',');
const RATE = Number(process.env.RATE ?? 40000);
const SECS = Number(process.env.SECS ?? 4);
// Client frames masked with the all-zero key: the payload as it is.
const message = (payload) => Buffer.concat([Buffer.from([0x82, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
const ping = message(encodeFrame({ type: FrameType.Ping, stream: 0, data: randomBytes(8) }));
const TICK_MS = 50;
const perTick = Math.max(1, Math.floor((RATE * TICK_MS) / 1000));
const batch = Buffer.concat(Array(perTick).fill(ping));
const hello = message(
  encodeFrame({ type: FrameType.Hello, stream: 0, msg: { versions: [4, 3, 2, 1], agentVersion: 'flood', hostname: 'flood', capabilities: [] } }),
);

const socks = [];
for (const c of creds) {
  const s = connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(
    `GET ${AGENT_CONNECT_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: GatehouseAgent ${c}\r\n\r\n`,
  );
  await new Promise((r) => s.once('data', r));
  s.write(hello);
  const sock = { s, frames: 0, close: 'open' };
  s.on('data', () => {});
  s.on('error', () => {});
  s.on('close', () => {
    if (sock.close === 'open') sock.close = 'cut';
  });
  socks.push(sock);
}
await new Promise((r) => setTimeout(r, 300));
console.log('flooder: start');
const timer = setInterval(() => {
  for (const k of socks) {
    if (k.s.destroyed || k.s.writableLength > 1024 * 1024) continue;
    k.s.write(batch);
    k.frames += perTick;
  }
}, TICK_MS);
setTimeout(() => {
  clearInterval(timer);
  console.log(`flooder: frames ${socks.map((k) => k.frames - Math.ceil(k.s.writableLength / ping.length)).join(',')}`);
  console.log(`flooder: sockets ${socks.map((k) => k.close).join(',')}`);
  // A reset, not a close: the hub drops what it has not read yet instead of reading it at its budget's pace.
  for (const k of socks) k.s.resetAndDestroy();
  process.exit(0);
}, SECS * 1000);
