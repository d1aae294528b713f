// The hub's API from the browser: same origin, the session's bearer token, and every failure turned into the
// hub's coded error (code and message, never a stack).
import type { Session } from '../auth/session.js';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface Api {
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** The signed-in caller's object id, when known (Session.oid). */
  readonly selfOid?: string;
}

export function createApi(session: Session): Api {
  return {
    selfOid: session.oid,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(path, {
          method,
          headers: { authorization: `Bearer ${await session.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: 'no-store',
        });
      } catch {
        throw new ApiError('Unreachable', 'browser -> hub: the hub did not answer', 0);
      }
      if (res.status === 204) return undefined as T;
      const json = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
      if (!res.ok) throw new ApiError(json?.error?.code ?? `HTTP${res.status}`, json?.error?.message ?? `the hub answered ${res.status}`, res.status);
      return json as T;
    },
  };
}

/** The message to show for anything thrown: a coded error's own words, or one line for anything else. */
export function describe(err: unknown): { code: string; message: string } {
  if (err instanceof ApiError) return { code: err.code, message: err.message };
  return { code: 'ConsoleError', message: err instanceof Error ? err.message.split('\n')[0]! : 'something went wrong' };
}
