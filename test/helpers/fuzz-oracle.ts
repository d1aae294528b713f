// What a fuzzed call may answer: the service's own answer (through the invoke envelope or the raw route), or a
// hub error with the documented body, header and status. Anything else is a failure. A coded 5xx is allowed by
// the contract, but the echo service behind the agent never fails, so one points at a hub or agent problem: it
// is a failure too.
import { ErrorCodes, isErrorCode } from '@gatehouse/shared';
import type { RawAnswer } from './fuzz-http.js';

/** Text the fuzz puts in header values and query strings: a hub message must never repeat it. */
export const MARK = 'fz-secret-7d1c';

export interface Judgement {
  /** Tally key: `status code` or `status backend`. */
  key: string;
  /** Why the answer breaks the contract, when it does. */
  problem?: string;
}

const one = (a: RawAnswer, name: string): string | undefined => a.headers.get(name)?.[0];

/** A hub error: JSON {"error":{"code","message","requestId"}}, the code known, its status, x-gatehouse-error. */
function judgeError(a: RawAnswer, head: boolean, token: string): Judgement {
  const header = one(a, 'x-gatehouse-error');
  const key = `${a.status} ${header ?? '(no code)'}`;
  if (header === undefined) return { key, problem: `status ${a.status} with neither the service's answer nor x-gatehouse-error` };
  if (!isErrorCode(header)) return { key, problem: `x-gatehouse-error ${header} is not a documented code` };
  const status = ErrorCodes[header].status;
  if (a.status !== status && !(header === 'InvalidRequest' && (a.status === 408 || a.status === 431)))
    return { key, problem: `code ${header} with status ${a.status}, documented ${status}` };
  if (!head) {
    let body: unknown;
    try {
      body = JSON.parse(a.body.toString('utf8'));
    } catch {
      return { key, problem: `error body is not JSON: ${a.body.subarray(0, 120).toString('latin1')}` };
    }
    const e = (body as { error?: { code?: unknown; message?: unknown; requestId?: unknown } })?.error;
    if (!e || e.code !== header || typeof e.message !== 'string' || typeof e.requestId !== 'string' || !e.requestId)
      return { key, problem: `error body is not {"error":{"code","message","requestId"}}: ${a.body.subarray(0, 200).toString('utf8')}` };
    if (e.message.includes(MARK) || e.message.includes(token))
      return { key, problem: `error message repeats a header value, query or token: ${e.message.slice(0, 200)}` };
  }
  if (header === 'InternalError') return { key, problem: 'InternalError: an unexpected hub fault on caller input' };
  if (a.status < 500) return { key };
  return { key, problem: `a ${a.status} although the service behind the agent never fails: ${a.body.subarray(0, 200).toString('utf8')}` };
}

/** An invoke answer: the envelope of the echo service's answer, or a hub error. */
export function judgeInvoke(a: RawAnswer, token: string): Judgement {
  if (a.status !== 200 || one(a, 'x-gatehouse-error') !== undefined) return judgeError(a, false, token);
  let env: { statusCode?: unknown; headers?: unknown; body?: unknown };
  try {
    env = JSON.parse(a.body.toString('utf8')) as typeof env;
  } catch {
    return { key: '200 backend', problem: 'a 200 whose body is not the JSON envelope' };
  }
  if (
    !Number.isInteger(env.statusCode) ||
    typeof env.headers !== 'object' ||
    env.headers === null ||
    typeof env.body !== 'string' ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(env.body)
  ) {
    return { key: '200 backend', problem: `a 200 envelope of the wrong shape: ${a.body.subarray(0, 200).toString('utf8')}` };
  }
  return { key: `200 backend ${String(env.statusCode)}` };
}

/** A raw-route answer: the echo service's own (it sets x-echo-method), or a hub error. */
export function judgeRaw(a: RawAnswer, head: boolean, token: string): Judgement {
  const fromService = one(a, 'x-echo-method') !== undefined;
  const coded = one(a, 'x-gatehouse-error') !== undefined;
  if (fromService && coded) return { key: `${a.status} both`, problem: "an answer carrying both the service's headers and x-gatehouse-error" };
  if (fromService) return { key: `${a.status} backend` };
  return judgeError(a, head, token);
}

/** A path as the most lenient common server reads it: escapes decoded until stable (%XX, %uXXXX, overlong UTF-8
 *  dots), full-width dots as dots; then its segments (split at / and \), each cut at its first `;` and trimmed. */
function lenientSegments(path: string): string[] {
  let s = path;
  for (let i = 0; i < 5; i++) {
    const next = s
      .replace(/%u([0-9a-f]{4})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/%c0%ae|%e0%80%ae/gi, '.')
      .replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === s) break;
    s = next;
  }
  return s
    .replace(/\uff0e/g, '.')
    .split(/[/\\]/)
    .map((seg) => seg.split(';')[0]!.trim());
}

/**
 * How a path the service received leaves the connection's base `base` (no trailing slash): 'outside' when it
 * does not start with it, 'dot-segment' when a segment means `.` or `..` to some common server (issue 21 findings
 * 1 and 2), undefined when it stays under the base.
 */
export function leavesBase(url: string, base: string): 'outside' | 'dot-segment' | undefined {
  const path = url.split('?')[0]!;
  if (path !== base && !path.startsWith(`${base}/`)) return 'outside';
  return lenientSegments(path).some((seg) => seg === '.' || seg === '..') ? 'dot-segment' : undefined;
}
