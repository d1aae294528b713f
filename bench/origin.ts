// The benchmark's backend (its own process): GET / → 12 bytes, GET /64k → 64 KiB, GET /big?mb=N → N MiB
// streamed with backpressure, POST → the byte count it received.
import { createServer } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const small = Buffer.from('hello world\n');
const k64 = Buffer.alloc(64 * 1024, 'x');
const chunk = Buffer.alloc(64 * 1024, 'y');
const server = createServer((req, res) => {
  const u = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'POST' || req.method === 'PUT') {
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
    });
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(String(n)));
    return;
  }
  if (u.pathname.endsWith('/64k')) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': k64.length }).end(k64);
    return;
  }
  if (u.pathname.endsWith('/big')) {
    let left = Number(u.searchParams.get('mb') ?? 64) * 16;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left * chunk.length });
    const pump = () => {
      while (left > 0) {
        left--;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': small.length }).end(small);
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`origin listening ${(server.address() as { port: number }).port}\n`));
