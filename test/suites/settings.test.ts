// One settings model (issue 23): values written one way for the hub and the agent, the agent's settings and
// config checked whole and frozen, docs/operations.md checked against the declarations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatDuration, formatSize, parseDuration, parseSize, readSettings, shownDefault, type SettingTable } from '@gatehouse/shared';
import { HUB_SETTINGS } from '../../packages/hub/dist/settings.js';
import { AGENT_SETTINGS } from '../../packages/agent/dist/settings.js';
import { checkAgentConfig } from '../../packages/agent/dist/config.js';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { AGENT_MAIN, api, gatewayWithAgent, startHub, startProc, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const OPERATIONS = fileURLToPath(new URL('../../docs/operations.md', import.meta.url));

describe('values are written one way everywhere', () => {
  it('durations and sizes: units, bare numbers, and what is refused', () => {
    expect(['1500ms', '30s', '5m', '1h', '30', '0.5', '0s'].map((v) => parseDuration(v))).toEqual([1500, 30_000, 300_000, 3_600_000, 30_000, 500, 0]);
    expect(['30x', '-1s', '', 's', '1e3'].map((v) => parseDuration(v))).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(['64KiB', '10MiB', '1GiB', '512B', '4096', '1kib'].map(parseSize)).toEqual([65_536, 10_485_760, 1_073_741_824, 512, 4096, 1024]);
    expect(['10MB', '1.5MiB', '-1', 'x'].map(parseSize)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a duration or size written back (help, docs defaults) reads as the same value', () => {
    fc.assert(fc.property(fc.nat({ max: 10 * 86_400_000 }), (ms) => parseDuration(formatDuration(ms)) === ms));
    fc.assert(fc.property(fc.nat({ max: 2 ** 40 }), (n) => parseSize(formatSize(n)) === n));
  });

  it('the hub reads every value problem at once, naming each variable, flags over variables', () => {
    const { values, problems } = readSettings(HUB_SETTINGS as SettingTable, {
      env: { GATEHOUSE_DRAIN_TIMEOUT: '5s', GATEHOUSE_MAX_BODY: 'lots', GATEHOUSE_THROTTLE: '10' },
      flags: { 'drain-timeout': ['1500ms'], 'max-calls-per-caller': ['0'] },
    });
    expect((values as Record<string, unknown>).drainTimeoutMs).toBe(1500);
    expect(problems).toEqual([
      'GATEHOUSE_THROTTLE must be N/period, like 100/60s',
      'GATEHOUSE_MAX_BODY must be a size like 100MiB',
      'GATEHOUSE_MAX_CALLS_PER_CALLER must be a whole number of at least 1',
    ]);
  });
});

describe('docs/operations.md against the declarations', () => {
  const md = readFileSync(OPERATIONS, 'utf8');
  /** The rows of the first table after `heading`, as cells without backticks. */
  const table = (heading: string): string[][] => {
    const lines = md.slice(md.indexOf(`\n${heading}\n`)).split('\n');
    const start = lines.findIndex((l) => l.startsWith('|'));
    const rows: string[][] = [];
    for (const l of lines.slice(start + 2)) {
      if (!l.startsWith('|')) break;
      rows.push(
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim().replace(/`/g, '')),
      );
    }
    return rows;
  };
  const documented = (d: string) => (d === 'unset' || d === 'required' ? '' : d);

  it('the hub table lists every hub setting with its flag and default, and nothing else', () => {
    const docs = new Map(table('## Hub configuration').map(([env, flag, def]) => [env!, { flag: flag!, def: documented(def!) }]));
    const model = new Map(Object.values(HUB_SETTINGS).map((s) => [s.env!, { flag: `--${s.flag}`, def: shownDefault(s) }]));
    expect(model.size).toBeGreaterThan(30);
    expect(docs).toEqual(model);
  });

  it('the agent table lists every agent flag and variable with its default, and nothing else', () => {
    const docs = new Map(table('### Agent settings').map(([flag, env, def]) => [flag || env!, documented(def!)]));
    const model = new Map(Object.values(AGENT_SETTINGS).map((s) => [s.flag ? `--${s.flag}` : s.env!, shownDefault(s)]));
    expect(model.size).toBeGreaterThan(10);
    expect(docs).toEqual(model);
  });
});

describe('the agent config', () => {
  it('every agent config problem is listed at once, flags and file together, exit 2 with one line', async () => {
    // Before: the agent stopped at its first problem (here --drain-timeout), so fixing one showed the next.
    const dir = tempDir();
    const configPath = join(dir, 'agent.json');
    writeFileSync(configPath, JSON.stringify({ version: 1, hubs: ['ftp://hub.example'], credential: '', privateKeyPem: 'k', allow: ['not a url'] }));
    chmodSync(configPath, 0o644);
    const p = startProc(
      [AGENT_MAIN, 'run', '--config', configPath, '--drain-timeout', 'soon', '--metrics-listen', 'nowhere', '--keytab', join(dir, 'missing.keytab')],
      {},
    );
    expect(await p.exited).toBe(2);
    expect(p.lines).toHaveLength(1);
    const line = p.lines[0]!;
    for (const problem of [
      /--drain-timeout must be a duration/,
      /--metrics-listen must be host:port/,
      /--keytab \S+ does not exist/,
      /is readable by others/,
      /hubs: ftp:\/\/hub\.example must be https:\/\//,
      /credential must be a non-empty string/,
      /allow: not a url: /,
    ]) {
      expect(line).toMatch(problem);
    }
  });

  it('the loaded config is frozen, down to its lists', () => {
    const configPath = join(tempDir(), 'agent.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        version: 1,
        hubs: ['http://127.0.0.1:1'],
        gatewayId: 'g',
        memberId: 'm',
        credential: 'c',
        privateKeyPem: 'k',
        allow: ['http://127.0.0.1:2/'],
        name: 'a',
      }),
      { mode: 0o600 },
    );
    const r = checkAgentConfig(configPath);
    expect(r.problems).toEqual([]);
    expect(Object.isFrozen(r.config)).toBe(true);
    expect(Object.isFrozen(r.config!.allow)).toBe(true);
    expect(() => {
      (r.config!.allow as string[]).push('http://127.0.0.1:3/');
    }).toThrow(TypeError);
  });
});

describe('the same value means the same to the hub and the agent', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    hub = await startHub(entra, {}, { args: ['--drain-timeout', '30s'] });
  });
  afterAll(async () => {
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it('--drain-timeout 30s is accepted by hub and agent', async () => {
    // Before: the hub took 30s and the agent refused it (`--drain-timeout must be seconds`, exit 2).
    const token = await entra.token();
    const { agent } = await gatewayWithAgent(hub.url, token, [`${echo.url}/`], 'drain', ['--drain-timeout', '30s']);
    const g = await api(hub.url, token, 'GET', '/v1/gateways');
    expect(g.status).toBe(200);
    expect(await agent.stop('SIGTERM')).toBe(0);
    expect(agent.lines.join('\n')).toMatch(/drained; exiting/);
  });
});
