// A loopback "service" on the wrong port: it answers any request with an SSH banner, not HTTP.
import { createServer, type AddressInfo } from 'node:net';

/** What it answers (tests check that "secret-banner" never reaches the caller). */
const BANNER = 'SSH-2.0-OpenSSH_9.2 secret-banner';

export async function startNotHttpServer(): Promise<{ port: number; close(): void }> {
  const server = createServer((s) => s.once('data', () => s.end(`${BANNER}\r\n`)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => { server.close(); } };
}
