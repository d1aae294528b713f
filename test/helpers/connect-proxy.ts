// A loopback forward proxy that speaks CONNECT (what corporate proxies offer for outbound TLS and
// WebSockets), with Basic proxy authentication. Records every tunnel it opens and the first 16 MiB that its
// clients send through them (what an intermediary on the path can read).
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface ConnectProxy {
  url: string;
  authUrl: string;
  tunnels: string[];
  refused: number;
  seen(): Buffer;
  close(): Promise<void>;
}

const SEEN_MAX = 16 * 1024 * 1024;

export async function startConnectProxy(user = 'proxyuser', password = 'proxy-pw'): Promise<ConnectProxy> {
  const state = { tunnels: [] as string[], refused: 0, seen: [] as Buffer[], seenBytes: 0 };
  const see = (b: Buffer) => {
    if (state.seenBytes < SEEN_MAX) {
      state.seen.push(Buffer.from(b));
      state.seenBytes += b.length;
    }
  };
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(405).end();
  });
  server.on('connect', (req, client: Socket, head: Buffer) => {
    sockets.add(client);
    if (req.headers['proxy-authorization'] !== expected) {
      state.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1' && host !== 'localhost') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(Number(port), '127.0.0.1', () => {
      state.tunnels.push(req.url ?? '');
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) {
        see(head);
        upstream.write(head);
      }
      client.on('data', see);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    authUrl: `http://${user}:${password}@127.0.0.1:${port}`,
    get tunnels() {
      return state.tunnels;
    },
    get refused() {
      return state.refused;
    },
    seen: () => Buffer.concat(state.seen),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
