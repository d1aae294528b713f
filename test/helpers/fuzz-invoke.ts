// Mutated invoke calls: a valid {"method","url","headers","body"} changed in its fields (wrong types, odd
// methods, hostile URLs, odd header names and values, bad base64), in its JSON text (duplicate keys, __proto__,
// escaped member names, deep nesting, body first, BOM, garbage) or in its bytes (invalid UTF-8, bit flips),
// framed as one HTTP/1.1 request with an exact Content-Length.
import type { Rng } from './fuzz-rng.js';
import { mutate } from './fuzz-mutate.js';
import { HEADER_NAMES, HEADER_VALUES, MANY_HEADERS, METHODS, ODD_METHODS, fuzzPath } from './fuzz-pieces.js';

export interface InvokeTarget {
  connId: string;
  token: string;
  echoUrl: string;
}

const WRONG: unknown[] = [null, true, false, 0, 1, -1, 1.5, 1e308, '', [], {}, [1], ['GET'], { a: 'b' }, [['a', 'b']]];

function url(rng: Rng, t: InvokeTarget): unknown {
  const port = new URL(t.echoUrl).port;
  const base = `${t.echoUrl}/svc/`;
  switch (rng.int(6)) {
    case 0:
      return `echo/${fuzzPath(rng)}`;
    case 1:
      return fuzzPath(rng);
    case 2:
      return base + fuzzPath(rng);
    case 3:
      return rng.pick([
        '//evil.example/x',
        'http://evil.example/',
        `http://u:p@127.0.0.1:${port}/svc/echo`,
        `HTTP://127.0.0.1:${port}/svc/echo`,
        'file:///etc/passwd',
        'javascript:alert(1)',
        `http://[::1]:${port}/svc/echo`,
        `http://127.1:${port}/svc/echo`,
        `http://0x7f000001:${port}/svc/echo`,
        `http://127.0.0.1:${port}@evil/svc/`,
        `http://127.0.0.1:${port}/svc`,
        `http://127.0.0.1:${port}/svcx`,
        `http://127.0.0.1:${Number(port) + 1}/svc/echo`,
        `https://127.0.0.1:${port}/svc/echo`,
        'echo/'.padEnd(3000, 'a'),
        ' ',
        '\t/echo',
        '?x=1',
        '#f',
        'echo/\r\nX-Injected: 1',
        `ws://127.0.0.1:${port}/svc/echo`,
      ]);
    case 4:
      return rng.pick(WRONG);
    default:
      return `echo/${'abcdef0123456789'[rng.int(16)]}${rng.chance(0.5) ? '?a=1' : ''}`;
  }
}

function headers(rng: Rng): unknown {
  if (rng.chance(0.1)) return rng.pick(WRONG);
  const h: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (rng.chance(0.03)) {
    for (let i = 0; i < rng.pick(MANY_HEADERS); i++) h[`x-h${i}`] = 'v';
    return h;
  }
  for (let n = rng.int(5); n > 0; n--) {
    const name = rng.chance(0.7) ? rng.pick(HEADER_NAMES) : `x-${rng.u32().toString(36)}`;
    h[name] = rng.chance(0.9) ? rng.pick(HEADER_VALUES) : rng.pick(WRONG);
  }
  return h;
}

function body(rng: Rng): unknown {
  switch (rng.int(4)) {
    case 0:
      return rng.pick(['not base64!', 'QQ', 'QQ=', 'QQ==QQ==', 'A===', '====', '=', '-_-_', 'QUJD\nREVG', ' QUJD ', 'QUJD\tREVG', 'Zm9v\u00e9', '\u0000AAA']);
    case 1:
      return rng.pick(WRONG);
    case 2:
      return rng.bytes(rng.chance(0.02) ? rng.range(64 * 1024, 100 * 1024) : rng.int(2048)).toString('base64');
    default:
      return undefined;
  }
}

/** The invoke object, valid, with up to three of its fields mutated. */
function invokeObject(rng: Rng, t: InvokeTarget): Record<string, unknown> {
  const o: Record<string, unknown> = {
    method: rng.pick(METHODS),
    url: `echo/${rng.int(1000)}`,
    headers: { 'x-a': 'v' },
    body: rng.bytes(rng.int(64)).toString('base64'),
  };
  for (let n = rng.range(1, 3); n > 0; n--) {
    const field = rng.pick(['method', 'url', 'headers', 'body', 'extra'] as const);
    if (field === 'method') o.method = rng.chance(0.7) ? rng.pick(ODD_METHODS) : rng.pick(WRONG);
    else if (field === 'url') o.url = url(rng, t);
    else if (field === 'headers') o.headers = headers(rng);
    else if (field === 'body') {
      const b = body(rng);
      if (b === undefined) delete o.body;
      else o.body = b;
    } else o[rng.pick(['timeout', 'bodyEncoding', 'x', ''])] = rng.pick(WRONG);
  }
  if (rng.chance(0.05)) delete o[rng.pick(['method', 'url', 'headers'])];
  return o;
}

/** `n` nested arrays (n even) or objects (n odd). */
const deep = (n: number): string => (n % 2 === 0 ? '['.repeat(n) + ']'.repeat(n) : `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`);

/** JSON text edits that JSON.stringify cannot produce. */
function textEdit(rng: Rng, json: string): string {
  const close = json.lastIndexOf('}');
  const add = (member: string) => `${json.slice(0, close)}${close > 1 ? ',' : ''}${member}${json.slice(close)}`;
  switch (rng.int(12)) {
    case 0:
      return add(rng.pick(['"method":"DELETE"', '"url":"../x"', '"url":"echo/dup"', '"body":"QQ=="', '"headers":{"x-b":"w"}', '"method":null']));
    case 1:
      return add(rng.pick(['"__proto__":{"method":"GET"}', '"__proto__":null', '"constructor":{"prototype":{"x":1}}']));
    case 2:
      return json.replace(
        /"headers":\{/,
        rng.pick(['"headers":{"__proto__":"x",', '"headers":{"__proto__":{"a":"b"},', '"headers":{"constructor":"x",', '"headers":{"toString":"x",']),
      );
    case 3:
      return json.replace(rng.pick(['"body"', '"method"', '"url"', '"headers"']), (k) =>
        rng.pick([`"${k[1]}\\u00${k.charCodeAt(2).toString(16)}${k.slice(3)}`, `"\\u00${k.charCodeAt(1).toString(16)}${k.slice(2)}`]),
      );
    case 4:
      return add(`"deep":${deep(rng.pick([100, 2001, 20_001]))}`);
    case 5:
      return json.replace(/"headers":\{[^}]*\}/, `"headers":${deep(rng.pick([100, 20_001]))}`);
    case 6: {
      // body first: the hub must read it whole before it knows method, url and headers
      const o = JSON.parse(json) as Record<string, unknown>;
      return JSON.stringify({ body: o.body ?? 'QUJD', ...o });
    }
    case 7:
      return rng.pick([
        `\ufeff${json}`,
        `\n\t ${json} \r\n`,
        `${json}x`,
        `${json}${json}`,
        `${json}}`,
        json.slice(0, rng.int(json.length)),
        '',
        'null',
        '[]',
        '"x"',
        '1',
        '{}',
        '{"body":',
      ]);
    case 8:
      return json.replace(/"body":"/, rng.pick(['"body":"\\/', '"body":"\\n', '"body":"\\u0041', '"body":"\\"', '"body":"\\\\']));
    case 9:
      return json.replace(/"url":"/, `"url":"${rng.pick(['\\u0000', '\\ud800', '\\udc00x', '\\u002e\\u002e/', '\\/\\/evil', '\\r\\n'])}`);
    case 10:
      return json.replace(/:/g, () => (rng.chance(0.3) ? ' : ' : ':'));
    default:
      return json.replace(/,/, rng.pick([',,', ' , ', ',\u0000', ',\u00a0']));
  }
}

/** Invalid UTF-8 bytes put inside a string of the JSON text (or anywhere). */
function badUtf8(rng: Rng, text: Buffer): Buffer {
  const bytes = rng.pick([[0xff], [0x80], [0xc0, 0xae], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xfe, 0xff], [0xef, 0xbb, 0xbf]]);
  const quotes: number[] = [];
  for (let i = 0; i < text.length; i++) if (text[i] === 0x22) quotes.push(i);
  const at = quotes.length && rng.chance(0.8) ? rng.pick(quotes) + 1 : rng.int(text.length + 1);
  return Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]);
}

export interface FuzzRequest {
  bytes: Buffer;
  /** What the case is, for a failure report. */
  label: string;
  /** A HEAD request (its answer has no body). */
  head: boolean;
  /** Sent on a connection of its own, closed after the answer (framing broken on purpose). */
  fresh: boolean;
  /** We close our side after the bytes (a caller that goes away). */
  earlyClose: boolean;
  /** The hub may close the connection without an answer (a body whose framing breaks mid-call). */
  mayClose?: boolean;
}

/** One mutated invoke call as HTTP/1.1 bytes. */
export function invokeRequest(rng: Rng, t: InvokeTarget): FuzzRequest {
  const o = invokeObject(rng, t);
  let text: Buffer = Buffer.from(JSON.stringify(o), 'utf8');
  const how: string[] = ['fields'];
  const r = rng.int(10);
  if (r < 4) {
    text = Buffer.from(textEdit(rng, text.toString('utf8')), 'utf8');
    how.push('text');
  } else if (r < 6) {
    text = badUtf8(rng, text);
    how.push('utf8');
  } else if (r < 8) {
    const m = mutate(rng, text, Buffer.from('{"method":"GET","url":"echo/","headers":{},"body":"QUJD"}'));
    text = m.bytes;
    how.push(...m.steps);
  }
  const type = rng.chance(0.95)
    ? 'application/json'
    : rng.pick(['', 'text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'application/problem+json']);
  const head = `POST /v1/connections/${t.connId}/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${t.token}\r\n${type ? `Content-Type: ${type}\r\n` : ''}Content-Length: ${text.length}\r\n\r\n`;
  return {
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), text]),
    label: `${how.join('+')}: ${text.subarray(0, 160).toString('utf8')}`,
    head: false,
    fresh: false,
    earlyClose: false,
  };
}
