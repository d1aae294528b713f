// Requests that offer a protocol upgrade. Node hands every request with an Upgrade header to the 'upgrade'
// listener (which the hub needs for agents' WebSockets), never to the request handler, so without this a
// client that merely offers HTTP/2 over plain http (`Upgrade: h2c`: curl --http2, Java's HttpClient by
// default) got no answer to its request. RFC 9110 section 7.8 lets a server ignore the offer: the request is
// served as HTTP/1.1. A WebSocket to anything but the agents' endpoint is refused with a coded error.
import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { GatehouseError } from '@gatehouse/shared';
import { writeErrorToSocket } from './respond.js';

const OFFER_HEADERS = new Set(['upgrade', 'http2-settings']);

/** The request head again, without the upgrade offer (the Connection tokens that name it included). */
export function headWithoutOffer(req: IncomingMessage): Buffer {
  let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    const n = name.toLowerCase();
    if (OFFER_HEADERS.has(n)) continue;
    if (n === 'connection') {
      const kept = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t && !OFFER_HEADERS.has(t.toLowerCase()));
      if (kept.length) text += `${name}: ${kept.join(', ')}\r\n`;
      continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  // Node's parser accepted these bytes as they came (no CR, LF or NUL in names or values): written back as latin1
  // they are the same bytes.
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/** Serves the request as if the offer had not been made: its head goes back in front of the socket's unread
 *  bytes and the server takes the socket as a new connection (same limits and timeouts as any other). */
export function serveWithoutUpgrade(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.unshift(head.length ? Buffer.concat([headWithoutOffer(req), head]) : headWithoutOffer(req));
  server.emit('connection', socket);
}

/** Answers an upgrade request with a hub error (JSON body and x-gatehouse-error, like every other route). */
export function refuseUpgrade(socket: Duplex, err: GatehouseError): void {
  writeErrorToSocket(socket, err, randomUUID());
}
