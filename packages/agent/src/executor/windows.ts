// WindowsGateway calls: Negotiate/Kerberos when the service offers it and a ticket can be had, NTLM otherwise.
// The request body is sent once, on the authenticated leg; negotiation legs carry an empty body.
import { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';
import { headerListFrom, withHeader, type HeaderList } from '@gatehouse/shared';
import type { Logger } from '../log.js';
import { ExecError, execFailure, toUndiciHeaders, type ExecRequest, type ExecResponse } from './http-executor.js';
import type { ServicePools } from './service-pools.js';
import { KerberosAuth, KerberosError } from './kerberos.js';
import { NtlmConnections, NtlmError } from './ntlm.js';
import { parseWindowsUser, windowsUserProblem, type WindowsUser } from './windows-user.js';

/** Added to the service's 401 when Windows authentication failed: which way, and (without secrets) why. */
export const WINDOWS_AUTH_HINT = 'x-gatehouse-windows-auth';

type Offer = Set<'negotiate' | 'ntlm'>;

/** A request's headers for a leg that carries no body (HEAD): no framing of the body that is not sent. */
function withoutBody(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'expect') out[k] = v;
  return out;
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

  constructor(private readonly pools: ServicePools, private readonly kerberos: KerberosAuth, private readonly log: Logger) {}

  async execute(req: ExecRequest): Promise<ExecResponse> {
    const auth = req.auth!;
    const problem = windowsUserProblem(auth.username);
    if (problem) throw new ExecError('InvalidRequest', `agent: ${problem}`);
    const user = parseWindowsUser(auth.username);
    const origin = req.url.origin;
    const path = `${req.url.pathname}${req.url.search}`;
    // Content-Length (the real body's) is set here; negotiation legs override it with 0.
    const headers = toUndiciHeaders(req.headers, req);
    const hasBody = req.body !== null && req.bodyLength !== 0;
    const kerberosUsable = await this.kerberos.available();
    let unauthorized: { status: number; headers: HeaderList } | undefined;
    try {
      let offer = this.cachedOffer(origin);
      if (!offer && kerberosUsable) {
        // Learn what the service offers with a request that carries no credentials and no body (so it goes on the
        // shared pool, which never carries credentials).
        const probe = await request(req.url, {
          dispatcher: this.pools.anonymous, method: req.method as Dispatcher.HttpMethod, headers: hasBody ? withHeader(headers, 'content-length', '0') : headers,
          signal: req.cancel.signal, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs,
        });
        if (probe.statusCode !== 401) {
          if (!hasBody) return { status: probe.statusCode, headers: headerListFrom(probe.headers), body: probe.body };
          await probe.body.dump();
          throw new ExecError('BadGateway', 'the service did not ask for Windows authentication (use an Anonymous or Basic connection)');
        }
        await probe.body.dump();
        offer = offered(probe.headers);
        unauthorized = { status: 401, headers: headerListFrom(probe.headers) };
        this.offers.set(origin, { offer, at: Date.now() });
      }
      if (kerberosUsable && offer?.has('negotiate')) {
        try {
          return await this.kerberosCall(req, user, headers, hasBody);
        } catch (err) {
          if (!(err instanceof KerberosError)) throw err;
          this.log.debug({ host: req.url.host, why: err.message, fallback: offer.has('ntlm') }, 'kerberos not possible');
          if (!offer.has('ntlm')) {
            return this.answer(401, unauthorized?.headers ?? [['www-authenticate', 'Negotiate']], Readable.from([]), `kerberos: ${err.message}`);
          }
        }
      }
      const scheme = offer && !offer.has('ntlm') && offer.has('negotiate') ? 'Negotiate' : 'NTLM';
      const r = await this.ntlm.request(origin, user, auth.password, {
        method: req.method, path, headers,
        body: hasBody ? req.body : null, signal: req.cancel.signal, timeoutMs: req.timeoutMs,
      }, scheme);
      if (!offer) this.offers.set(origin, { offer: new Set(['ntlm']), at: Date.now() });
      this.log.debug({ host: req.url.host, scheme: 'ntlm', status: r.res.statusCode }, 'windows authentication');
      return this.answer(r.res.statusCode, headerListFrom(r.res.headers), r.res.body, 'ntlm: the service refused the credentials');
    } catch (err) {
      if (err instanceof NtlmError) {
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
  private async kerberosCall(req: ExecRequest, user: WindowsUser, headers: Record<string, string | string[]>, hasBody: boolean): Promise<ExecResponse> {
    const auth = req.auth!;
    // The identity's own connections: the service may keep the authentication on the connection.
    const dispatcher = this.pools.for(req.url.origin, auth);
    const send = (method: string, headers: Record<string, string | string[]>, body: ExecRequest['body']) => request(req.url, {
      dispatcher, method: method as Dispatcher.HttpMethod, headers, body: body ?? undefined, signal: req.cancel.signal, headersTimeout: req.timeoutMs, bodyTimeout: req.timeoutMs,
    });
    const negotiate = async () => `Negotiate ${await this.kerberos.token(req.url.hostname, user, auth.password)}`;
    if (hasBody) {
      const check = await send('HEAD', withHeader(withoutBody(headers), 'authorization', await negotiate()), null);
      await check.body.dump();
      this.log.debug({ host: req.url.host, scheme: 'kerberos', status: check.statusCode, leg: 'handshake' }, 'windows authentication');
      if (check.statusCode === 401) return this.answer(401, headerListFrom(check.headers), Readable.from([]), 'kerberos: the service refused the ticket');
    }
    const res = await send(req.method, withHeader(headers, 'authorization', await negotiate()), req.body);
    this.log.debug({ host: req.url.host, scheme: 'kerberos', status: res.statusCode }, 'windows authentication');
    return this.answer(res.statusCode, headerListFrom(res.headers), res.body,
      hasBody ? 'kerberos: the service refused the ticket after the handshake' : 'kerberos: the service refused the ticket');
  }

  private cachedOffer(origin: string): Offer | undefined {
    const c = this.offers.get(origin);
    return c && Date.now() - c.at < 10 * 60_000 ? c.offer : undefined;
  }

  /** A 401 after authenticating means the credentials were refused: say so in a header, never why in detail. */
  private answer(status: number, headers: HeaderList, body: Readable, whyIf401: string): ExecResponse {
    return { status, headers: status === 401 ? [...headers, [WINDOWS_AUTH_HINT, `failed (${whyIf401})`]] : headers, body };
  }

  close(): Promise<void> { return this.ntlm.close(); }
}
