// WindowsGateway calls: Negotiate/Kerberos when the service offers it and a ticket can be had, NTLM otherwise.
// The request body is sent once, on the authenticated leg; negotiation legs carry an empty body.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { AGENT_WINDOWS_AUTH_HEADER, headerListFrom, windowsAuthHint, withHeader, type HeaderList } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { ExecError, execFailure, toUndiciHeaders, type ExecRequest, type ExecResponse } from './http-executor.js';
import type { ServicePools } from './service-pools.js';
import { type KerberosAuth, KerberosError } from './kerberos.js';
import { NtlmConnections, NtlmError } from './ntlm.js';
import { windowsUserProblem } from '@gatehouse/shared';
import { parseWindowsUser, type WindowsUser } from './windows-user.js';

type Offer = Set<'negotiate' | 'ntlm'>;
/** An attempt's answer when a learned offer did not fit and the call is made again with a fresh one. */
const RELEARN = Symbol('relearn');

/** A request's headers for a leg that carries no body (HEAD): no framing of the body that is not sent. */
function withoutBody(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'expect') out[k] = v;
  return out;
}

/** Headers for an answer given with an empty body: the framing of the body they came with is dropped. */
function withoutFraming(headers: HeaderList): HeaderList {
  return headers.filter(([k]) => k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'transfer-encoding');
}

function offered(h: Record<string, string | string[] | undefined>): Offer {
  const out: Offer = new Set();
  for (const v of [h['www-authenticate'] ?? []].flat()) {
    const scheme = v.trim().split(/\s+/)[0]!.toLowerCase();
    if (scheme === 'negotiate' || scheme === 'ntlm') out.add(scheme);
  }
  return out;
}

export class WindowsExecutor {
  private readonly offers = new Map<string, { offer: Offer; at: number }>();
  readonly ntlm = new NtlmConnections();

  constructor(
    private readonly pools: ServicePools,
    private readonly kerberos: KerberosAuth,
    private readonly log: Logger,
  ) {}

  /**
   * What a service offers is learned per origin AND per user (the connection's user name, hashed): one caller's
   * path that offers only Negotiate must not decide how another connection authenticates. A learned offer that
   * turns out wrong for this call (the service's 401 offers a scheme it lacks, or the handshake it chose is not
   * possible) is learned again once, for this call, while no request body has been sent.
   */
  async execute(req: ExecRequest): Promise<ExecResponse> {
    const auth = req.auth!;
    const problem = windowsUserProblem(auth.username);
    if (problem) throw new ExecError('InvalidRequest', `agent: ${problem}`);
    const key = `${req.url.origin} ${createHash('sha256').update(auth.username.toLowerCase()).digest('hex').slice(0, 32)}`;
    const cached = this.cachedOffer(key);
    if (cached) {
      const first = await this.attempt(req, key, cached);
      if (first !== RELEARN) return first;
      this.offers.delete(key);
      this.log.debug({ host: req.url.host }, 'windows authentication: the learned offer did not fit, learning it again');
    }
    return this.attempt(req, key, undefined) as Promise<ExecResponse>;
  }

  /** One try: with `cached`, RELEARN when that offer did not fit and the call can still be made again. */
  private async attempt(req: ExecRequest, key: string, cached: Offer | undefined): Promise<ExecResponse | typeof RELEARN> {
    const auth = req.auth!;
    const user = parseWindowsUser(auth.username);
    const origin = req.url.origin;
    const path = `${req.url.pathname}${req.url.search}`;
    // Content-Length (the real body's) is set here; negotiation legs override it with 0.
    const headers = toUndiciHeaders(req.headers, req);
    const hasBody = req.body !== null && req.bodyLength !== 0;
    const kerberosUsable = await this.kerberos.available();
    /** A 401 from the service after a cached offer: learn again when it offers a scheme the cached offer lacks. */
    const misfit = (status: number, h: Record<string, string | string[] | undefined>) =>
      cached !== undefined && !hasBody && status === 401 && [...offered(h)].some((s) => !cached.has(s));
    let unauthorized: { status: number; headers: HeaderList } | undefined;
    try {
      let offer = cached;
      if (!offer && kerberosUsable) {
        // Learn what the service offers with a request that carries no credentials and no body (so it goes on the
        // shared pool, which never carries credentials).
        const probe = await request(req.url, {
          dispatcher: this.pools.anonymous,
          method: req.method as Dispatcher.HttpMethod,
          headers: hasBody ? withHeader(headers, 'content-length', '0') : headers,
          signal: req.cancel.signal,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        });
        if (probe.statusCode !== 401) {
          if (!hasBody) return { status: probe.statusCode, headers: headerListFrom(probe.headers), body: probe.body };
          await probe.body.dump();
          throw new ExecError('BadGateway', 'the service did not ask for Windows authentication (use an Anonymous or Basic connection)');
        }
        await probe.body.dump();
        offer = offered(probe.headers);
        // Answered later with an empty body: the probe's own body framing does not describe it.
        unauthorized = { status: 401, headers: withoutFraming(headerListFrom(probe.headers)) };
        this.offers.set(key, { offer, at: Date.now() });
      }
      if (kerberosUsable && offer?.has('negotiate')) {
        try {
          const r = await this.kerberosCall(req, user, headers, hasBody, cached !== undefined);
          if (r === RELEARN) return RELEARN;
          if (misfit(r.answer.status, r.offers)) {
            r.answer.body.on('error', () => {});
            r.answer.body.destroy();
            return RELEARN;
          }
          return r.answer;
        } catch (err) {
          if (!(err instanceof KerberosError)) throw err;
          this.log.debug({ host: req.url.host, why: err.message, fallback: offer.has('ntlm') }, 'kerberos not possible');
          if (!offer.has('ntlm')) {
            // Nothing was sent with credentials yet: a learned offer of Negotiate only is checked again.
            if (cached) return RELEARN;
            return this.answer(401, unauthorized?.headers ?? [['www-authenticate', 'Negotiate']], Readable.from([]), `kerberos: ${err.message}`);
          }
        }
      }
      const scheme = offer && !offer.has('ntlm') && offer.has('negotiate') ? 'Negotiate' : 'NTLM';
      const r = await this.ntlm.request(
        origin,
        user,
        auth.password,
        {
          method: req.method,
          path,
          headers,
          body: hasBody ? req.body : null,
          signal: req.cancel.signal,
          timeoutMs: req.timeoutMs,
        },
        scheme,
      );
      if (!offer) this.offers.set(key, { offer: new Set(['ntlm']), at: Date.now() });
      this.log.debug({ host: req.url.host, scheme: 'ntlm', status: r.res.statusCode }, 'windows authentication');
      if (misfit(r.res.statusCode, r.res.headers)) {
        await r.res.body.dump();
        return RELEARN;
      }
      return this.answer(r.res.statusCode, headerListFrom(r.res.headers), r.res.body, 'ntlm: the service refused the credentials');
    } catch (err) {
      if (err instanceof NtlmError) {
        // The NTLM negotiation (no body yet) did not get a challenge under a learned offer: learn it again.
        if (cached && !hasBody) return RELEARN;
        if (unauthorized) return this.answer(401, unauthorized.headers, Readable.from([]), `ntlm: ${err.message}`);
        throw new ExecError('BadGateway', `Windows authentication failed: ${err.message}`);
      }
      throw execFailure(err, req);
    }
  }

  /**
   * One call with a Kerberos service ticket (SPNEGO). A call with a body authenticates first with a HEAD and the
   * ticket (the service checks it before it looks at the method or the path), so that a ticket the service
   * refuses costs no body; the body then goes once, with a fresh authenticator (a service's replay cache
   * refuses one it has seen), on the identity's own connections.
   */
  private async kerberosCall(
    req: ExecRequest,
    user: WindowsUser,
    headers: Record<string, string | string[]>,
    hasBody: boolean,
    relearn: boolean,
  ): Promise<{ answer: ExecResponse; offers: Record<string, string | string[] | undefined> } | typeof RELEARN> {
    const auth = req.auth!;
    // The identity's own connections: the service may keep the authentication on the connection.
    const dispatcher = this.pools.for(req.url.origin, auth);
    const send = (method: string, headers: Record<string, string | string[]>, body: ExecRequest['body']) =>
      request(req.url, {
        dispatcher,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? undefined,
        signal: req.cancel.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
    const negotiate = async () => `Negotiate ${await this.kerberos.token(req.url.hostname, user, auth.password)}`;
    if (hasBody) {
      const check = await send('HEAD', withHeader(withoutBody(headers), 'authorization', await negotiate()), null);
      await check.body.dump();
      this.log.debug({ host: req.url.host, scheme: 'kerberos', status: check.statusCode, leg: 'handshake' }, 'windows authentication');
      if (check.statusCode === 401) {
        // The body is not sent yet: under a learned offer, a 401 offering NTLM means the offer did not fit.
        if (relearn && offered(check.headers).has('ntlm')) return RELEARN;
        return {
          answer: this.answer(401, withoutFraming(headerListFrom(check.headers)), Readable.from([]), 'kerberos: the service refused the ticket'),
          offers: {},
        };
      }
    }
    const res = await send(req.method, withHeader(headers, 'authorization', await negotiate()), req.body);
    this.log.debug({ host: req.url.host, scheme: 'kerberos', status: res.statusCode }, 'windows authentication');
    const answer = this.answer(
      res.statusCode,
      headerListFrom(res.headers),
      res.body,
      hasBody ? 'kerberos: the service refused the ticket after the handshake' : 'kerberos: the service refused the ticket',
    );
    return { answer, offers: res.headers };
  }

  private cachedOffer(key: string): Offer | undefined {
    const c = this.offers.get(key);
    return c && Date.now() - c.at < 10 * 60_000 ? c.offer : undefined;
  }

  /** A 401 after authenticating means the credentials were refused: say so in a header, never why in detail. */
  private answer(status: number, headers: HeaderList, body: Readable, whyIf401: string): ExecResponse {
    return { status, headers: status === 401 ? [...headers, [AGENT_WINDOWS_AUTH_HEADER, windowsAuthHint(whyIf401)]] : headers, body };
  }

  close(): Promise<void> {
    return this.ntlm.close();
  }
}
