// GATEHOUSE_DATABASE -> a store: sqlite:PATH (single node, the default) or postgres://… (several hubs).
// At start an unreachable PostgreSQL is retried for GATEHOUSE_DATABASE_WAIT (hubs and their database often
// start together); any other failure, or the wait running out, stops the hub with the reason and the address
// (never the password).
import type { Store } from './store.js';
import type { Logger } from '../log.js';
import { openSqliteStore } from './sqlite.js';
import { isUnreachable, openPostgresStore } from './postgres.js';

/** Where a database is, for messages: no credentials. */
export function describeDatabase(database: string): string {
  if (database.startsWith('sqlite:')) return `the SQLite file ${database.slice('sqlite:'.length)}`;
  try {
    const u = new URL(database);
    return `PostgreSQL at ${u.host}${u.pathname}`;
  } catch {
    return 'PostgreSQL (the URL does not parse)';
  }
}

const reason = (err: unknown) => {
  const e = err as { code?: string; message?: string };
  return e.message ? `${e.message}${e.code && !e.message.includes(e.code) ? ` (${e.code})` : ''}` : String(err);
};

export async function openStore(database: string, opts: { waitMs?: number; log?: Logger } = {}): Promise<Store> {
  const where = describeDatabase(database);
  if (database.startsWith('sqlite:')) {
    try {
      return openSqliteStore(database.slice('sqlite:'.length), opts.log);
    } catch (err) {
      throw new Error(`database: cannot open ${where}: ${reason(err)}`);
    }
  }
  if (!/^postgres(ql)?:\/\//.test(database)) throw new Error(`unsupported database ${database.split(':')[0]}`);
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (let attempt = 1; ; attempt++) {
    try {
      return await openPostgresStore(database);
    } catch (err) {
      const message = reason(err).replace(database, where);
      if (!isUnreachable(err)) throw new Error(`database: cannot open ${where}: ${message}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`database: ${where} is unreachable (${message}); gave up after ${(opts.waitMs ?? 0) / 1000} s (GATEHOUSE_DATABASE_WAIT)`);
      opts.log?.warn({ database: where, why: message, attempt }, 'database unreachable, waiting for it');
      await new Promise((r) => setTimeout(r, Math.min(1000 * attempt, 5000, left)));
    }
  }
}
