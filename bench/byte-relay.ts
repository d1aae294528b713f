// A reference for the benchmark, not part of Gatehouse: `ssh -R`'s design written in Node. It shows what Node
// itself costs to move a relay's bytes, without any HTTP work.
// `hub` mode: a TCP listener for callers and one for the agent's link; every caller connection becomes a channel
// on the link. `agent` mode: dials the link and opens one backend connection per channel. Bytes are forwarded as
// they arrive, framed on the link as [u32 channel][u32 length][bytes] (length 0 closes the channel). No HTTP
// parsing (so no authentication, throttling, URL or header rules), no flow control, no limits, no logs.
//
//   node byte-relay.js hub                                  -> prints "byte-relay hub <callerPort> <linkPort>"
//   node byte-relay.js agent <linkPort> <backendPort>
import { createConnection, createServer, type Socket } from 'node:net';

const [mode, a1, a2] = process.argv.slice(2);

/** Calls onFrame for every whole frame arriving on the link. */
function readFrames(link: Socket, onFrame: (channel: number, data: Buffer) => void): void {
  let pending: Buffer | undefined;
  link.on('data', (d: Buffer) => {
    const buf = pending ? Buffer.concat([pending, d]) : d;
    let off = 0;
    while (buf.length - off >= 8) {
      const len = buf.readUInt32BE(off + 4);
      if (buf.length - off < 8 + len) break;
      onFrame(buf.readUInt32BE(off), buf.subarray(off + 8, off + 8 + len));
      off += 8 + len;
    }
    pending = off === buf.length ? undefined : buf.subarray(off);
  });
}

/** Frames written in one event-loop turn leave in one write (as the real relay does). */
function frameWriter(link: Socket): (channel: number, data: Buffer) => void {
  let corked = false;
  return (channel, data) => {
    if (!corked) {
      corked = true;
      link.cork();
      setImmediate(() => {
        corked = false;
        link.uncork();
      });
    }
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32BE(channel, 0);
    head.writeUInt32BE(data.length, 4);
    link.write(head);
    if (data.length) link.write(data);
  };
}

if (mode === 'hub') {
  const channels = new Map<number, Socket>();
  let send: ((channel: number, data: Buffer) => void) | undefined;
  let next = 1;
  const linkServer = createServer((link) => {
    link.setNoDelay(true);
    send = frameWriter(link);
    readFrames(link, (ch, data) => {
      const c = channels.get(ch);
      if (data.length === 0) c?.end();
      else c?.write(data);
    });
  });
  const callers = createServer((c) => {
    c.setNoDelay(true);
    const ch = next++;
    channels.set(ch, c);
    c.on('data', (d: Buffer) => send?.(ch, d));
    c.on('close', () => {
      channels.delete(ch);
      send?.(ch, Buffer.alloc(0));
    });
    c.on('error', () => undefined);
  });
  linkServer.listen(0, '127.0.0.1', () =>
    callers.listen(0, '127.0.0.1', () => {
      process.stdout.write(`byte-relay hub ${(callers.address() as { port: number }).port} ${(linkServer.address() as { port: number }).port}\n`);
    }),
  );
} else if (mode === 'agent') {
  const link = createConnection(Number(a1), '127.0.0.1');
  link.setNoDelay(true);
  const send = frameWriter(link);
  const channels = new Map<number, Socket>();
  readFrames(link, (ch, data) => {
    let c = channels.get(ch);
    if (data.length === 0) {
      c?.end();
      channels.delete(ch);
      return;
    }
    if (!c) {
      c = createConnection(Number(a2), '127.0.0.1');
      c.setNoDelay(true);
      channels.set(ch, c);
      c.on('data', (d: Buffer) => send(ch, d));
      c.on('error', () => undefined);
    }
    c.write(data);
  });
  link.on('connect', () => process.stdout.write('byte-relay agent connected\n'));
} else {
  process.stderr.write('usage: byte-relay.js hub | agent <linkPort> <backendPort>\n');
  process.exit(2);
}
