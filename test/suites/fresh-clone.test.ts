// Finding 6 (issue 21): on a machine without libkrb5-dev npm leaves out the agent's optional `kerberos` addon,
// and the README's first command stopped at `TS2307: Cannot find module 'kerberos'`. Here the committed HEAD is
// cloned into a temporary directory, installed without optional dependencies (so without the addon, as on such
// a machine), and the quick start (`npm start`, i.e. build + `gatehouse-hub dev`) must build, start, and print a
// command that works. npm ci compiles better-sqlite3: minutes, not seconds.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { connect } from 'node:net';
import { freePort } from '../helpers/apache.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const INSTALL_MS = 15 * 60_000;
const START_MS = 5 * 60_000;

/** The environment of a user's shell: none of the npm_* variables of an npm that may be running this suite,
 *  except the node headers (scripts/test-node24.sh builds for Node 24) and the cache. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') || /^npm_config_(nodedir|cache)$/i.test(k)) env[k] = v;
  }
  return env;
}

/** Whether a connection to host:port is refused (nobody listening) before `ms` pass. */
async function refusedWithin(host: string, port: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const refused = await new Promise<boolean>((r) => {
      const s = connect(port, host, () => {
        s.destroy();
        r(false);
      });
      s.once('error', () => r(true));
    });
    if (refused) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

let start: ChildProcess | undefined;
afterAll(() => {
  // npm start runs a shell that runs node: whatever is left of the whole process group goes
  if (start?.pid !== undefined) {
    try {
      process.kill(-start.pid, 'SIGKILL');
    } catch {
      /* all gone */
    }
  }
  cleanupTempDirs();
});

describe('finding 6: a fresh clone builds and runs the quick start without the optional kerberos addon', () => {
  it(
    'git clone, npm ci --omit=optional, npm start: the printed command invokes the sample service',
    async () => {
      const clone = join(tempDir('gatehouse-clone-'), 'gatehouse');
      const head = execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
      execFileSync('git', ['clone', '--quiet', '--no-checkout', REPO, clone]);
      execFileSync('git', ['-C', clone, 'checkout', '--quiet', head]);
      execFileSync('npm', ['ci', '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund'], {
        cwd: clone,
        env: userEnv(),
        stdio: 'ignore',
        timeout: INSTALL_MS,
      });
      expect(existsSync(join(clone, 'node_modules', 'kerberos'))).toBe(false);

      const port = await freePort();
      start = spawn('npm', ['start', '--', '--listen', `127.0.0.1:${port}`, '--dir', join(clone, '.gatehouse-dev')], {
        cwd: clone,
        env: userEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const lines: string[] = [];
      createInterface({ input: start.stdout! }).on('line', (l) => lines.push(l));
      createInterface({ input: start.stderr! }).on('line', (l) => lines.push(l));
      const exited = new Promise<number | null>((r) => start!.once('exit', (code) => r(code)));
      const ready = await Promise.race([
        new Promise<boolean>((r) => {
          const t = setInterval(() => {
            if (lines.some((l) => l.includes('Stop with Ctrl+C'))) {
              clearInterval(t);
              r(true);
            }
          }, 200);
          setTimeout(() => {
            clearInterval(t);
            r(false);
          }, START_MS);
        }),
        exited.then(() => false),
      ]);
      expect(ready, lines.slice(-20).join('\n')).toBe(true);
      const out = lines.join('\n');
      const at = out.indexOf('  curl ');
      const command = out.slice(at, out.indexOf('\n\n', at)).replace(/\\\n/g, ' ');
      expect(command).toContain(`http://127.0.0.1:${port}/v1/connections/`);
      const answer = JSON.parse(execFileSync('bash', ['-c', command], { cwd: clone, encoding: 'utf8', timeout: 60_000 })) as {
        statusCode: number;
        body: string;
      };
      expect(answer.statusCode).toBe(200);
      expect(Buffer.from(answer.body, 'base64').toString()).toMatch(/Hello from the intranet/);

      process.kill(-start.pid!, 'SIGINT');
      const stopped = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 30_000))]);
      expect(stopped).not.toBe('late');
      // and the hub it started is gone with it: nothing listens on the port any more
      expect(await refusedWithin(`127.0.0.1`, port, 10_000)).toBe(true);
    },
    INSTALL_MS + START_MS + 120_000,
  );
});
