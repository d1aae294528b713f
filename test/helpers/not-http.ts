// Loopback "services" that answer with fixed bytes: one on the wrong port (an SSH banner, not HTTP), and one that
// answers each request with the canned bytes named by the last segment of its path.
import { createServer, type AddressInfo, type Server } from 'node:net';

/** What it answers (tests check that "secret-banner" never reaches the caller). */
const BANNER = 'SSH-2.0-OpenSSH_9.2 secret-banner';

export function startNotHttpServer(): Promise<{ port: number; close(): void }> {
  return listen(createServer((s) => s.once('data', () => s.end(`${BANNER}\r\n`))));
}

/** `answers[name]` for a request to …/name (one request per connection; the server ends it after answering). */
export function startCannedServer(answers: Record<string, string>): Promise<{ port: number; close(): void }> {
  return listen(
    createServer((s) => {
      s.on('error', () => {});
      s.once('data', (d: Buffer) => {
        const name = (d.toString('latin1').split(' ')[1] ?? '').split('?')[0]!.split('/').pop()!;
        s.end(answers[name] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'latin1');
      });
    }),
  );
}

async function listen(server: Server): Promise<{ port: number; close(): void }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.close();
    },
  };
}
