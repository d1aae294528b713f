// A loopback intranet service that records what it received and answers in kind:
//   /echo...   streams the request body back; x-echo-method, x-echo-bytes (trailer-free: sha256 is recorded)
//   /stall     never answers; records when the agent abandons it
//   /slow?ms=N answers after N ms
//   /big?bytes=N  streams N deterministic bytes
//   /status?code=N answers status N (?set=, ?big=, ?many= add headers)
//   /headstall answers a head and 7 bytes, then goes quiet
//   /early     answers 413 at once, before reading the request body
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';

/** `rawHeaders`: the header lines as sent (names as written; Node's `headers` object leaves out one named __proto__). */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bytes: number;
  sha256: string;
}

export interface EchoServer {
  url: string;
  port: number;
  received: Received[];
  stalled: number;
  abandoned: number;
  close(): Promise<void>;
}

export function patternBytes(n: number, seed = 7): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = (x >>> 16) & 0xff;
  }
  return b;
}

/** Answers 200 at once, then `n` chunks of 1 KiB, one every `ms` (a slow answer that keeps moving). */
export function drip(res: ServerResponse, n: number, ms: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let sent = 0;
  const timer = setInterval(() => {
    res.write(Buffer.alloc(1024, 'd'));
    if (++sent === n) {
      clearInterval(timer);
      res.end();
    }
  }, ms);
  res.on('close', () => clearInterval(timer));
}

export async function startEchoServer(): Promise<EchoServer> {
  const state = { received: [] as Received[], stalled: 0, abandoned: 0 };
  // Takes request heads up to 64 KiB (Node's default is 16), so tests can send heads up to the hub's own limit.
  const server: Server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const hash = createHash('sha256');
    let bytes = 0;
    const record = () =>
      state.received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bytes,
        sha256: hash.digest('hex'),
      });
    if (url.pathname.includes('/stall')) {
      state.stalled++;
      res.on('close', () => {
        if (!res.writableFinished) state.abandoned++;
      });
      req.resume();
      return;
    }
    if (url.pathname.includes('/status')) {
      req.resume();
      // ?set=name:value (repeatable) adds headers to the answer; ?big=N one header of N bytes; ?many=N N headers
      // `q: "` (?quotes=Q: Q quotes each; ?char=C: Q of C instead, written as Latin-1)
      const extra = url.searchParams.getAll('set').map((p) => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)]);
      if (url.searchParams.has('big')) extra.push(['x-big', 'b'.repeat(Number(url.searchParams.get('big')))]);
      for (let i = 0; i < Number(url.searchParams.get('many') ?? 0); i++)
        extra.push(['q', (url.searchParams.get('char') ?? '"').repeat(Number(url.searchParams.get('quotes') ?? 1))]);
      req.on('end', () => {
        record();
        res
          .writeHead(Number(url.searchParams.get('code') ?? 200), [['x-status-test', 'yes'], ['content-type', 'text/plain'], ...extra].flat())
          .end('status body');
      });
      return;
    }
    if (url.pathname.includes('/early')) {
      // answers 413 before reading the body, as a server with a body limit does (Node then discards the rest)
      res.writeHead(413, { 'content-type': 'text/plain' }).end('too large');
      return;
    }
    if (url.pathname.includes('/headstall')) {
      // answers the head and a few bytes, then goes quiet
      state.stalled++;
      res.on('close', () => {
        if (!res.writableFinished) state.abandoned++;
      });
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      return;
    }
    if (url.pathname.includes('/drip')) {
      // answers the head at once, then `n` chunks of 1 KiB, one every `ms`
      req.resume();
      const n = Number(url.searchParams.get('n') ?? 5);
      const ms = Number(url.searchParams.get('ms') ?? 200);
      drip(res, n, ms);
      return;
    }
    if (url.pathname.includes('/slow')) {
      req.resume();
      req.on('end', () => {
        record();
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow done'), Number(url.searchParams.get('ms') ?? 1000));
      });
      return;
    }
    if (url.pathname.includes('/big')) {
      req.resume();
      const total = Number(url.searchParams.get('bytes') ?? 0);
      req.on('end', () => {
        record();
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
        const data = patternBytes(Math.min(total, 1 << 20), 11);
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            const n = Math.min(data.length, total - sent);
            sent += n;
            if (!res.write(data.subarray(0, n))) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      });
      return;
    }
    // /echo and anything else: stream the body back
    res.writeHead(200, {
      'content-type': req.headers['content-type'] ?? 'application/octet-stream',
      'x-echo-method': req.method ?? '',
      'set-cookie': 'session=abc; Path=/',
      connection: 'keep-alive, x-hop',
      'x-hop': 'drop me',
      'keep-alive': 'timeout=5',
    });
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
      if (!res.write(c)) {
        req.pause();
        res.once('drain', () => req.resume());
      }
    });
    req.on('end', () => {
      record();
      res.end();
    });
  });
  // No cap on the number of header lines either (Node 24 answers 431 past 2,000 raw entries; the hub relays up to
  // 1,000 lines).
  server.maxHeadersCount = 0;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get received() {
      return state.received;
    },
    get stalled() {
      return state.stalled;
    },
    get abandoned() {
      return state.abandoned;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
