// `gatehouse-hub dev`: the quick start. A hub with the development identity on loopback, a sample intranet
// service with Basic auth, a registered agent, a BasicGateway connection, and a command that calls it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '@gatehouse/shared';
import { loadConfig } from './config.js';
import { createHub } from './hub.js';
import { DEV_CLIENT_ID, devKeySource, loadOrCreateDevKey, mintDevToken } from './auth/dev-identity.js';

/** The sample intranet service: Basic auth, answers JSON about what it received. */
function startSampleService(user: string, password: string): Promise<{ server: Server; port: number }> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="intranet"', 'content-type': 'text/plain' }).end('unauthorized\n');
      return;
    }
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        `${JSON.stringify({
          message: 'Hello from the intranet, through Gatehouse',
          method: req.method,
          path: req.url,
          bodyBytes: size,
          via: req.headers.via ?? null,
          time: new Date().toISOString(),
        })}\n`,
      );
    });
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as { port: number }).port })));
}

/** `settings`: DEV_SETTINGS as read (dev-settings.ts; the address is checked to be loopback there). */
export async function runDev(settings: { listen: { host: string; port: number }; dir: string }, env: NodeJS.ProcessEnv): Promise<void> {
  const dir = resolve(settings.dir);
  const listen = settings.listen;
  const key = await loadOrCreateDevKey(dir);
  // Each dev start begins with a fresh database; the identity (and tokens it minted) survives.
  for (const f of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm', 'agent.json', 'agent.json.status.json']) rmSync(join(dir, f), { force: true });
  const config = loadConfig({
    GATEHOUSE_CLIENT_ID: DEV_CLIENT_ID,
    GATEHOUSE_DATABASE: `sqlite:${join(dir, 'gatehouse.db')}`,
    GATEHOUSE_LISTEN: `${listen.host}:${listen.port}`,
    GATEHOUSE_LOG_LEVEL: env.GATEHOUSE_LOG_LEVEL ?? 'warn',
  });
  // The console at /console/ signs in as the development identity with no prompt (http/console.ts).
  const consoleDevToken = async () => ({ accessToken: await mintDevToken(key), expiresOn: Date.now() + 3600_000 });
  const hub = await createHub(config, { keySource: devKeySource(key), consoleDevToken });
  const addr = await hub.start();
  const hubUrl = `http://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;

  const user = 'intranet-user';
  const password = randomBytes(12).toString('base64url');
  const sample = await startSampleService(user, password);
  const sampleUrl = `http://127.0.0.1:${sample.port}`;

  const token = await mintDevToken(key);
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${hubUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return json;
  };

  const gw = await api('POST', '/v1/gateways', { name: 'dev-gateway' });
  const require = createRequire(import.meta.url);
  const agentMain = join(dirname(require.resolve('@gatehouse/agent/package.json')), 'dist', 'main.js');
  const agentConfig = join(dir, 'agent.json');
  // Asynchronous on purpose: the hub in this very process answers the registration.
  const reg = spawn(
    process.execPath,
    [
      agentMain,
      'register',
      '--hub',
      hubUrl,
      '--gateway',
      String(gw.id),
      '--key',
      String(gw.registrationKey),
      '--name',
      'dev-agent',
      '--allow',
      `${sampleUrl}/`,
      '--config',
      agentConfig,
      '--recovery-key',
      randomBytes(16).toString('base64url'),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let regErr = '';
  reg.stderr!.on('data', (c: Buffer) => {
    regErr += c.toString();
  });
  const regCode = await new Promise<number | null>((r) => reg.once('exit', r));
  if (regCode !== 0) throw new Error(`agent register failed: ${regErr.trim()}`);
  const agent: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, agentMain, 'run', '--config', agentConfig], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...env, GATEHOUSE_LOG_LEVEL: env.GATEHOUSE_LOG_LEVEL ?? 'warn' },
  });

  for (let i = 0; ; i++) {
    const g = await api('GET', `/v1/gateways/${String(gw.id)}`);
    if (g.status === 'online') break;
    if (i > 100 || agent.exitCode !== null) throw new Error('the dev agent did not come online');
    await new Promise((r) => setTimeout(r, 100));
  }
  const conn = await api('POST', '/v1/connections', {
    authType: 'BasicGateway',
    displayName: 'Sample intranet service',
    baseResourceUrl: sampleUrl,
    gatewayId: gw.id,
    username: user,
    password,
  });

  const hubMain = fileURLToPath(new URL('./main.js', import.meta.url));
  const tokenCmd = `$(node ${hubMain} token --dir ${dir})`;
  process.stdout.write(
    [
      '',
      'Gatehouse dev is running (loopback only; development identity, not Entra ID).',
      `  hub:              ${hubUrl}`,
      `  console:          ${hubUrl}/console/ (signed in as the development identity)`,
      `  sample service:   ${sampleUrl} (Basic auth; the password is sealed for the agent)`,
      `  gateway:          ${String(gw.id)} (1 agent online)`,
      `  connection:       ${String(conn.id)} (BasicGateway)`,
      '',
      'Invoke the intranet service through the gateway (paste into another terminal):',
      '',
      `  curl -sS -X POST ${hubUrl}/v1/connections/${String(conn.id)}/invoke \\`,
      `    -H "Authorization: Bearer ${tokenCmd}" \\`,
      `    -H 'Content-Type: application/json' -d '{"method": "GET", "url": "hello"}'`,
      '',
      'The answer is the connector\'s envelope {"statusCode", "headers", "body"}; body is base64.',
      'Stop with Ctrl+C.',
      '',
    ].join('\n'),
  );

  const stop = async () => {
    agent.kill('SIGTERM');
    await new Promise((r) => {
      if (agent.exitCode !== null) r(null);
      else agent.once('exit', r);
    });
    sample.server.close();
    await hub.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  agent.once('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`dev agent exited with code ${code}\n`);
  });
}
