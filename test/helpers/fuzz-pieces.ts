// The hostile pieces both request generators draw from: methods, target paths, header names and values.
// Paths use only letters a-f and digits besides the pieces, so no fuzzed path reaches the echo service's
// special routes (/stall, /status, /slow, ...): the service always answers at once, and any failure is ours.
import type { Rng } from './fuzz-rng.js';
import { MARK } from './fuzz-oracle.js';

/** Header counts the fuzz sends: around the 1,000-line limit (finding 3 of issue 21: the hub once counted a
 *  caller's lines before adding its own, and 999 caller headers closed the tunnel). */
export const MANY_HEADERS = [999, 1000, 1001, 1500];

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;
export const ODD_METHODS = ['get', 'Post', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'PROPFIND', 'M-SEARCH', 'PURGE', '', ' GET', 'GET ', 'G\u0000T', 'GET\r\nX: y', 'x'.repeat(300), '😀', 'ПОСТ', 'GET\u00ff'] as const;

/** Path pieces: dots in every spelling, separators, escapes valid and invalid, Unicode, control bytes. */
export const PATH_PIECES = [
  'echo', 'a', 'b0', 'c1d', '.', '..', '...', '%2e', '%2E%2e', '%2e%2e', '%252e%252e', '%25252e', '..;', '%2e%2e;x', ';', ';a=b', '%3b',
  '%c0%ae', '%c0%ae%c0%ae', '%e0%80%ae', '%u002e', '%u002e%u002e', '．', '．．', '%ef%bc%8e', '/', '//', '%2f', '%2F', '\\', '%5c', '%255c',
  '%', '%z', '%zz', '%0', '%ff', '%fe%ff', '%ED%A0%80', '%00', '%0a', '%0d%0a', '%09', '%20', ' ', '\t', '%7f', '?', '??', '#', '&', '=',
  '@', ':', '~', '!', '$', "'", '(', ')', '*', '+', ',', 'é', '%c3%a9', '😀', '%f0%9f%98%80', '\u0000', '\u202e', '\ufeff', 'x'.repeat(200),
] as const;

/** A relative path of hostile pieces (under the connection's base unless it climbs out). */
export function fuzzPath(rng: Rng): string {
  let s = '';
  for (let n = rng.range(1, 8); n > 0; n--) s += rng.pick(PATH_PIECES) + (rng.chance(0.5) ? '/' : '');
  if (rng.chance(0.2)) s += `?q=${MARK}&${rng.pick(PATH_PIECES)}`;
  return rng.chance(0.1) ? s.repeat(rng.range(10, 40)) : s;
}

export const HEADER_NAMES = [
  'x-a', 'X-Mixed-Case', 'accept', 'content-type', 'user-agent', '', ' ', 'a b', 'a:b', 'a\r\nb', 'a\tb', '(x)', '{x}', 'x"', 'x/y', 'x@y',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '__defineGetter__',
  'host', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'expect', 'via',
  'authorization', 'cookie', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-gatehouse-error', 'x-gatehouse-authorization',
  'x-request-id', 'content-encoding', 'range', 'if-none-match', 'é', '😀', 'x\u00ff', 'x'.repeat(300),
] as const;

export const HEADER_VALUES = [
  'v', '', ' ', '  v  ', MARK, `a ${MARK} b`, 'a\r\nInjected: x', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb', '\t', 'é', '\u00ff', '😀', 'Ā',
  'close', 'keep-alive', 'Upgrade', 'websocket', 'h2c', '100-continue', 'trailers', 'chunked', 'gzip', '0', '-1', '99999999999999999999',
  'bytes=0-0', 'bytes=-1', `Bearer ${MARK}`, `Basic ${Buffer.from(`u:${MARK}`).toString('base64')}`, 'for=1.2.3.4;host=evil', '1.2.3.4, 5.6.7.8',
  'x-a, connection', 'InternalError', 'GatewayOffline', '*', 'x'.repeat(9000),
] as const;
