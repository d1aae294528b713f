// Connections to services, kept apart by identity. A server may bind authentication to the TCP connection
// rather than to the request: IIS keeps Kerberos and NTLM authentication on a connection by default
// (authPersistNonNTLM, authPersistSingleRequest), Apache mod_auth_gssapi does with GssapiConnectionBound. A call
// without credentials sent on a connection that another call authenticated is then served as that user. So
// calls with credentials run on a pool of their own per (origin, scheme, user, password), and calls without
// credentials on the shared pool, which never carries credentials. (NTLM keeps its own per-identity
// connections: ntlm.ts.)
import { createHash } from 'node:crypto';
import { Agent, Pool, type Dispatcher } from 'undici';
import { Limits } from '@gatehouse/shared';
import type { ExecRequest } from './http-executor.js';

const OPTIONS = { connect: { timeout: 10_000 }, keepAliveTimeout: 4_000, connections: 256, maxHeaderSize: Limits.maxResponseHeadBytes };
/** Identities whose pools are kept; the least recently used beyond this is closed (its calls finish first). */
const MAX_POOLS = 256;

export class ServicePools {
  /** Calls without credentials, to any origin. */
  readonly anonymous: Dispatcher = new Agent(OPTIONS);
  private readonly pools = new Map<string, Pool>();

  /** The dispatcher for a call to `origin`: the shared one without credentials, else the identity's own. */
  for(origin: string, identity: ExecRequest['auth']): Dispatcher {
    if (!identity) return this.anonymous;
    const key = createHash('sha256').update(`${origin}\0${identity.scheme}\0${identity.username}\0${identity.password}`).digest('hex');
    let pool = this.pools.get(key);
    if (pool && !pool.closed && !pool.destroyed) this.pools.delete(key);
    else pool = new Pool(origin, OPTIONS);
    this.pools.set(key, pool);
    if (this.pools.size > MAX_POOLS) {
      const [oldest, old] = this.pools.entries().next().value!;
      this.pools.delete(oldest);
      void old.close();
    }
    return pool;
  }

  async close(): Promise<void> {
    const all = [this.anonymous, ...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((d) => d.close().catch(() => {})));
  }
}
