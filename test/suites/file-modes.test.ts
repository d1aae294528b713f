// Finding 10 (issue 21): `serve` created its SQLite files (sealed credentials, gateway keys sealed under the
// recovery key) mode 0644. The database and its -wal/-shm, the agent's config and its status file are 0600,
// and files that exist with wider modes are narrowed at start, with a log line.
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startStandardStack, type StandardStack } from '../helpers/standard-stack.js';
import { runAgent, startHub } from '../helpers/stack.js';

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** The agent writes its status file when a tunnel's state changes: wait (bounded) until it says connected. */
async function connectedStatus(file: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(file) && readFileSync(file, 'utf8').includes('"connected"')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never said connected`);
}

let stack: StandardStack | undefined;
afterAll(async () => {
  await stack?.stop();
});

describe('finding 10: private files', () => {
  it('the hub database, its -wal and -shm, the agent config and the status file are created 0600', async () => {
    stack = await startStandardStack();
    const db = join(stack.hub.dbDir, 'hub.db');
    // (the gateway and member rows are in the database by now: the WAL holds them)
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      expect(existsSync(file), file).toBe(true);
      expect(mode(file), file).toBe('600');
    }
    const status = `${stack.agent.configPath}.status.json`;
    await connectedStatus(status);
    expect(mode(stack.agent.configPath)).toBe('600');
    expect(mode(status)).toBe('600');
  });

  it('a database and a status file that exist with wider modes are narrowed at start, with a log line', async () => {
    const s = stack!;
    await s.agent.stop();
    await s.hub.stop();
    const db = join(s.hub.dbDir, 'hub.db');
    const status = `${s.agent.configPath}.status.json`;
    chmodSync(db, 0o644);
    chmodSync(status, 0o644);
    const hub = await startHub(s.entra, {}, { dbDir: s.hub.dbDir, port: s.hub.port });
    s.hub = hub;
    expect(mode(db)).toBe('600');
    for (const file of [`${db}-wal`, `${db}-shm`]) expect(mode(file), file).toBe('600');
    const line = hub.lines.find((l) => l.includes('narrowed to owner-only'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ file: db, was: '644', now: '600' });
    // The agent rewrites its status file as soon as it runs: the new one is 0600 whatever the old one was.
    s.agent = await runAgent(s.agent.configPath);
    await connectedStatus(status);
    expect(mode(status)).toBe('600');
  });
});
