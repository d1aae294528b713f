// A loopback "intranet service" that misbehaves on command, written on node:net so that it can do what no
// well-behaved HTTP server does: reset the connection mid-body, close before answering, answer before the body
// has arrived, send header lines HTTP forbids, answer without end. The last path segment names the fault:
//
//   ok              reads the whole body, answers 200 {"bytes","sha256"}
//   reset-mid-body  reads 64 KiB of the body (or none, if there is less), then resets the connection (RST)
//   close-early     closes the connection after the request head, without a word
//   answer-early    answers 200 before reading the body, then closes
//   bad-header      answers with a header line whose name holds a space
//   bad-value       answers with a header value holding a bare CR
//   long-header     answers with a header name of 300 characters (HTTP/1.1 parses it; the relay takes up to 256)
//   garbage         answers bytes that are not HTTP
//   huge            answers 200 with an endless chunked body (until the peer goes)
//   reset-mid-answer answers a head and part of the body, then resets
//   stall           reads the body, never answers
//
// Windows authentication, when asked (`auth: 'ntlm'` or `'negotiate'`): a request without credentials gets 401
// with `WWW-Authenticate: NTLM` / `Negotiate`. NTLM: a NEGOTIATE message gets a syntactically valid CHALLENGE
// (nothing is verified: this server tests the agent's handling of faults, Samba tests NTLM itself), and the fault
// applies to the AUTHENTICATE leg, except these, which apply to the negotiation leg:
//   nego-reset      resets the connection on the NEGOTIATE leg (Negotiate: on the HEAD that authenticates)
//   nego-bad        answers the NEGOTIATE leg with a challenge that does not parse
//   nego-500        answers the NEGOTIATE leg with 500
// `negonly` answers a request without credentials 401 with `WWW-Authenticate: Negotiate` only (on either kind),
// and `again-401` answers 401 after the handshake (the credentials refused), reading what body comes. A HEAD
// with credentials (the agent's Kerberos handshake before a body) is answered 200, whatever the fault.
// Negotiate: any `Authorization: Negotiate <token>` is taken as authenticated (the agent needs a real ticket
// to send one). Every request's body bytes are counted (`bodyBytes`, per path), so a test can tell a body sent
// twice from one sent once.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface HostileServer {
  port: number;
  url: string;
  /** Body bytes received per request path (all legs and attempts added up). */
  bodyBytes: Map<string, number>;
  /** Requests whose head arrived, per path. */
  requests: Map<string, number>;
  close(): void;
}

export interface HostileOptions {
  auth?: 'ntlm' | 'negotiate';
}

interface Head {
  method: string;
  path: string;
  headers: Map<string, string>;
  length: number;
  chunked: boolean;
}

function parseHead(text: string): Head {
  const [line, ...rest] = text.split('\r\n');
  const [method = '', path = ''] = (line ?? '').split(' ');
  const headers = new Map<string, string>();
  for (const l of rest) {
    const i = l.indexOf(':');
    if (i > 0) headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  return { method, path, headers, length: Number(headers.get('content-length') ?? 0), chunked: /chunked/i.test(headers.get('transfer-encoding') ?? '') };
}

/** An NTLM CHALLENGE (type 2) message: Unicode, NTLM, extended session security; no target name or info. */
function challenge(): string {
  const b = Buffer.alloc(48);
  b.write('NTLMSSP\0', 0, 'latin1');
  b.writeUInt32LE(2, 8);
  b.writeUInt32LE(48, 16);
  b.writeUInt32LE(0x00080201, 20);
  randomBytes(8).copy(b, 24);
  return b.toString('base64');
}

const reply = (status: string, headers: string[], body = ''): string =>
  `HTTP/1.1 ${status}\r\n${[...headers, `Content-Length: ${Buffer.byteLength(body)}`].join('\r\n')}\r\n\r\n${body}`;

export async function startHostileServer(o: HostileOptions = {}): Promise<HostileServer> {
  const bodyBytes = new Map<string, number>();
  const requests = new Map<string, number>();
  const sockets = new Set<Socket>();
  const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    // The request being read: its head, the body bytes still to come, and what to do once they have.
    let current: { head: Head; left: number; read: number; hash: ReturnType<typeof createHash>; onBody(): void; limit?: () => void } | undefined;
    let authed = false;

    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (!current) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = parseHead(buf.subarray(0, end).toString('latin1'));
          buf = buf.subarray(end + 4);
          add(requests, head.path.split('?')[0]!, 1);
          current = { head, left: head.chunked ? Infinity : head.length, read: 0, hash: createHash('sha256'), onBody: () => {} };
          if (!start(current)) return; // the fault took the connection
        }
        if (current.left > 0 && buf.length) {
          // (the agent always sends a Content-Length; a chunked body is read to the connection's end)
          const n = Math.min(buf.length, current.left);
          current.hash.update(buf.subarray(0, n));
          current.read += n;
          current.left -= n;
          add(bodyBytes, current.head.path.split('?')[0]!, n);
          buf = buf.subarray(n);
          current.limit?.();
          if (socket.destroyed) return;
        }
        if (current.left > 0) return;
        const done = current;
        current = undefined;
        done.onBody();
        if (socket.destroyed || !buf.length) return;
      }
    };
    socket.on('data', onData);

    /** Decides what to do with a request whose head has arrived; false when the connection is gone. */
    const start = (req: NonNullable<typeof current>): boolean => {
      const fault = req.head.path.split('?')[0]!.split('/').pop()!;
      const authorization = req.head.headers.get('authorization') ?? '';
      const scheme = o.auth === 'ntlm' ? 'NTLM' : 'Negotiate';
      const token = /^(?:NTLM|Negotiate) (\S+)$/i.exec(authorization)?.[1];
      const message = o.auth === 'ntlm' && token ? Buffer.from(token, 'base64') : undefined;
      const type = message && message.length >= 12 ? message.readUInt32LE(8) : 0;
      if (o.auth && fault === 'negonly' && token === undefined) {
        req.onBody = () => socket.write(reply('401 Unauthorized', ['WWW-Authenticate: Negotiate']));
        return true;
      }
      // Credentials are looked at on an authenticated connection too (a NEGOTIATE message restarts the handshake, as IIS does).
      if (o.auth && (!authed || token !== undefined)) {
        if (type === 1) {
          if (fault === 'nego-reset') {
            socket.resetAndDestroy();
            return false;
          }
          const answer =
            fault === 'nego-bad'
              ? reply('401 Unauthorized', [`WWW-Authenticate: ${scheme} AAAA`])
              : fault === 'nego-500'
                ? reply('500 Internal Server Error', [])
                : reply('401 Unauthorized', [`WWW-Authenticate: ${scheme} ${challenge()}`]);
          req.onBody = () => socket.write(answer);
          return true;
        }
        const authenticated = o.auth === 'ntlm' ? type === 3 : token !== undefined;
        if (!authenticated || fault === 'again-401') {
          req.onBody = () => socket.write(reply('401 Unauthorized', [`WWW-Authenticate: ${scheme}`]));
          return true;
        }
        // NTLM authenticates the connection (as IIS does); Negotiate each request.
        if (o.auth === 'ntlm') authed = true;
      }
      // A HEAD (the agent's Kerberos handshake before a body) passes: the fault is the real request's.
      if (req.head.method === 'HEAD') {
        if (fault === 'nego-reset') {
          socket.resetAndDestroy();
          return false;
        }
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n`);
        return true;
      }
      return act(fault, req);
    };

    const act = (fault: string, req: NonNullable<typeof current>): boolean => {
      switch (fault) {
        case 'reset-mid-body':
          if (req.left < 64 * 1024) {
            socket.resetAndDestroy();
            return false;
          }
          req.limit = () => {
            if (req.read >= 64 * 1024) socket.resetAndDestroy();
          };
          return true;
        case 'close-early':
          socket.destroy();
          return false;
        case 'answer-early':
          socket.end(reply('200 OK', ['Connection: close'], 'early'));
          return false;
        case 'bad-header':
          req.onBody = () => socket.end('HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok');
          return true;
        case 'bad-value':
          req.onBody = () => socket.end('HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok');
          return true;
        case 'long-header':
          req.onBody = () => socket.end(`HTTP/1.1 200 OK\r\nX-${'l'.repeat(298)}: 1\r\nContent-Length: 2\r\n\r\nok`);
          return true;
        case 'garbage':
          req.onBody = () => socket.end('\x00\x01 not http at all\r\n\r\n');
          return true;
        case 'huge':
          req.onBody = () => {
            socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
            const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'h'), Buffer.from('\r\n')]);
            const pump = () => {
              while (!socket.destroyed && socket.write(chunk));
            };
            socket.on('drain', pump);
            pump();
          };
          return true;
        case 'reset-mid-answer':
          req.onBody = () => {
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
            socket.write(Buffer.alloc(100_000, 'r'), () => socket.resetAndDestroy());
          };
          return true;
        case 'stall':
          return true;
        default:
          req.onBody = () =>
            socket.write(reply('200 OK', ['Content-Type: application/json'], JSON.stringify({ bytes: req.read, sha256: req.hash.digest('hex') })));
          return true;
      }
    };
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    bodyBytes,
    requests,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
