// A real Apache httpd with Basic auth, started standalone (its own config, not the system's) on a free port.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export const APACHE_BIN = ['/usr/sbin/apache2', '/usr/sbin/httpd'].find((p) => existsSync(p));

export interface Apache {
  url: string;
  port: number;
  stop(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** A standalone Apache (its own config, not the system's) on a free loopback port, with `body` appended to the config. */
export async function startApache(opts: {
  serverName?: string;
  modules?: string[];
  body: (dir: string) => string;
  env?: Record<string, string>;
}): Promise<Apache> {
  if (!APACHE_BIN) throw new Error('apache2 is not installed: run scripts/test-all.sh (it installs the test servers)');
  const dir = tempDir('gatehouse-apache-');
  chmodSync(dir, 0o755);
  const port = await freePort();
  for (const d of ['htdocs', 'logs', 'run']) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  const mods = '/usr/lib/apache2/modules';
  const modules = ['mpm_event', 'authn_core', 'authz_core', 'authz_user', 'headers', 'mime', 'dir', ...(opts.modules ?? [])];
  writeFileSync(
    join(dir, 'httpd.conf'),
    `
ServerRoot ${dir}
ServerName ${opts.serverName ?? '127.0.0.1'}
Listen 127.0.0.1:${port}
PidFile ${dir}/run/httpd.pid
ErrorLog ${dir}/logs/error.log
LogLevel warn
User www-data
Group www-data
KeepAlive On
${modules.map((m) => `LoadModule ${m}_module ${mods}/mod_${m}.so`).join('\n')}
TypesConfig /etc/mime.types
DirectoryIndex index.html
DocumentRoot ${dir}/htdocs
<Directory ${dir}/htdocs>
  Require all granted
</Directory>
${opts.body(dir)}
`,
  );
  execFileSync('chmod', ['-R', 'o+rX', dir]);
  execFileSync(APACHE_BIN, ['-f', join(dir, 'httpd.conf'), '-k', 'start'], {
    stdio: 'pipe',
    env: { ...process.env, ...opts.env, APACHE_RUN_DIR: join(dir, 'run'), APACHE_LOG_DIR: join(dir, 'logs') },
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    port,
    stop() {
      try {
        process.kill(Number(readFileSync(join(dir, 'run/httpd.pid'), 'utf8')), 'SIGTERM');
      } catch {
        /* already gone */
      }
    },
  };
}

/** Apache with Basic auth (htpasswd) on /basic. */
export async function startApacheBasic(user: string, password: string): Promise<Apache> {
  return startApache({
    modules: ['auth_basic', 'authn_file'],
    body: (dir) => {
      mkdirSync(join(dir, 'htdocs/basic'), { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, 'htdocs/basic/index.html'), 'hello from apache basic\n');
      execFileSync('htpasswd', ['-cbB', join(dir, 'htpasswd'), user, password], { stdio: 'pipe' });
      chmodSync(join(dir, 'htpasswd'), 0o644);
      return `Header always set X-Remote-User "expr=%{REMOTE_USER}"
<Location /basic>
  AuthType Basic
  AuthName "Basic test"
  AuthUserFile ${dir}/htpasswd
  Require valid-user
</Location>`;
    },
  });
}
