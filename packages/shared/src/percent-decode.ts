// Percent-decoding the way the most lenient servers do it, for the URL rule (url-rules.ts) to see a path as they
// would after one more round of decoding. Not for producing URLs: nothing here is sent anywhere.

/** The value of a hex digit's character code, or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** The byte of the `%XX` escape at `i`, or -1 when there is none. */
function byteAt(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x25 /* % */) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/** The code unit of the `%uXXXX` escape at `i`, or -1 when there is none. */
function unitAt(s: string, i: number): number {
  if ((s.charCodeAt(i + 1) | 0x20) !== 0x75 /* u or U */) return -1;
  let unit = 0;
  for (let k = 2; k < 6; k++) {
    const v = hexValue(s.charCodeAt(i + k));
    if (v < 0) return -1;
    unit = unit * 16 + v;
  }
  return unit;
}

/** How many continuation bytes a lead byte announces, in UTF-8 as first specified (up to 6-byte forms), or -1. */
function continuations(lead: number): number {
  if (lead >= 0xc0 && lead <= 0xdf) return 1;
  if (lead >= 0xe0 && lead <= 0xef) return 2;
  if (lead >= 0xf0 && lead <= 0xf7) return 3;
  if (lead >= 0xf8 && lead <= 0xfb) return 4;
  if (lead >= 0xfc && lead <= 0xfd) return 5;
  return -1;
}

/**
 * One round of decoding: `%XX` escapes (a run of them read as UTF-8 that accepts overlong forms, so `%c0%ae` is
 * '.', and encoded surrogates) and IIS's `%uXXXX`. An escape that is not one (`%zz`, a lone continuation byte, a
 * sequence cut short) stays as it is, so a string with nothing left to decode comes back unchanged.
 */
export function decodeLeniently(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const next = s.indexOf('%', i);
    if (next < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, next);
    i = next;
    const unit = unitAt(s, i);
    if (unit >= 0) {
      out += String.fromCharCode(unit);
      i += 6;
      continue;
    }
    const lead = byteAt(s, i);
    if (lead < 0) {
      out += '%';
      i++;
      continue;
    }
    if (lead < 0x80) {
      out += String.fromCharCode(lead);
      i += 3;
      continue;
    }
    const n = continuations(lead);
    let cp = n < 0 ? -1 : lead & (0x3f >> n);
    for (let k = 1; k <= n && cp >= 0; k++) {
      const b = byteAt(s, i + 3 * k);
      cp = b >= 0x80 && b <= 0xbf ? cp * 64 + (b & 0x3f) : -1;
    }
    if (cp < 0 || cp > 0x10ffff) {
      out += s.slice(i, i + 3);
      i += 3;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += 3 * (n + 1);
  }
  return out;
}
