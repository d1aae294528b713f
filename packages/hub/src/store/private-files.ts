// The SQLite database holds sealed credentials and gateway keys sealed under recovery keys: its file and the
// -wal/-shm/-journal files beside it are owner-only (0600). A new database is created 0600 before SQLite opens it
// (SQLite gives its -wal and -shm files the database file's mode); files that already exist with wider modes are
// narrowed at start, each with a log line.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';

const COMPANIONS = ['', '-wal', '-shm', '-journal'];

/** Before opening: the directory exists, the database file exists 0600, and nothing beside it is wider. */
export function prepareDatabaseFiles(path: string, log?: Logger): void {
  if (process.platform === 'win32') return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) {
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
  }
  narrowDatabaseFiles(path, log);
}

/** Any of the database's files readable or writable by group or others becomes 0600 (after SQLite made its own). */
export function narrowDatabaseFiles(path: string, log?: Logger): void {
  if (process.platform === 'win32') return;
  for (const suffix of COMPANIONS) {
    const file = `${path}${suffix}`;
    let mode: number;
    try {
      mode = statSync(file).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o077) === 0) continue;
    chmodSync(file, 0o600);
    log?.warn({ file, was: mode.toString(8), now: '600' }, 'database file was readable by others: narrowed to owner-only');
  }
}
