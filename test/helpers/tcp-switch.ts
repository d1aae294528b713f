// A loopback TCP forwarder whose target can be switched: stands for a load balancer in front of several hubs
// (an agent's one --hub address that lands on one hub now and another after a reconnection).
import { connect, createServer, type Socket } from 'node:net';

export interface TcpSwitch {
  url: string;
  /** Where new connections go from now on (a port on 127.0.0.1). */
  target: number;
  /** Connections forwarded so far. */
  connections: number;
  /** Cuts every connection it carries (the clients see their sockets close). */
  cut(): void;
  close(): Promise<void>;
}

export async function startTcpSwitch(target: number): Promise<TcpSwitch> {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    sw.connections++;
    const upstream = connect(sw.target, '127.0.0.1');
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const sw: TcpSwitch = {
    url: `http://127.0.0.1:${port}`,
    target,
    connections: 0,
    cut() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return sw;
}
