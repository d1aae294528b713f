// NTLM (v2, httpntlm's message helpers) over undici. NTLM authenticates the TCP connection, not the request:
// the type 1/2/3 legs and the real request share one socket, so each authentication runs on a dedicated
// undici Client (one connection). Authenticated connections are kept per (origin, user) and reused while the
// server keeps them open.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { Client, type Dispatcher } from 'undici';
import { Limits, withHeader } from '@gatehouse/shared';
import * as ntlm from 'httpntlm/ntlm.js';
import type { WindowsUser } from './windows-user.js';

export interface LegRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Readable | null;
  signal: AbortSignal;
  timeoutMs: number;
}

export interface NtlmResult {
  res: Dispatcher.ResponseData;
  release(): void;
  authenticated: boolean;
}

const WORKSTATION = hostname().split('.')[0]!.toUpperCase().slice(0, 15);
const MAX_IDLE_PER_KEY = 8;

export class NtlmConnections {
  private readonly idle = new Map<string, Client[]>();

  key(origin: string, u: WindowsUser, password: string): string {
    return createHash('sha256').update(`${origin}\0${u.domain}\\${u.user}\0${password}`).digest('hex');
  }

  private take(key: string, origin: string): { client: Client; reused: boolean } {
    const list = this.idle.get(key);
    while (list?.length) {
      const c = list.pop()!;
      if (!c.closed && !c.destroyed) return { client: c, reused: true };
    }
    return {
      client: new Client(origin, { pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: 10_000 }, maxHeaderSize: Limits.maxResponseHeadBytes }),
      reused: false,
    };
  }

  private giveBack(key: string, client: Client): void {
    if (client.closed || client.destroyed) return;
    const list = this.idle.get(key) ?? [];
    // The least recently used goes: the service may have closed it already (Node's default keep-alive is 5 s),
    // and a reconnected Client is unauthenticated, which costs a handshake.
    if (list.length >= MAX_IDLE_PER_KEY)
      void list
        .shift()!
        .close()
        .catch(() => {});
    list.push(client);
    this.idle.set(key, list);
  }

  /**
   * Runs one request with NTLM. `scheme` is the header scheme the server asked for (NTLM, or Negotiate
   * carrying NTLM tokens). Requests without a body first try a reused authenticated connection as is.
   */
  async request(origin: string, u: WindowsUser, password: string, req: LegRequest, scheme: 'NTLM' | 'Negotiate'): Promise<NtlmResult> {
    const key = this.key(origin, u, password);
    const { client, reused } = this.take(key, origin);
    const release = (ok: boolean) => (ok ? this.giveBack(key, client) : void client.destroy());
    const send = (headers: Record<string, string | string[]>, body: Readable | null) =>
      client.request({
        path: req.path,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: body ?? undefined,
        signal: req.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
    try {
      if (reused && !req.body) {
        const res = await send(req.headers, null);
        if (res.statusCode !== 401) return wrap(res, release, true);
        await res.body.dump();
      }
      // Leg 1: NEGOTIATE, with an empty body (the real one is sent once, on the authenticated leg).
      const negotiateHeaders = withHeader(
        req.headers,
        'authorization',
        ntlm.createType1Message({ domain: u.domain, workstation: WORKSTATION }).replace(/^NTLM/, scheme),
      );
      if (req.body) negotiateHeaders['content-length'] = '0';
      const first = await send(negotiateHeaders, null);
      const offer = [first.headers['www-authenticate'] ?? []].flat().find((h) => /^(NTLM|Negotiate) \S+/i.test(h));
      if (first.statusCode !== 401 || !offer) {
        if (!req.body && first.statusCode !== 401) return wrap(first, release, false);
        await first.body.dump();
        throw new NtlmError(
          first.statusCode === 401 ? 'the service did not answer with an NTLM challenge' : `the service answered the NTLM negotiation with ${first.statusCode}`,
        );
      }
      await first.body.dump();
      const type2 = parseChallenge(offer);
      // Leg 2: AUTHENTICATE with the real request and body.
      const type3 = ntlm.createType3Message(type2, { username: u.user, password, domain: u.domain, workstation: WORKSTATION }).replace(/^NTLM/, scheme);
      const res = await send(withHeader(req.headers, 'authorization', type3), req.body);
      return wrap(res, release, res.statusCode !== 401);
    } catch (err) {
      release(false);
      throw err;
    }
  }

  async close(): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(all.map((c) => c.close().catch(() => {})));
  }
}

export class NtlmError extends Error {}

/** The service's CHALLENGE message; an NtlmError for one that does not parse (httpntlm reports some by callback,
 *  and throws a RangeError on one too short for its fields). */
function parseChallenge(offer: string): ntlm.Type2Message {
  let failed = false;
  let m: ntlm.Type2Message | undefined;
  try {
    m =
      ntlm.parseType2Message(offer.replace(/^Negotiate/i, 'NTLM'), (e) => {
        if (e) failed = true;
      }) ?? undefined;
  } catch {
    failed = true;
  }
  if (failed || !m) throw new NtlmError('the NTLM challenge does not parse');
  return m;
}

function wrap(res: Dispatcher.ResponseData, release: (ok: boolean) => void, authenticated: boolean): NtlmResult {
  let done = false;
  // Only an authenticated connection goes back to the pool.
  const finish = (ok: boolean) => {
    if (!done) {
      done = true;
      release(ok && authenticated);
    }
  };
  res.body.once('end', () => finish(true));
  res.body.once('error', () => finish(false));
  res.body.once('close', () => finish(res.body.readableEnded));
  return { res, release: () => finish(false), authenticated };
}
