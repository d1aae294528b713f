// An agent runs on a machine the hub does not control: its answer is checked before any of it reaches a caller
// (docs/protocol.md, "What the hub checks in an answer"). The status must be final, every header line must be one
// HTTP allows, and the framing is the hub's: the agent's Content-Length is a declaration the hub checks and holds
// the body to, never a header it copies.
import { HOP_BY_HOP, isValidHeaderName, isValidHeaderValue } from './headers.js';
import { answerHasNoBody } from './no-body.js';
import type { HeaderList } from './protocol.js';

/** Response headers that are the hub's own words (x-gatehouse-error says a failure is the hub's): never an agent's. */
export const HUB_HEADER_PREFIX = 'x-gatehouse-';

/** The one `x-gatehouse-*` header that is the agent's own words, not the hub's: its diagnostic of a Windows
 *  authentication (docs/windows-auth.md). Passed on only with a value of at most MAX_WINDOWS_AUTH_HINT characters. */
export const AGENT_WINDOWS_AUTH_HEADER = 'x-gatehouse-windows-auth';
export const MAX_WINDOWS_AUTH_HINT = 512;

/** The diagnostic's vocabulary (`failed (<kerberos|ntlm>: <reason>)`, docs/windows-auth.md): visible ASCII words
 *  separated by single spaces. It sits in the hub's own header namespace, so nothing else passes (red-team finding
 *  B8: C1 characters such as 0x9B, a terminal's escape, and 0x85, 0xAD passed as any header value may). */
const WINDOWS_AUTH_HINT = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

/** The agent's diagnostic header value for `why`: `failed (why)` with every run of anything but visible ASCII one
 *  space (a non-ASCII user name in an error message), cut to MAX_WINDOWS_AUTH_HINT: what the hub passes on. */
export function windowsAuthHint(why: string): string {
  const words = why.replace(/[^\x21-\x7e]+/g, ' ').trim();
  return `failed (${words.slice(0, MAX_WINDOWS_AUTH_HINT - 10).trim()})`;
}

/** Whether an agent's answer header (its name lower-cased) is the hub's to write, so never taken from an agent. */
const hubOwned = (n: string, value: string): boolean =>
  n.startsWith(HUB_HEADER_PREFIX) && (n !== AGENT_WINDOWS_AUTH_HEADER || value.length > MAX_WINDOWS_AUTH_HINT || !WINDOWS_AUTH_HINT.test(value));

export type AgentAnswer =
  | {
      ok: true;
      /** The headers a caller may get: lower-case names, hop-by-hop, x-gatehouse-* (but AGENT_WINDOWS_AUTH_HEADER) and the agent's own framing removed,
       *  and `content-length` set by the hub when it knows the body's length. */
      headers: HeaderList;
      /** The most body bytes the answer may carry (null: not known, the caller's answer is chunked). */
      bodyLimit: number | null;
    }
  | { ok: false; reason: string };

const DIGITS = /^\d{1,15}$/;

/**
 * Checks an agent's response head. `whole`: the body's length when the answer came whole (a RESPONSE frame),
 * which is then the only length there is. A reason never repeats a header value (it may be anything).
 */
export function checkAgentAnswer(method: string, status: number, headers: HeaderList, whole?: number): AgentAnswer {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    return {
      ok: false,
      reason:
        status >= 100 && status < 200
          ? `status ${status} is an interim answer, and the relay carries only final ones (200-599)`
          : 'the status is outside 200-599',
    };
  }
  let listed: Set<string> | undefined;
  let declared: string | undefined;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!isValidHeaderName(name)) return { ok: false, reason: `header line ${i + 1} has a name HTTP does not allow` };
    if (!isValidHeaderValue(value)) return { ok: false, reason: `header line ${i + 1} (${name.slice(0, 64)}) has a value HTTP does not allow` };
    const n = name.toLowerCase();
    if (n === 'connection') {
      listed ??= new Set();
      for (const t of value.split(',')) {
        const c = t.trim().toLowerCase();
        if (c) listed.add(c);
      }
    } else if (n === 'content-length') {
      // RFC 9110 8.6: repeated equal values (or a list of them) are one length; anything else is no length at all.
      for (const v of value.split(',')) {
        const d = v.trim();
        if (!DIGITS.test(d) || (declared !== undefined && Number(d) !== Number(declared)))
          return { ok: false, reason: 'its Content-Length is not one whole number of bytes' };
        declared = d;
      }
    }
  }
  const out: HeaderList = [];
  for (const [name, value] of headers) {
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || listed?.has(n) || n === 'content-length' || hubOwned(n, value)) continue;
    out.push([n, value]);
  }
  const length = declared === undefined ? undefined : Number(declared);
  // A HEAD answer, 204 or 304 has no body: a Content-Length there describes the representation (kept), and any byte is too many.
  if (answerHasNoBody(method, status)) {
    if (length !== undefined) out.push(['content-length', String(length)]);
    if (whole !== undefined && whole > 0) return { ok: false, reason: `status ${status} to ${method.slice(0, 16)} carries no body, and the answer has one` };
    return { ok: true, headers: out, bodyLimit: 0 };
  }
  if (whole !== undefined) {
    if (length !== undefined && length !== whole) return { ok: false, reason: `its Content-Length says ${length} bytes and its body has ${whole}` };
    out.push(['content-length', String(whole)]);
    return { ok: true, headers: out, bodyLimit: whole };
  }
  if (length !== undefined) out.push(['content-length', String(length)]);
  return { ok: true, headers: out, bodyLimit: length ?? null };
}

/** Most characters (Unicode code points) of an agent's own text (a FAILURE or CANCEL reason) a caller's error message quotes. */
export const MAX_AGENT_WORDS = 200;

/**
 * What the hub never quotes from an agent, by Unicode property rather than by a list of code points (a list missed
 * tag characters, U+206A-206F, U+034F, U+115F/U+1160, U+3164, U+FFF9-FFFB and variation selectors): control
 * characters (Cc: C0, DEL, C1), format characters (Cf: bidirectional marks, overrides and isolates, zero-width
 * joiners, U+FEFF, soft hyphen, interlinear annotations, tag characters), every default-ignorable code point
 * (invisible by definition: variation selectors, Hangul fillers, U+034F, the reserved ranges), lone surrogates (Cs),
 * and line and paragraph separators (Zl, Zp: U+2028 and U+2029 break a line to many log readers and JavaScript).
 */
const UNQUOTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]+/gu;

const HAS_UNQUOTABLE = new RegExp(UNQUOTABLE.source, 'u');

/** Whether `text` holds a character the hub never quotes from an agent (UNQUOTABLE). */
export const hasUnquotable = (text: string): boolean => HAS_UNQUOTABLE.test(text);

/**
 * An agent's text as the hub quotes it: every run of UNQUOTABLE characters replaced by one space, trimmed, and cut
 * to at most MAX_AGENT_WORDS code points (never inside a surrogate pair, so the result is well-formed UTF-16),
 * with "..." after a cut. It is quoted as the agent's ("the agent reported: ..."), never as the hub's own words.
 */
export function agentWords(text: string): string {
  const clean = text.replace(UNQUOTABLE, ' ').trim();
  // A string of at most MAX_AGENT_WORDS UTF-16 units has at most that many code points: only longer ones are split.
  if (clean.length <= MAX_AGENT_WORDS) return clean;
  const points = Array.from(clean);
  return points.length > MAX_AGENT_WORDS ? `${points.slice(0, MAX_AGENT_WORDS).join('')}...` : clean;
}
