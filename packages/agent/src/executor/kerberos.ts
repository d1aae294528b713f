// Negotiate/Kerberos (SPNEGO) with the `kerberos` npm addon (MIT GSSAPI on Linux). A connection's user gets a
// ticket from its password with `kinit` into a credential cache private to that user and password (a file in
// the agent's own 0700 directory); or, with `run --keytab`, connections without a password use the agent's
// keytab identity. GSSAPI reads the cache from KRB5CCNAME, which is process-wide, so context setup is
// serialised: Kerberos handshakes take milliseconds, NTLM and anonymous calls never wait for it.
// biome-ignore-all lint/style/noProcessEnv: sets KRB5CCNAME for GSSAPI; reads no configuration
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { WindowsUser } from './windows-user.js';

/** The part of the optional `kerberos` addon used here. Declared locally and loaded by a specifier held in a
 *  variable, so that tsc never needs the addon's own types: a machine without libkrb5-dev, where npm skips the
 *  optional addon, still builds (`npm ci --omit=optional && npm start`). */
interface KerberosModule {
  GSS_MECH_OID_SPNEGO: number;
  initializeClient(
    service: string,
    options: { mechOID?: number; principal?: string; user?: string; domain?: string; password?: string },
  ): Promise<{ step(challenge: string): Promise<string> }>;
}

const KERBEROS_ADDON: string = 'kerberos';

export class KerberosError extends Error {}

const KINIT_MESSAGES: Array<[RegExp, string]> = [
  [/Password incorrect|Preauthentication failed|pre-authentication/i, 'wrong password'],
  [/not found in Kerberos database|Client .* not found/i, 'unknown user'],
  [/Cannot contact any KDC|Cannot find KDC|unable to reach any KDC/i, 'no KDC reachable'],
  [/Cannot find KDC for realm|Cannot resolve network address for KDC/i, 'realm not configured (krb5.conf)'],
  [/expired/i, 'password expired'],
];

export class KerberosAuth {
  private mod: KerberosModule | undefined | null;
  private readonly fresh = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly ticketMaxAgeMs = 8 * 3600_000;

  constructor(
    private readonly cacheDir: string,
    private readonly keytab: string | undefined,
  ) {}

  /** Whether Kerberos can be tried here at all: the addon loads and kinit exists. */
  async available(): Promise<boolean> {
    if (this.mod === undefined) {
      try {
        const m = (await import(KERBEROS_ADDON)) as { default?: KerberosModule } & KerberosModule;
        this.mod = m.default ?? m;
      } catch {
        this.mod = null;
      }
    }
    // Windows: SSPI takes the connection's credentials directly; elsewhere MIT kinit fills a private cache.
    if (process.platform === 'win32') return this.mod !== null;
    return this.mod !== null && ['/usr/bin/kinit', '/usr/local/bin/kinit', '/bin/kinit'].some((p) => existsSync(p));
  }

  /** An SPNEGO token for HTTP@host, as the connection's user. Throws KerberosError with a short reason. */
  async token(host: string, u: WindowsUser, password: string): Promise<string> {
    if (process.platform === 'win32') {
      try {
        const client = await this.mod!.initializeClient(`HTTP@${host}`, {
          mechOID: this.mod!.GSS_MECH_OID_SPNEGO,
          user: u.user,
          domain: u.domain || undefined,
          password,
        });
        return await client.step('');
      } catch (err) {
        throw new KerberosError(
          `no service ticket for HTTP/${host} (${String((err as Error).message)
            .split('\n')[0]!
            .slice(0, 120)})`,
        );
      }
    }
    const ccache = await this.ensureTicket(u, password);
    const run = async () => {
      const previous = process.env.KRB5CCNAME;
      process.env.KRB5CCNAME = `FILE:${ccache}`;
      try {
        const client = await this.mod!.initializeClient(`HTTP@${host}`, { mechOID: this.mod!.GSS_MECH_OID_SPNEGO });
        return await client.step('');
      } catch (err) {
        throw new KerberosError(
          `no service ticket for HTTP/${host} (${String((err as Error).message)
            .split('\n')[0]!
            .slice(0, 120)})`,
        );
      } finally {
        if (previous === undefined) delete process.env.KRB5CCNAME;
        else process.env.KRB5CCNAME = previous;
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  private async ensureTicket(u: WindowsUser, password: string): Promise<string> {
    mkdirSync(this.cacheDir, { recursive: true, mode: 0o700 });
    const useKeytab = password === '' && this.keytab !== undefined;
    const id = createHash('sha256')
      .update(`${u.principal}\0${useKeytab ? `keytab:${this.keytab}` : password}`)
      .digest('hex')
      .slice(0, 32);
    const ccache = join(this.cacheDir, `cc_${id}`);
    const at = this.fresh.get(id);
    if (at !== undefined && Date.now() - at < this.ticketMaxAgeMs && existsSync(ccache)) return ccache;
    // `--` ends kinit's options: a principal is never read as one (MIT kinit uses getopt, which honours it).
    const args = useKeytab ? ['-k', '-t', this.keytab!, '-c', `FILE:${ccache}`, '--', u.principal] : ['-c', `FILE:${ccache}`, '--', u.principal];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn('kinit', args, { stdio: ['pipe', 'ignore', 'pipe'], env: process.env });
      let err = '';
      p.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
      });
      p.on('error', () => resolve({ code: -1, stderr: 'kinit not found' }));
      // kinit may exit before it reads the password (keytab mode, an unknown realm): an EPIPE here is not a fault.
      p.stdin!.on('error', () => {});
      p.on('close', (c) => resolve({ code: c, stderr: err }));
      p.stdin!.end(useKeytab ? '' : `${password}\n`);
    });
    if (code !== 0) {
      rmSync(ccache, { force: true });
      this.fresh.delete(id);
      const reason = KINIT_MESSAGES.find(([re]) => re.test(stderr))?.[1] ?? 'kinit failed';
      throw new KerberosError(`no ticket for the connection's user: ${reason}`);
    }
    this.fresh.set(id, Date.now());
    return ccache;
  }
}
