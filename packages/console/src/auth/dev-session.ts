// `gatehouse-hub dev`: the hub on this machine gives its console a token of the development identity, with no
// prompt (only to a same-origin request from loopback; http/console.ts). Kept in memory, fetched again near expiry.
import type { Session } from './session.js';

export async function devSession(): Promise<Session> {
  let current: { accessToken: string; expiresOn: number } | undefined;
  const token = async () => {
    if (!current || current.expiresOn - Date.now() < 60_000) {
      const res = await fetch('/console/dev-token', { headers: { 'x-gatehouse-console': 'dev' }, cache: 'no-store' });
      if (!res.ok) throw new Error(`the development hub refused a token (HTTP ${res.status})`);
      current = (await res.json()) as { accessToken: string; expiresOn: number };
    }
    return current.accessToken;
  };
  return { who: 'Gatehouse Developer (development identity)', oid: oidOf(await token()), token };
}

/** The token's `oid` claim (read for display only; the hub is what checks the token). */
function oidOf(jwt: string): string | undefined {
  try {
    const claims = JSON.parse(atob((jwt.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { oid?: unknown };
    return typeof claims.oid === 'string' ? claims.oid : undefined;
  } catch {
    return undefined;
  }
}
