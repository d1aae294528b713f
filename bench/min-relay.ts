// A reference for the benchmark, not part of Gatehouse: the least a Node relay of the same shape can do.
// `hub` mode: an HTTP server that sends each request over one WebSocket to the `agent` process and answers
// with what comes back; `agent` mode: dials the hub and makes each request to the backend with undici's
// dispatch API.
// No authentication, limits, streaming, flow control or logs; whole bodies in one message each way, framed as
// [u32 id][u16 status or 0][body]. It shows what Node's own HTTP, WebSocket and undici costs are for a relay.
//
//   node min-relay.js hub            -> prints "min-relay hub <httpPort> <wsPort>"
//   node min-relay.js agent <wsPort> <backendUrl>
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { Agent } from 'undici';

const [mode, a1, a2] = process.argv.slice(2);

if (mode === 'hub') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  let agent: WebSocket | undefined;
  let next = 1;
  // Pending calls by id in a fixed ring, not a Map: a Map with an entry added and removed per call is rebuilt
  // every few dozen calls, and its old tables keep calls alive through young collections (packages/shared/src/
  // id-map.ts says how); that cost this relay's hub about a fifth of its throughput. Ids run in order and far
  // fewer than 65,536 are ever in flight.
  const waiting: Array<((status: number, body: Buffer) => void) | undefined> = new Array(65_536).fill(undefined);
  wss.on('connection', (ws) => {
    agent = ws;
    ws.on('message', (data: Buffer) => {
      const slot = data.readUInt32BE(0) & 0xffff;
      const done = waiting[slot];
      waiting[slot] = undefined;
      done?.(data.readUInt16BE(4), data.subarray(6));
    });
  });
  const server = createServer((req, res) => {
    const id = next++;
    const path = Buffer.from(req.url ?? '/');
    const msg = Buffer.allocUnsafe(4 + path.length);
    msg.writeUInt32BE(id, 0);
    path.copy(msg, 4);
    waiting[id & 0xffff] = (status, body) => res.writeHead(status, { 'content-length': body.length }).end(body);
    agent!.send(msg);
    req.resume();
  });
  server.listen(0, '127.0.0.1', () => {
    wss.on('listening', () => undefined);
    const port = (server.address() as { port: number }).port;
    const wsPort = (wss.address() as { port: number }).port;
    process.stdout.write(`min-relay hub ${port} ${wsPort}\n`);
  });
} else if (mode === 'agent') {
  const ws = new WebSocket(`ws://127.0.0.1:${a1}/`, { perMessageDeflate: false });
  const dispatcher = new Agent({ connections: 256 });
  const origin = new URL(a2!).origin;
  const basePath = new URL(a2!).pathname.replace(/\/$/, '');
  ws.on('message', (data: Buffer) => {
    const id = data.readUInt32BE(0);
    const path = data.subarray(4).toString();
    // undici's dispatch API, the cheapest way Node has to make the call (request() costs about 20 µs more per
    // call here: an AsyncResource, a Readable body, promises); Gatehouse's agent uses it too since session 9.
    const parts: Buffer[] = [];
    let status = 0;
    const reply = (code: number, body: Buffer) => {
      const out = Buffer.allocUnsafe(6 + body.length);
      out.writeUInt32BE(id, 0);
      out.writeUInt16BE(code, 4);
      body.copy(out, 6);
      ws.send(out);
    };
    dispatcher.dispatch(
      { origin, path: `${basePath}${path}`, method: 'GET', headers: {} },
      {
        onRequestStart() {}, // (its presence selects undici's current handler API)
        onResponseStart(_c, code) {
          status = code;
        },
        onResponseData(_c, chunk) {
          parts.push(chunk);
        },
        onResponseEnd() {
          reply(status, Buffer.concat(parts));
        },
        onResponseError() {
          reply(502, Buffer.alloc(0));
        },
      },
    );
  });
  ws.on('open', () => process.stdout.write('min-relay agent connected\n'));
} else {
  process.stderr.write('usage: min-relay.js hub | agent <wsPort> <backendUrl>\n');
  process.exit(2);
}
