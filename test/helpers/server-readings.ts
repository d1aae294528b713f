// An oracle for the URL rule, written apart from packages/shared/src/url-rules.ts: the ways common servers read a
// request path (decode once or again and again, as UTF-8, Latin-1, or IIS-style with %uXXXX and overlong UTF-8;
// NFKC; `;params` dropped before or after decoding; '\' as a separator; segments trimmed; slashes merged), each
// followed by dot-segment removal. A path is safe when every reading ends under the base and holds no control
// character.

const RUNS = /(?:%[0-9a-fA-F]{2})+/g;

/** The bytes of a run of `%XX` escapes. */
function runBytes(run: string): Buffer {
  const out = Buffer.alloc(run.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(run.slice(3 * i + 1, 3 * i + 3), 16);
  return out;
}

/** Reads bytes the way an old, permissive UTF-8 decoder does: the value of any well-formed 2- to 6-byte form,
 *  overlong or not (so C0 AE is '.'); a byte that starts or continues nothing becomes U+FFFD. */
function permissiveUtf8(bytes: Buffer): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let ones = 0;
    while (ones < 8 && (b & (0x80 >> ones)) !== 0) ones++;
    if (ones === 0) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    if (ones === 1 || ones > 6 || i + ones > bytes.length) {
      out += '\ufffd';
      i++;
      continue;
    }
    let value = b & (0xff >> (ones + 1));
    let good = true;
    for (let k = 1; k < ones; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) {
        good = false;
        break;
      }
      value = value * 64 + (c & 0x3f);
    }
    if (!good || value > 0x10ffff) {
      out += '\ufffd';
      i++;
      continue;
    }
    out += String.fromCodePoint(value);
    i += ones;
  }
  return out;
}

export type Decoder = (s: string) => string;

/** One round of decoding each way a server may do it. Escapes that are not '%' and two hex digits stay. */
export const DECODERS: Record<string, Decoder> = {
  utf8: (s) => s.replace(RUNS, (run) => new TextDecoder('utf-8').decode(runBytes(run))),
  latin1: (s) => s.replace(RUNS, (run) => runBytes(run).toString('latin1')),
  iis: (s) =>
    s.replace(/%u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))).replace(RUNS, (run) => permissiveUtf8(runBytes(run))),
};

const dropParams = (segment: string) => segment.split(';')[0]!;
const dropParamsInPath = (path: string) => path.split('/').map(dropParams).join('/');

/** The chain of strings a server that decodes until nothing changes sees (at most 12 rounds). */
function decodeChain(start: string, decode: Decoder, nfkc: boolean): string[] {
  const chain = [start];
  let s = start;
  for (let round = 0; round < 12; round++) {
    const next = decode(nfkc ? s.normalize('NFKC') : s);
    if (next === s) break;
    chain.push(next);
    s = next;
  }
  if (nfkc) chain.push(...chain.map((c) => c.normalize('NFKC')));
  return chain;
}

export interface Reading {
  name: string;
  segments: string[];
}

/** Every reading of `path` (the path as sent), as the segments a server is left with after removing dot segments. */
export function readings(path: string): Reading[] {
  const out: Reading[] = [];
  for (const [decoderName, decode] of Object.entries(DECODERS)) {
    for (const nfkc of [false, true]) {
      for (const paramsFirst of [false, true]) {
        const chain = decodeChain(paramsFirst ? dropParamsInPath(path) : path, decode, nfkc);
        chain.forEach((text, level) => {
          for (const backslash of [false, true]) {
            for (const paramsAfter of [false, true]) {
              for (const trim of [false, true]) {
                for (const merge of [false, true]) {
                  let segments = text.split(backslash ? /[/\\]/ : '/').slice(1);
                  if (paramsAfter) segments = segments.map(dropParams);
                  if (trim) segments = segments.map((s) => s.trim());
                  if (merge) segments = segments.filter((s, i) => s !== '' || i === segments.length - 1);
                  out.push({
                    name: `${decoderName} x${level}${nfkc ? ' nfkc' : ''}${paramsFirst ? ' ;params-first' : ''}${backslash ? ' \\=/' : ''}${paramsAfter ? ' ;params' : ''}${trim ? ' trim' : ''}${merge ? ' merge//' : ''}`,
                    segments: removeDotSegments(segments),
                  });
                }
              }
            }
          }
        });
      }
    }
  }
  return out;
}

/** RFC 3986 section 5.2.4 on a list of segments; climbing above the root leaves the marker '<above root>'. */
export function removeDotSegments(segments: string[]): string[] {
  const stack: string[] = [];
  segments.forEach((s, i) => {
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) stack.push('');
      return;
    }
    if (s === '..') {
      if (stack.length === 0) {
        stack.push('<above root>');
        return;
      }
      if (stack[0] === '<above root>') return;
      stack.pop();
      if (last) stack.push('');
      return;
    }
    stack.push(s);
  });
  return stack;
}

const CONTROL = /[\0-\x1f\x7f]/;

/** The readings of `path` that end outside `basePath` or hold a control character (empty: the path is safe). */
export function unsafeReadings(path: string, basePath: string): string[] {
  const base = basePath.split('/').filter((s) => s !== '');
  return readings(path)
    .filter((r) => r.segments.some((s) => CONTROL.test(s)) || base.some((b, i) => r.segments[i] !== b))
    .map((r) => `${r.name}: /${r.segments.join('/')}`);
}
