// GATEHOUSE_DATABASE -> a store: sqlite:PATH (single node, the default) or postgres://… (several hubs).
import type { Store } from './store.js';
import { openSqliteStore } from './sqlite.js';
import { openPostgresStore } from './postgres.js';

export async function openStore(database: string): Promise<Store> {
  if (database.startsWith('sqlite:')) return openSqliteStore(database.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(database)) return openPostgresStore(database);
  throw new Error(`unsupported database ${database.split(':')[0]}`);
}
