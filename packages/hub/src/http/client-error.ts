// Requests Node's HTTP parser refuses before any route sees them: a malformed request line or header, a request
// head over GATEHOUSE_MAX_HEADER_BYTES, a head not received within GATEHOUSE_HEAD_TIMEOUT. Node's own answer is a bare status
// line (and on a reused connection none at all); the hub answers with its coded JSON error as on every route
// (SPEC section 8), keeps Node's statuses for the head limit (431) and the head timeout (408), then closes.
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { GatehouseError } from '@gatehouse/shared';
import type { LineBudget, Logger } from '../log.js';
import { writeErrorToSocket } from './respond.js';

export interface ParserError extends Error {
  code?: string;
  reason?: string;
}

export interface HeadLimits {
  maxHeaderBytes: number;
  headTimeoutMs: number;
}

/** The hub's answer to a request Node could not parse: its status and error (code InvalidRequest). */
export function parserRefusal(err: ParserError, limits: HeadLimits): { status: number; error: GatehouseError } {
  const { maxHeaderBytes, headTimeoutMs } = limits;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return {
      status: 431,
      error: new GatehouseError('InvalidRequest', `caller -> hub: the request line and headers are over ${maxHeaderBytes} bytes (GATEHOUSE_MAX_HEADER_BYTES)`),
    };
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return {
      status: 408,
      error: new GatehouseError(
        'RequestTimeout',
        `caller -> hub: the request line and headers did not arrive within ${headTimeoutMs / 1000} s (GATEHOUSE_HEAD_TIMEOUT)`,
      ),
    };
  }
  // llhttp's reason is one of its fixed texts ("Invalid header value char"), never the caller's bytes.
  const why = err.code?.startsWith('HPE_') && err.reason ? `: ${err.reason}` : '';
  return { status: 400, error: new GatehouseError('InvalidRequest', `caller -> hub: malformed HTTP request${why}`) };
}

/**
 * The server's 'clientError' listener. `busy` says whether a response is being written on the socket (a
 * pipelined or mid-body failure): then an answer would corrupt it, and the socket is only closed, as Node does.
 */
export function answerClientError(err: ParserError, socket: Duplex, busy: boolean, limits: HeadLimits, log: Logger, lines: LineBudget): void {
  if (err.code === 'ECONNRESET' || !socket.writable || busy) {
    socket.destroy();
    return;
  }
  const { status, error } = parserRefusal(err, limits);
  const requestId = randomUUID();
  // Anyone can send a malformed request: these lines are bounded in rate (LineBudget).
  if (lines.allow()) log.info({ requestId, code: error.code, status, why: error.message, parser: err.code }, 'request refused by the HTTP parser');
  writeErrorToSocket(socket, error, requestId, status);
}
