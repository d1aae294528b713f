// The web console (issue 25) in a real browser: Debian's Chromium driven by playwright-core against the real hub
// (`gatehouse-hub dev`, and `serve` with the fake Entra ID), a real agent registered with the command the console
// shows, and the echo service behind it. Also how the hub serves the console: its CSP and headers, a hostile path
// corpus, the development token only in dev, a hub without built console files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, seriousA11yViolations } from '../helpers/browser.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { freePort } from '../helpers/apache.js';
import { CLIENT_ID, TENANT_A, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { AGENT_MAIN, HUB_MAIN, api, runAgent, startHub, startProc, type AgentProc, type HubProc, type Proc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';
import { URL_CORPUS, onRequestLine } from '../helpers/url-corpus.js';

let browser: Browser;
let dev: Proc;
let devUrl: string;
let devDir: string;
let echo: EchoServer;
let entra: FakeEntra | undefined;
const hubs: HubProc[] = [];
const agents: AgentProc[] = [];

beforeAll(async () => {
  devDir = join(tempDir(), 'dev');
  const port = await freePort();
  dev = startProc([HUB_MAIN, 'dev', '--listen', `127.0.0.1:${port}`, '--dir', devDir], {});
  await dev.waitForLine((l) => l.includes('Stop with Ctrl+C'), 60_000);
  devUrl = `http://127.0.0.1:${port}`;
  echo = await startEchoServer();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const a of agents) await a.stop();
  for (const h of hubs) await h.stop();
  await dev?.stop('SIGINT');
  await echo?.close();
  await entra?.close();
  cleanupTempDirs();
});

/** A page that fails the test on any script error or Content-Security-Policy refusal. */
async function openPage(opts: { ignoreHTTPSErrors?: boolean } = {}): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, ...opts });
  page.setDefaultTimeout(30_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  return { page, problems };
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousA11yViolations(page)).toEqual([]);
}

describe('the console in a real browser', () => {
  it('signs in through dev, adds a gateway and its agent, creates and tests a sealed Basic connection, tries a POST, sees the agent go', async () => {
    const { page, problems } = await openPage();
    const sent: string[] = [];
    page.on('request', (r) => sent.push([r.method(), r.url(), JSON.stringify(r.headers()), r.postData() ?? ''].join('\n')));

    await page.goto(`${devUrl}/console/`);
    await page.getByText('Signed in as').waitFor();
    expect(await page.locator('header.top').textContent()).toContain('Gatehouse Developer');
    await page.locator('[data-gateway="dev-gateway"]').waitFor();
    // Routes this hub may not have (roles, audit) leave no error behind.
    expect(await page.getByRole('alert').count()).toBe(0);
    await expectAccessible(page);

    // Create a gateway; its card offers the exact register command with the fresh key.
    // By keyboard: the name, then Enter submits the form.
    await page.getByLabel('Gateway name').fill('console-gw');
    await page.getByLabel('Gateway name').press('Enter');
    const card = page.locator('[data-gateway="console-gw"]');
    await card.getByLabel('URL prefix the agent may call').fill(`${echo.url}/`);
    await card.getByLabel('Member name (optional)').fill('console-agent');
    const command = await card.getByLabel('Agent command', { exact: true }).inputValue();
    expect(command).toMatch(
      new RegExp(`^gatehouse-agent register --hub ${devUrl} --gateway [0-9a-f-]{36} --key ghr_\\S+ --name console-agent --allow ${echo.url}/$`),
    );
    const gatewayId = /--gateway (\S+)/.exec(command)![1]!;

    // Run it (with a config path of the test's own, not the machine's default), then the agent itself.
    const configPath = join(tempDir(), 'agent.json');
    const reg = startProc([AGENT_MAIN, ...command.split(' ').slice(1), '--config', configPath], {});
    expect(await reg.exited).toBe(0);
    const agent = await runAgent(configPath);
    agents.push(agent);

    // The card refreshes by itself: the member comes online with its version and hub count.
    const row = card.locator('tr[data-member="console-agent"]');
    await row.locator('.status.online').waitFor();
    expect(await row.textContent()).toMatch(/0\.\d+\.\d+/);
    // Round trip and calls in flight, as the hub sees the member's connection.
    await row.locator('td', { hasText: /^\d+ ms$/ }).waitFor();
    // The key is spent: the card no longer offers its command.
    await card.getByText('A member joined with the last key').waitFor();
    expect(await card.getByLabel('Agent command', { exact: true }).count()).toBe(0);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await expectAccessible(page);
    const shot = join(tempDir(), 'console-gateways.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.GATEHOUSE_UPDATE_SCREENSHOT) copyFileSync(shot, fileURLToPath(new URL('../../docs/console-gateways.png', import.meta.url)));

    // A BasicGateway connection; the password is sealed in the browser before it leaves.
    const user = 'console-user';
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByLabel('Type', { exact: true }).selectOption('BasicGateway');
    await page.getByLabel('Display name').fill('Echo via console');
    await page.getByLabel('Base URL', { exact: true }).fill(echo.url);
    await page.getByLabel('Gateway', { exact: true }).selectOption(gatewayId);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Create connection' }).click();
    const conn = page.locator('tr[data-connection="Echo via console"]');
    await conn.waitFor();
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    await expectAccessible(page);

    // "Test": a GET through it (the button reached and pressed by keyboard).
    await conn.getByRole('button', { name: 'Test Echo via console' }).focus();
    await page.keyboard.press('Enter');
    await conn.locator('output', { hasText: 'The service answered 200' }).waitFor();

    // Try a POST with a body: the service's answer comes back (the echo service returns the body).
    await page.getByRole('link', { name: 'Try a call' }).click();
    await page.getByLabel('Connection', { exact: true }).selectOption({ label: `Echo via console (${echo.url})` });
    await page.getByLabel('Method').selectOption('POST');
    await page.getByLabel("URL (relative to the connection's base URL)").fill('echo/console');
    await page.getByLabel('Body text').fill('hello from the console');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.status-code', { hasText: '200' }).waitFor();
    expect(await page.getByLabel('Response body').inputValue()).toBe('hello from the console');
    await expectAccessible(page);
    // A file as the body: its bytes reach the service as they are.
    await page
      .getByLabel('Or a file as the body')
      .setInputFiles({ name: 'four.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 1, 2, 255]) });
    await page.getByLabel("URL (relative to the connection's base URL)").fill('echo/file');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Body (4 bytes, shown as hex)').waitFor();
    expect(echo.received.find((r) => r.url === '/echo/file')?.bytes).toBe(4);
    await page.getByRole('button', { name: 'Use the body text instead of four.bin' }).click();

    // A binary answer is shown as hex, with the whole body to download.
    await page.getByLabel('Method').selectOption('GET');
    await page.getByLabel("URL (relative to the connection's base URL)").fill('big?bytes=300');
    await page.getByLabel('Body text').fill('');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('Body (300 bytes, shown as hex)').waitFor();
    expect(await page.getByLabel('Response body').inputValue()).toMatch(/^00000000 {2}([0-9a-f]{2} ){15}[0-9a-f]{2} /);
    expect(await page.getByRole('link', { name: 'Download the body' }).getAttribute('href')).toMatch(/^blob:/);
    const atService = echo.received.find((r) => r.url === '/echo/console')!;
    expect(atService.method).toBe('POST');
    expect(atService.headers.authorization).toBe(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);

    // The agent stops: its member goes offline, and the test fails with GatewayOffline, naming the link.
    await agent.stop('SIGTERM');
    await page.getByRole('link', { name: 'Gateways' }).click();
    await page.locator('[data-gateway="console-gw"] tr[data-member="console-agent"] .status.offline').waitFor();
    await page.getByRole('link', { name: 'Connections' }).click();
    await conn.getByRole('button', { name: 'Test Echo via console' }).click();
    const failed = conn.locator('output', { hasText: 'GatewayOffline' });
    await failed.waitFor();
    expect(await failed.textContent()).toMatch(/hub -> agent/);

    // Neither the hub's database nor any request the browser sent holds the password.
    for (const f of readdirSync(devDir).filter((n) => n.startsWith('gatehouse.db'))) {
      const bytes = readFileSync(join(devDir, f));
      expect(bytes.includes(password)).toBe(false);
      expect(bytes.includes(Buffer.from(password).toString('base64'))).toBe(false);
    }
    const created = sent.filter((s) => s.startsWith(`POST\n${devUrl}/v1/connections\n`));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatch(/"sealedCredentials":\{"keyId":"[A-Za-z0-9_-]{43}","sealed":"/);
    expect(created[0]).not.toMatch(/"password"|"username"/);
    expect(sent.filter((s) => s.includes(password))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});

describe('how the hub serves the console', () => {
  it('dev answers every file with its type, a strict CSP, nosniff and no cookie; hashed assets cache for a year', async () => {
    const index = await api(devUrl, undefined, 'GET', '/console/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    const assets = [...index.text.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    expect(index.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(index.text).not.toMatch(/\sstyle=|<style/);
    for (const path of ['/console/', '/console/config.json', ...assets]) {
      const r = await api(devUrl, undefined, 'GET', path);
      expect(r.status, path).toBe(200);
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['set-cookie']).toBeUndefined();
      if (path.endsWith('.js')) expect(r.headers['content-type']).toBe('text/javascript; charset=utf-8');
      if (path.endsWith('.css')) expect(r.headers['content-type']).toBe('text/css; charset=utf-8');
      if (path.includes('/assets/')) expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    expect((await api(devUrl, undefined, 'GET', '/console/config.json')).json).toEqual({ mode: 'dev' });
    const redirect = await api(devUrl, undefined, 'GET', '/console');
    expect([redirect.status, redirect.headers.location]).toEqual([308, '/console/']);
  });

  it('no hostile path reaches a file outside the console (dot-segments, escapes, backslashes, NUL, overlong UTF-8)', async () => {
    const port = Number(new URL(devUrl).port);
    const targets = [
      '/console/../package.json',
      '/console/../../../../etc/passwd',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/%2E%2E%2F%2E%2E%2Fdist%2Fmain.js',
      '/console/assets/..%2f..%2fhttp%2fconsole.js',
      '/console/..%5c..%5cmain.js',
      '/console/..\\..\\main.js',
      '/console/%252e%252e/%252e%252e/package.json',
      '/console/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json',
      '/console/%ef%bc%8e%ef%bc%8e/main.js',
      '/console/.%2e/dev-identity.json',
      '/console//etc/passwd',
      '/console/index.html%00.js',
      '/console/assets/',
      '/console/assets',
      '/console/./index.html',
      '/console/assets/../index.html',
      '/console/dev-identity.json',
      '/console/gatehouse.db',
      '/console/;/../package.json',
      `/console/${'../'.repeat(200)}etc/passwd`,
      '/console%2f..%2fpackage.json',
      '/console/.git/config',
    ];
    for (const target of targets) {
      const { status, text } = await rawGet(port, target);
      expect([400, 404, 414], target).toContain(status);
      expect(text, target).toMatch(/"code":"(NotFound|InvalidRequest|UriTooLong)"/);
      expect(text, target).not.toMatch(/privateJwk|root:x:|"workspaces"|#!\/usr\/bin\/env/);
    }
    // And the URL rule's whole corpus (test/fixtures/url-corpus.json) under /console/ and /console/assets/.
    for (const c of URL_CORPUS)
      for (const target of [`/console/${onRequestLine(c.path)}`, `/console/assets/${onRequestLine(c.path)}`]) {
        const { status, text } = await rawGet(port, target);
        expect([400, 404, 414], `${c.name}: ${target}`).toContain(status);
        expect(text, target).not.toMatch(/privateJwk|root:x:|"workspaces"|#!\/usr\/bin\/env/);
      }
    // The hub keeps serving.
    expect((await api(devUrl, undefined, 'GET', '/healthz')).status).toBe(200);
  });

  it('the development token goes only to the console on this machine (loopback Host, its header, same-origin)', async () => {
    const ok = await api(devUrl, undefined, 'GET', '/console/dev-token', undefined, { 'x-gatehouse-console': 'dev' });
    expect(ok.status).toBe(200);
    expect(ok.headers['cache-control']).toBe('no-store');
    expect((await api(devUrl, ok.json.accessToken, 'GET', '/v1/gateways')).status).toBe(200);
    const refusals: Array<Record<string, string>> = [
      {},
      { 'x-gatehouse-console': 'dev', host: 'attacker.example' },
      { 'x-gatehouse-console': 'dev', 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of refusals) {
      const r = await api(devUrl, undefined, 'GET', '/console/dev-token', undefined, headers);
      expect([r.status, r.json.error.code], JSON.stringify(headers)).toEqual([403, 'Forbidden']);
      expect(r.text).not.toContain('eyJ');
    }
    expect((await api(devUrl, undefined, 'POST', '/console/dev-token', undefined, { 'x-gatehouse-console': 'dev' })).status).toBe(400);
  });

  it('a hub that is not dev has no development token and signs the console in with Entra ID; without built files it says so', async () => {
    entra = await startFakeEntra();
    const hub = await startHub(entra, { GATEHOUSE_ALLOWED_TENANTS: TENANT_A });
    hubs.push(hub);
    const token = await api(hub.url, undefined, 'GET', '/console/dev-token', undefined, { 'x-gatehouse-console': 'dev' });
    expect([token.status, token.json.error.code]).toEqual([404, 'NotFound']);
    const settings = await api(hub.url, undefined, 'GET', '/console/config.json');
    expect(settings.json).toEqual({
      mode: 'entra',
      clientId: CLIENT_ID,
      authority: `${entra.authorityHost}/${TENANT_A}`,
      scopes: [`api://${CLIENT_ID}/user_impersonation`],
    });
    expect(String(settings.headers['content-security-policy'])).toContain(`connect-src 'self' ${entra.authorityHost}`);

    // In the browser: MSAL starts, nobody is signed in yet, the page offers the sign-in and nothing else. (The
    // fake Entra ID's certificate comes from the test CA, which this browser profile does not hold.)
    const { page, problems } = await openPage({ ignoreHTTPSErrors: true });
    await page.goto(`${hub.url}/console/`);
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await expectAccessible(page);
    expect(problems).toEqual([]);
    // Signing in: authorization code with PKCE at the tenant's authorize endpoint, for the hub's scope, back to
    // /console/; MSAL keeps its state in session storage, nothing in local storage.
    const authorize = page.waitForRequest((r) => r.url().startsWith(`${entra!.authorityHost}/${TENANT_A}/oauth2/v2.0/authorize?`));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const q = new URL((await authorize).url()).searchParams;
    expect(q.get('client_id')).toBe(CLIENT_ID);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('redirect_uri')).toBe(`${hub.url}/console/`);
    expect(q.get('scope')?.split(' ')).toContain(`api://${CLIENT_ID}/user_impersonation`);
    await page.goto(`${hub.url}/console/config.json`);
    expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0);
    expect(await page.evaluate(() => Object.keys(sessionStorage).some((k) => k.startsWith('msal.')))).toBe(true);
    await page.close();

    const bare = await startHub(entra, { GATEHOUSE_CONSOLE_DIR: tempDir() });
    hubs.push(bare);
    const missing = await api(bare.url, undefined, 'GET', '/console/');
    expect([missing.status, missing.json.error.code]).toEqual([404, 'NotFound']);
    expect(missing.json.error.message).toMatch(/the console is not built/);
    expect((await api(bare.url, undefined, 'GET', '/healthz')).status).toBe(200);
  }, 120_000);
});

/** GET with the target exactly as written (no client normalising it), answered status and body. */
function rawGet(port: number, target: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    s.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, text: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    s.on('error', reject);
    s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}
