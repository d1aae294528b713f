// The README's first command: `gatehouse-hub dev` starts everything and prints a command that works.
// Also: the development identity exists only in `dev`; `serve` refuses its tokens.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { AGENT_MAIN, HUB_MAIN, api, startHub, startProc, type Proc } from '../helpers/stack.js';
import { freePort } from '../helpers/apache.js';
import { startFakeEntra } from '../helpers/fake-entra.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

let dev: Proc | undefined;
afterAll(async () => {
  await dev?.stop('SIGINT');
  cleanupTempDirs();
});

describe('gatehouse-hub dev', () => {
  it('prints a ready-to-paste command that invokes the sample service through the gateway', async () => {
    const dir = join(tempDir(), 'dev');
    const port = await freePort();
    dev = startProc([HUB_MAIN, 'dev', '--listen', `127.0.0.1:${port}`, '--dir', dir], {});
    await dev.waitForLine((l) => l.includes('Stop with Ctrl+C'), 60_000);
    const out = dev.lines.join('\n');
    const start = out.indexOf('  curl ');
    const command = out.slice(start, out.indexOf('\n\n', start)).replace(/\\\n/g, ' ');
    expect(command).toContain(`http://127.0.0.1:${port}/v1/connections/`);
    const answer = JSON.parse(execFileSync('bash', ['-c', command], { encoding: 'utf8' })) as { statusCode: number; body: string };
    expect(answer.statusCode).toBe(200);
    const body = JSON.parse(Buffer.from(answer.body, 'base64').toString()) as { message: string; path: string; via: string };
    expect(body.message).toMatch(/Hello from the intranet/);
    expect(body.path).toBe('/hello');
    expect(body.via).toBe('1.1 gatehouse');

    // `token` mints for the dev identity; a token of the dev identity means nothing to `serve`.
    const token = execFileSync(process.execPath, [HUB_MAIN, 'token', '--dir', dir], { encoding: 'utf8' }).trim();
    expect((await api(`http://127.0.0.1:${port}`, token, 'GET', '/v1/connections')).status).toBe(200);
    const entra = await startFakeEntra();
    const serve = await startHub(entra);
    try {
      expect((await api(serve.url, token, 'GET', '/v1/connections')).status).toBe(401);
    } finally {
      await serve.stop();
      await entra.close();
    }
  });

  it('dev refuses a non-loopback address; serve without a client id exits 2 with one line', async () => {
    const p = startProc([HUB_MAIN, 'dev', '--listen', '0.0.0.0:8089', '--dir', tempDir()], {});
    expect(await p.exited).toBe(2);
    expect(p.lines[0]).toMatch(/loopback only/);
    const s = startProc([HUB_MAIN, 'serve'], {});
    expect(await s.exited).toBe(2);
    expect(s.lines).toHaveLength(1);
    expect(s.lines[0]).toMatch(/GATEHOUSE_CLIENT_ID is required/);
    const h = startProc([HUB_MAIN, '--help'], {});
    expect(await h.exited).toBe(0);
    expect(h.lines.join('\n')).toMatch(/GATEHOUSE_THROTTLE/);
  });

  it('a mistyped, repeated or valueless flag is refused with one line naming it, by every command of both binaries', async () => {
    // Regression: `token` and `dev` ignored flags they do not know, `serve` took the last of a repeated flag.
    const cases: Array<[string[], RegExp]> = [
      [[HUB_MAIN, 'token', '--tll', '60'], /unknown flag --tll/],
      [[HUB_MAIN, 'dev', '--lisen', '127.0.0.1:1'], /unknown flag --lisen/],
      [[HUB_MAIN, 'serve', '--listen', '127.0.0.1:1', '--listen=127.0.0.1:2'], /flag --listen given twice/],
      [[HUB_MAIN, 'serve', '--throttle'], /flag --throttle needs a value/],
      // over the relay's bound: an agent refused such a call by closing its connection
      [[HUB_MAIN, 'serve', '--client-id', 'x', '--client-secret', 'y', '--max-timeout', '25h'], /GATEHOUSE_MAX_TIMEOUT must be a duration from 1s to 24h/],
      [[HUB_MAIN, 'grant', 'list', '--dry-run=yes'], /flag --dry-run takes no value/],
      [[AGENT_MAIN, 'status', '--confg', 'x'], /unknown flag --confg/],
      [[AGENT_MAIN, 'run', '--print'], /unknown flag --print/],
      [[AGENT_MAIN, 'register', '--gateway', 'a', '--gateway=b'], /flag --gateway given twice/],
    ];
    for (const [args, message] of cases) {
      const p = startProc(args, {});
      expect(await p.exited, args.join(' ')).toBe(2);
      expect(p.lines, args.join(' ')).toHaveLength(1);
      expect(p.lines[0]).toMatch(message);
    }
    // --name=value is accepted by every command (grant took only --name value)
    const p = startProc([HUB_MAIN, 'grant', 'frobnicate', '--resource=https://graph.microsoft.com'], {});
    expect(await p.exited).toBe(2);
    expect(p.lines[0]).toMatch(/unknown action frobnicate/);
  });

  it('docs/operations.md lists exactly the settings `--help` prints, with the same flags and defaults', async () => {
    const h = startProc([HUB_MAIN, '--help'], {});
    await h.exited;
    const help = new Map(
      h.lines
        .map((l) => /^ {2}(--[a-z-]+)\s+(GATEHOUSE_[A-Z_]+)\s.*?(?:\(default ([^()]*)\))?$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => [m[2]!, { flag: m[1]!, def: m[3] ?? '' }]),
    );
    const md = readFileSync(fileURLToPath(new URL('../../docs/operations.md', import.meta.url)), 'utf8');
    const docs = new Map(
      md
        .split('\n')
        .filter((l) => /^\| `GATEHOUSE_[A-Z_]+` \|/.test(l))
        .map((l) => l.split('|').map((c) => c.trim().replace(/`/g, '')))
        .map((r) => [r[1]!, { flag: r[2]!, def: r[3] === 'unset' || r[3] === 'required' ? '' : r[3]! }]),
    );
    expect(help.size).toBeGreaterThan(15);
    expect(docs).toEqual(help);
  });

  it('both binaries run through the workspace with npx, as the README says', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    for (const [bin, expected] of [
      ['gatehouse-hub', /gatehouse-hub serve/],
      ['gatehouse-agent', /gatehouse-agent register/],
    ] as const) {
      const r = spawnSync('npx', ['--no-install', bin, '--help'], { cwd: root, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(expected);
    }
  });
});
