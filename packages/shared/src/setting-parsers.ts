// The value parsers every setting of both programs uses: one way to write a duration, a size, a count, a
// boolean, a URL or a list, wherever it is given (environment variable, flag, config). No I/O.
import { parseHostPort } from './url-rules.js';

/** A parsed value, or what was expected (the loader words the problem: `NAME must be <expected>`). */
export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };
export type Parser<T> = (raw: string) => Parsed<T>;

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
/** `64KiB`, `10MiB`, `1GiB`, `512B`, or bare bytes; units are binary and case-insensitive. */
export function parseSize(v: string): number | undefined {
  const m = SIZE.exec(v.trim());
  return m ? Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]! : undefined;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** `1500ms`, `30s`, `5m`, `1h`, or a bare number in `bareUnit` (seconds for every setting today); whole
 *  milliseconds (rounded). */
export function parseDuration(v: string, bareUnit: 'ms' | 's' = 's'): number | undefined {
  const m = DURATION.exec(v.trim());
  return m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit]!) : undefined;
}

/** How a duration in ms is written back (help texts, messages): the largest unit that divides it. */
export function formatDuration(ms: number): string {
  for (const [unit, n] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms % n === 0 && ms >= n) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

/** How a size in bytes is written back: the largest binary unit that divides it. */
export function formatSize(n: number): string {
  for (const [unit, m] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const)
    if (n % m === 0 && n >= m) return `${n / m}${unit}`;
  return `${n}`;
}

export interface Range {
  min?: number;
  max?: number;
}
const inRange = (n: number, r: Range): boolean => (r.min === undefined || n >= r.min) && (r.max === undefined || n <= r.max);

/** A duration in milliseconds; `expected` words the rule for the message (e.g. 'a duration from 1s to 24h, like 600s'). */
export function duration(r: Range & { expected?: string; bareUnit?: 'ms' | 's' } = {}): Parser<number> {
  const expected = r.expected ?? 'a duration like 30s, 5m or 1500ms';
  return (raw) => {
    const ms = parseDuration(raw, r.bareUnit);
    return ms !== undefined && inRange(ms, r) ? ok(ms) : bad(expected);
  };
}

/** A size in bytes. */
export function size(r: Range & { expected?: string } = {}): Parser<number> {
  const expected = r.expected ?? 'a size like 64KiB or 10MiB';
  return (raw) => {
    const n = parseSize(raw);
    return n !== undefined && inRange(n, r) ? ok(n) : bad(expected);
  };
}

/** A whole number (digits only). */
export function integer(r: Range & { expected?: string } = {}): Parser<number> {
  const expected = r.expected ?? `a whole number${r.min !== undefined ? ` of at least ${r.min}` : ''}${r.max !== undefined ? ` up to ${r.max}` : ''}`;
  return (raw) => {
    const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    return Number.isSafeInteger(n) && inRange(n, r) ? ok(n) : bad(expected);
  };
}

/** `true`/`false` (also 1/0, yes/no, on/off); a boolean flag given without a value is `true`. */
export function boolean(): Parser<boolean> {
  return (raw) => {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return ok(true);
    if (['false', '0', 'no', 'off'].includes(v)) return ok(false);
    return bad('true or false');
  };
}

/** Any text, as given (a secret may hold any character); `nonEmpty` refuses a blank one. */
export function text(o: { nonEmpty?: boolean; expected?: string } = {}): Parser<string> {
  return (raw) => (o.nonEmpty && raw.trim() === '' ? bad(o.expected ?? 'a value') : ok(raw));
}

/** One of a fixed set of words (exact case). */
export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  return (raw) => (choices.includes(raw.trim() as T) ? ok(raw.trim() as T) : bad(`one of ${choices.join(', ')}`));
}

/** An absolute URL with one of `protocols`; trailing slashes dropped; `origin`: no path, query, fragment or userinfo. */
export function url(o: { protocols: readonly string[]; origin?: boolean; expected?: string }): Parser<string> {
  const expected = o.expected ?? `${o.protocols.map((p) => `${p}//`).join(' or ')}host[:port]`;
  return (raw) => {
    let u: URL;
    try {
      u = new URL(raw.trim());
    } catch {
      return bad(expected);
    }
    if (!o.protocols.includes(u.protocol)) return bad(expected);
    if (o.origin && (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== ''))) return bad(expected);
    if (o.origin && !/^[a-z][a-z0-9+.-]*:\/\/[^/?#@]+\/*$/i.test(raw.trim())) return bad(expected);
    return ok(raw.trim().replace(/\/+$/, ''));
  };
}

/** `host:port` (IPv6 in brackets). */
export function hostPort(): Parser<{ host: string; port: number }> {
  return (raw) => {
    const hp = parseHostPort(raw);
    return hp ? ok(hp) : bad('host:port');
  };
}

/** Items separated by `separator` (default commas), each trimmed and parsed; empty items skipped. */
export function list<T>(item: Parser<T>, o: { separator?: RegExp; min?: number; expected?: string } = {}): Parser<T[]> {
  return (raw) => {
    const out: T[] = [];
    for (const part of raw
      .split(o.separator ?? /,/)
      .map((s) => s.trim())
      .filter(Boolean)) {
      const r = item(part);
      if (!r.ok) return bad(o.expected ?? `a list of ${r.expected}, separated by commas`);
      out.push(r.value);
    }
    return out.length >= (o.min ?? 0) ? ok(out) : bad(o.expected ?? 'a list of at least one item');
  };
}

/** `N/period` (100/60s): a count of at least 1 per a duration over 0. */
export function perPeriod(o: { expected: string }): Parser<{ limit: number; periodMs: number }> {
  return (raw) => {
    const m = /^(\d+)\s*\/\s*(\S+)$/.exec(raw.trim());
    const periodMs = m ? parseDuration(m[2]!) : undefined;
    const limit = m ? Number(m[1]) : NaN;
    return m && periodMs && limit > 0 ? ok({ limit, periodMs }) : bad(o.expected);
  };
}

/** `A/B` of two whole numbers (4/256) with 1 <= A <= B. */
export function pair(o: { expected: string }): Parser<[number, number]> {
  return (raw) => {
    const m = /^(\d+)\s*\/\s*(\d+)$/.exec(raw.trim());
    const a = m ? Number(m[1]) : 0;
    const b = m ? Number(m[2]) : 0;
    return a >= 1 && b >= a ? ok([a, b]) : bad(o.expected);
  };
}

/** A value some other parser accepts, then checked: `check` returns the expected wording when it fails. */
export function refine<T>(p: Parser<T>, check: (v: T) => string | undefined): Parser<T> {
  return (raw) => {
    const r = p(raw);
    if (!r.ok) return r;
    const why = check(r.value);
    return why === undefined ? r : bad(why);
  };
}
