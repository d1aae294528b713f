// Mutated raw-route requests, written byte by byte: odd methods, request targets and HTTP versions, header names
// and values Node's parser may or may not take, the hub token spelled oddly, and bodies framed every way (exact
// Content-Length, chunked, duplicated or conflicting lengths, chunked garbage, an early close). A request whose
// framing is broken on purpose goes on a fresh connection (`fresh`), so it cannot desynchronise the next one.
import type { Rng } from './fuzz-rng.js';
import type { FuzzRequest } from './fuzz-invoke.js';
import { HEADER_NAMES, HEADER_VALUES, MANY_HEADERS, METHODS, fuzzPath } from './fuzz-pieces.js';

export interface RawTarget {
  connId: string;
  token: string;
  hubPort: number;
}

const RAW_METHODS = [
  ...METHODS,
  'HEAD',
  'OPTIONS',
  'get',
  'FOO',
  'CONNECT',
  'TRACE',
  'PROPFIND',
  'M-SEARCH',
  'PURGE',
  'LINK',
  'QUERY',
  'G ET',
  'x'.repeat(100),
] as const;
/** Names that decide how a request is framed: only the framing strategies below write them. */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

function target(rng: Rng, t: RawTarget): string {
  const prefix = `/v1/connections/${t.connId}/proxy/`;
  switch (rng.int(12)) {
    case 0:
      return `http://127.0.0.1:${t.hubPort}${prefix}${fuzzPath(rng)}`;
    case 1:
      return rng.pick([
        '*',
        '',
        '/',
        prefix.slice(0, -1),
        `/v1/connections/${t.connId}/proxy`,
        `/v1/connections/${t.connId.toUpperCase()}/proxy/x`,
        '/v1/connections/00000000-0000-0000-0000-000000000000/proxy/x',
        `/V1/connections/${t.connId}/proxy/x`,
        `//v1/connections/${t.connId}/proxy/x`,
        `/v1/connections/${t.connId}/proxy/../invoke`,
        `/v1/connections/${t.connId}/%70roxy/x`,
      ]);
    case 2:
      return prefix + fuzzPath(rng).replace(/ /g, '%20') + String.fromCharCode(rng.pick([0x00, 0x7f, 0x80, 0xff, 0x0b, 0x0c]));
    default:
      return prefix + fuzzPath(rng).replace(/[ \t]/g, rng.chance(0.8) ? '%20' : ' ');
  }
}

function authorization(rng: Rng, token: string): string[] {
  switch (rng.int(10)) {
    case 0:
      return [];
    case 1:
      return [`Authorization: ${rng.pick(['bearer', 'BEARER', 'Bearer  ', 'Bearer\t'])} ${token}`];
    case 2:
      return [`X-Gatehouse-Authorization: Bearer ${token}`, `Authorization: ${rng.pick([`bearer ${token}`, `Bearer  ${token}`, 'Basic dTpw', 'Token abc'])}`];
    case 3:
      return [`Authorization: Bearer ${rng.pick(['a.b.c', '', token.slice(0, -2), `${token}x`, 'x'.repeat(5000)])}`];
    case 4:
      return [`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`];
    default:
      return [`Authorization: Bearer ${token}`];
  }
}

function oddHeaders(rng: Rng): string[] {
  const out: string[] = [];
  if (rng.chance(0.02)) {
    for (let i = 0; i < rng.pick(MANY_HEADERS); i++) out.push(`x-h${i}: v`);
    return out;
  }
  for (let n = rng.int(5); n > 0; n--) {
    let name: string = rng.chance(0.8) ? rng.pick(HEADER_NAMES) : `x-${rng.u32().toString(36)}`;
    if (FRAMING.has(name.toLowerCase())) name = 'x-a';
    const value = rng.pick(HEADER_VALUES);
    const line = rng.chance(0.05)
      ? rng.pick([`${name}:${value}`, `${name} : ${value}`, ` folded ${value}`, `${name}: ${value}\r\n\tcontinued`, `: ${value}`, name])
      : `${name}: ${value}`;
    // (never an empty line: it would end the head, and the rest would arrive as a pipelined request of garbage)
    if (line.trim() !== '' && !/\r\n\r\n|^\r\n|\r\n$/.test(line)) out.push(line);
  }
  if (rng.chance(0.05)) out.push(`x-big: ${'b'.repeat(rng.pick([16_000, 31_000, 40_000]))}`);
  if (rng.chance(0.05))
    out.push(
      rng.pick(['Connection: Upgrade', 'Connection: close', 'Connection: keep-alive, x-a']),
      rng.pick(['Upgrade: websocket', 'Upgrade: h2c', 'Upgrade: foo/1']),
    );
  if (rng.chance(0.03)) out.push('Expect: 100-continue');
  return out;
}

const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

/** A chunked body whose framing breaks after the call has started (each complete: a chunked body that just
 *  stops would wait for the hub's idle timeout). */
export function midBodyGarbage(rng: Rng): [string, string[], Buffer, boolean] {
  return [
    'chunked-garbage',
    ['Transfer-Encoding: chunked'],
    Buffer.from(
      rng.pick([
        'zz\r\nabc\r\n0\r\n\r\n',
        'ffffffffffffffffff\r\nabc\r\n0\r\n\r\n',
        '-1\r\n\r\n',
        '3\r\nabcdef\r\n0\r\n\r\n',
        '3\nabc\n0\n\n',
        '3\r\nabc\r\n0\r\nbad trailer\r\n\r\n',
        `1;${'e'.repeat(9000)}\r\na\r\n0\r\n\r\n`,
      ]),
    ),
    false,
  ];
}

/** A body cut off by the caller's close: a Content-Length longer than what comes, or chunks without the last. */
export function midBodyCloses(body: Buffer): Array<[string, string[], Buffer, boolean]> {
  return [
    ['early-close-body', [`Content-Length: ${body.length + 100}`], body, true],
    ['early-close-chunked', ['Transfer-Encoding: chunked'], chunk(body.length ? body : Buffer.from('x')), true],
  ];
}

interface Framed {
  headers: string[];
  body: Buffer;
  fresh: boolean;
  earlyClose: boolean;
  name: string;
  mayClose?: boolean;
}

function framing(rng: Rng, head: boolean): Framed {
  const body = rng.bytes(rng.chance(0.05) ? rng.range(1000, 64 * 1024) : rng.int(300));
  const r = rng.int(20);
  if (r < 6 || head) return { headers: [], body: Buffer.alloc(0), fresh: false, earlyClose: false, name: 'none' };
  if (r < 11) return { headers: [`Content-Length: ${body.length}`], body, fresh: false, earlyClose: false, name: 'length' };
  if (r < 14) {
    const parts = [body.subarray(0, body.length >> 1), body.subarray(body.length >> 1)].filter((p) => p.length).map(chunk);
    const ext = rng.chance(0.2) ? ';ext=1' : '';
    return {
      headers: ['Transfer-Encoding: chunked'],
      body: Buffer.concat([...parts, Buffer.from(`0${ext}\r\n${rng.chance(0.2) ? 'x-trailer: t\r\n' : ''}\r\n`)]),
      fresh: false,
      earlyClose: false,
      name: 'chunked',
    };
  }
  // broken on purpose: a fresh connection, closed after the answer
  const n = body.length;
  const broken: Array<[string, string[], Buffer, boolean]> = [
    ['dup-length-same', [`Content-Length: ${n}`, `Content-Length: ${n}`], body, false],
    ['dup-length-differ', [`Content-Length: ${n}`, `Content-Length: ${n + 1}`], body, false],
    ['length-list', [`Content-Length: ${n}, ${n}`], body, false],
    [
      'length-and-chunked',
      [`Content-Length: ${n}`, 'Transfer-Encoding: chunked'],
      Buffer.concat([body.length ? chunk(body) : Buffer.alloc(0), Buffer.from('0\r\n\r\n')]),
      false,
    ],
    // (five bytes follow, so a length the parser does take, ' 5 ', is a complete request, not a stalled one)
    ['length-odd', [`Content-Length: ${rng.pick(['1a', '+5', ' 5 ', '-1', '0x10', '99999999999999999999', '', '5 5'])}`], Buffer.from('abcde'), false],
    [
      'coding',
      [`Transfer-Encoding: ${rng.pick(['gzip, chunked', 'chunked, gzip', 'chunked, chunked', 'identity', 'gzip', 'Chunked', ' chunked'])}`],
      Buffer.concat([body.length ? chunk(body) : Buffer.alloc(0), Buffer.from('0\r\n\r\n')]),
      false,
    ],
  ];
  broken.push(...midBodyCloses(body), midBodyGarbage(rng));
  const [name, headers, b, earlyClose] = rng.pick(broken);
  // A body whose chunked framing breaks after the call started: the hub closes the connection without an
  // answer (it is already answering; docs/errors.md), as Node does.
  return { headers, body: b, fresh: true, earlyClose, name, mayClose: name === 'chunked-garbage' };
}

/** One mutated raw-route request as bytes. */
export function rawRequest(rng: Rng, t: RawTarget): FuzzRequest {
  const method = rng.chance(0.8) ? rng.pick(METHODS) : rng.pick(RAW_METHODS);
  const head = method === 'HEAD';
  const version = rng.chance(0.95) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 ', 'HTTP/11']);
  const host = rng.chance(0.95)
    ? [`Host: 127.0.0.1:${t.hubPort}`]
    : rng.pick([[], ['Host: a', 'Host: b'], ['Host: '], ['Host: evil.example'], [`Host: ${'h'.repeat(3000)}`]]);
  const f = framing(rng, head);
  const lines = [`${method} ${target(rng, t)} ${version}`, ...host, ...authorization(rng, t.token), ...oddHeaders(rng), ...f.headers];
  const order = rng.chance(0.1) ? lines.slice(1).reverse() : lines.slice(1);
  const text = `${[lines[0], ...order].join('\r\n')}\r\n\r\n`;
  const earlyHead = rng.chance(0.01);
  const encoding = rng.chance(0.8) ? 'latin1' : 'utf8';
  const bytes = earlyHead ? Buffer.from(text.slice(0, rng.int(text.length)), encoding) : Buffer.concat([Buffer.from(text, encoding), f.body]);
  const fresh = f.fresh || earlyHead || version !== 'HTTP/1.1';
  return {
    bytes,
    label: `${earlyHead ? 'early-close-head' : f.name}: ${text.slice(0, 240)}`,
    head,
    fresh,
    earlyClose: f.earlyClose || earlyHead,
    mayClose: f.mayClose === true,
  };
}
