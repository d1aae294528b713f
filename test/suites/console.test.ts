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
import type { Browser, Locator, Page } from 'playwright-core';
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
    // Nothing on the first page fails (roles and audit load only when their sections are opened).
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

/** The development identity's object id (packages/hub/src/auth/dev-identity.ts), the gateways' creator in dev. */
const DEV_USER = '00000000-0000-4000-8000-0000000000bb';
/** A second principal of the development tenant. */
const SECOND = '00000000-0000-4000-8000-0000000000cc';

/** A caller token from the dev hub itself (`gatehouse-hub token`), for the development identity or another oid. */
async function devToken(oid?: string): Promise<string> {
  const p = startProc([HUB_MAIN, 'token', '--dir', devDir, ...(oid ? ['--oid', oid] : [])], {});
  const token = await p.waitForLine((l) => l.startsWith('eyJ'));
  expect(await p.exited).toBe(0);
  return token;
}

/** The audit rows' actions as the console lists them, top to bottom. */
async function auditActions(list: Locator): Promise<string[]> {
  return list.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action') ?? ''));
}

describe('roles, shares and audit in the console (issue 25 follow-up)', () => {
  it('add a member after every member was removed: the console suggests join with the recovery key, and that command works', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${devUrl}/console/`);
    await page.getByLabel('Gateway name').fill('rejoin-gw');
    await page.getByLabel('Gateway name').press('Enter');
    const card = page.locator('[data-gateway="rejoin-gw"]');
    await card.getByLabel('URL prefix the agent may call').fill(`${echo.url}/`);
    const first = await card.getByLabel('Agent command', { exact: true }).inputValue();
    expect(first).toMatch(/^gatehouse-agent register /);
    const reg = startProc([AGENT_MAIN, ...first.split(' ').slice(1), '--config', join(tempDir(), 'first.json')], {});
    // register prints the recovery key once (24 random bytes, base64url)
    const recoveryKey = (await reg.waitForLine((l) => /^ {2}[A-Za-z0-9_-]{32}$/.test(l))).trim();
    expect(await reg.exited).toBe(0);
    await card.getByRole('button', { name: 'Remove agent' }).click();
    await card.getByText('No members: add one below.').waitFor();

    // The gateway has its key pair although it has no member: a new member joins, with the recovery key.
    await card.getByRole('button', { name: 'New registration key' }).click();
    await card.getByLabel('URL prefix the agent may call').fill(`${echo.url}/`);
    await card.getByLabel('Member name (optional)').fill('rejoined');
    const command = await card.getByLabel('Agent command', { exact: true }).inputValue();
    const gatewayId = /--gateway (\S+)/.exec(first)![1]!;
    expect(command).toMatch(
      new RegExp(
        `^gatehouse-agent join --hub ${devUrl} --gateway ${gatewayId} --key ghr_\\S+ --recovery-key RECOVERY-KEY --name rejoined --allow ${echo.url}/$`,
      ),
    );
    expect(await card.locator('.add-member').textContent()).toMatch(/replace RECOVERY-KEY with the recovery key that gatehouse-agent register printed/);
    const joined = startProc([AGENT_MAIN, ...command.replace('RECOVERY-KEY', recoveryKey).split(' ').slice(1), '--config', join(tempDir(), 'j.json')], {});
    expect(await joined.exited).toBe(0);
    await card.locator('tr[data-member="rejoined"]').waitFor();
    await card.getByText('A member joined with the last key').waitFor();
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);

  it('an admin gives a role, changes and removes it, keeps the last Admin, shares a connection and unshares it, and reads it all in the audit lists; the second principal sees only what its role allows', async () => {
    const { page, problems } = await openPage();
    await page.goto(`${devUrl}/console/`);
    await page.getByLabel('Gateway name').fill('team-gw');
    await page.getByLabel('Gateway name').press('Enter');
    const card = page.locator('[data-gateway="team-gw"]');
    await card.waitFor();
    const gatewayId = (/id (\S+)/.exec((await card.locator('header .note').textContent()) ?? '') ?? [])[1]!;
    expect(await card.locator('header').textContent()).toContain('your role: Admin');
    // A member (registered, not run: offline is enough here), for the member rows each view shows.
    await card.getByLabel('URL prefix the agent may call').fill(`${echo.url}/`);
    await card.getByLabel('Member name (optional)').fill('team-agent');
    const command = await card.getByLabel('Agent command', { exact: true }).inputValue();
    const reg = startProc([AGENT_MAIN, ...command.split(' ').slice(1), '--config', join(tempDir(), 'team.json')], {});
    expect(await reg.exited).toBe(0);
    await card.locator('tr[data-member="team-agent"]').waitFor();
    const token2 = await devToken(SECOND);

    // Roles, opened by keyboard: the creator is the gateway's Admin.
    await card.locator('summary', { hasText: 'Roles' }).focus();
    await page.keyboard.press('Enter');
    const roles = card.locator('.roles');
    await roles.locator(`tr[data-principal="${DEV_USER}"]`).waitFor();
    expect(await roles.getByLabel(`Role of ${DEV_USER}`, { exact: true }).inputValue()).toBe('Admin');
    // Give the second principal a role (the form submitted with Enter).
    await roles.getByLabel('Principal object id').fill(SECOND);
    await roles.getByLabel('Principal type').selectOption('User');
    await roles.getByLabel('Role', { exact: true }).selectOption('ConnectionCreator');
    await roles.getByLabel('Principal object id').press('Enter');
    const second = roles.locator(`tr[data-principal="${SECOND}"]`);
    await second.waitFor();
    expect(await second.getByLabel(`Role of ${SECOND}`, { exact: true }).inputValue()).toBe('ConnectionCreator');
    expect((await api(devUrl, token2, 'GET', `/v1/gateways/${gatewayId}`)).json.role).toBe('ConnectionCreator');
    // Change it, then remove it: the second principal has the gateway no more.
    await second.getByLabel(`Role of ${SECOND}`, { exact: true }).selectOption('Admin');
    await expect.poll(async () => (await api(devUrl, token2, 'GET', `/v1/gateways/${gatewayId}`)).json.role).toBe('Admin');
    await second.getByRole('button', { name: `Remove the role of ${SECOND}` }).click();
    await second.waitFor({ state: 'detached' });
    expect((await api(devUrl, token2, 'GET', `/v1/gateways/${gatewayId}`)).status).toBe(404);
    // The last Admin stays: the hub's coded refusal is shown, and the role is still listed.
    await roles.getByRole('button', { name: `Remove the role of ${DEV_USER}` }).click();
    const refusal = roles.getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toBe(
      "InvalidRequest: caller -> hub: this is the gateway's last Admin: give another principal the Admin role first (a gateway always keeps one)",
    );
    expect(await roles.getByLabel(`Role of ${DEV_USER}`, { exact: true }).inputValue()).toBe('Admin');
    await expectAccessible(page);
    // The second principal gets ConnectionCreator again, for its own view below.
    await roles.getByLabel('Principal object id').fill(SECOND);
    await roles.getByLabel('Role', { exact: true }).selectOption('ConnectionCreator');
    await roles.getByRole('button', { name: 'Give the role' }).click();
    await second.waitFor();

    // A connection on the gateway, shared with the second principal from its "Shares and audit" row.
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.getByLabel('Type', { exact: true }).selectOption('AnonymousGateway');
    await page.getByLabel('Display name').fill('Team echo');
    await page.getByLabel('Base URL', { exact: true }).fill(echo.url);
    await page.getByLabel('Gateway', { exact: true }).selectOption(gatewayId);
    await page.getByRole('button', { name: 'Create connection' }).click();
    const row = page.locator('tr[data-connection="Team echo"]');
    await row.waitFor();
    expect(await row.locator('td').nth(3).textContent()).toBe('Owner');
    await row.getByRole('button', { name: 'Shares and audit of Team echo' }).click();
    const panel = page.locator('tr[data-connection-panel="Team echo"]');
    await panel.getByText('Not shared with anyone.').waitFor();
    await panel.getByLabel('Principal object id').fill(SECOND);
    await panel.getByLabel('Principal type').selectOption('User');
    await panel.getByRole('button', { name: 'Share', exact: true }).click();
    await panel.locator(`tr[data-principal="${SECOND}"]`).waitFor();
    const connectionId = ((await api(devUrl, token2, 'GET', '/v1/connections')).json.value as Array<{ id: string; displayName: string; access: string }>).find(
      (c) => c.displayName === 'Team echo',
    )!;
    expect(connectionId.access).toBe('User');
    await expectAccessible(page);

    // The second principal's console (the dev hub's token for its oid, given to the page instead of the
    // development identity's): its role shows, and nothing it has no right to.
    const other = await openPage();
    await other.page.route('**/console/dev-token', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ accessToken: token2, expiresOn: Date.now() + 3_600_000 }) }),
    );
    await other.page.goto(`${devUrl}/console/`);
    const seen = other.page.locator('[data-gateway="team-gw"]');
    await seen.waitFor();
    expect(await seen.locator('header').textContent()).toContain('your role: Connection creator');
    await seen.locator('tr[data-member="team-agent"]').waitFor();
    expect(await seen.locator('table.members th[scope="col"]').allTextContents()).not.toContain('Actions');
    for (const absent of ['Roles', 'Audit', 'Add a member', 'Remove gateway', 'New registration key'])
      expect(await seen.getByText(absent, { exact: true }).count(), absent).toBe(0);
    expect(await seen.getByRole('button').count()).toBe(0);
    expect(await seen.getByLabel('Routing').count()).toBe(0);
    await expectAccessible(other.page);
    await other.page.getByRole('link', { name: 'Connections' }).click();
    const shared = other.page.locator('tr[data-connection="Team echo"]');
    await shared.waitFor();
    expect(await shared.locator('td').nth(3).textContent()).toBe('User (shared with you)');
    expect(await shared.getByRole('button').allTextContents()).toEqual(['Test']);
    // Its own connection on the gateway: a ConnectionCreator may not share it, so no share form, and the page says why.
    const own = await api(devUrl, token2, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      displayName: 'Second echo',
      baseResourceUrl: echo.url,
      gatewayId,
    });
    expect(own.status).toBe(201);
    await other.page.reload();
    const mine = other.page.locator('tr[data-connection="Second echo"]');
    await mine.getByRole('button', { name: 'Shares and audit of Second echo' }).click();
    const minePanel = other.page.locator('tr[data-connection-panel="Second echo"]');
    await minePanel.getByText('Not shared with anyone.').waitFor();
    expect(await minePanel.textContent()).toContain(
      'Sharing a connection on the gateway team-gw needs the Connection creator with sharing or Admin role there; you hold ConnectionCreator.',
    );
    expect(await minePanel.getByRole('button', { name: 'Share', exact: true }).count()).toBe(0);
    expect(await minePanel.getByLabel('Principal object id').count()).toBe(0);
    await expectAccessible(other.page);
    expect(other.problems).toEqual([]);
    await other.page.close();

    // Unshare: the second principal has the connection no more.
    await panel.getByRole('button', { name: `Unshare with ${SECOND}` }).click();
    await panel.getByText('Not shared with anyone.').waitFor();
    expect((await api(devUrl, token2, 'GET', `/v1/connections/${connectionId.id}`)).status).toBe(404);
    // The connection's audit list, newest first, with the actor.
    const connAudit = panel.locator('.audit');
    await expect.poll(() => auditActions(connAudit)).toEqual(['share.delete', 'share.set', 'connection.create']);
    expect(await connAudit.locator('tbody tr').first().locator('td').nth(1).textContent()).toBe(`User ${DEV_USER} (you)`);

    // The gateway's audit list: more changes than a page (routing changed through the API), newest first, the
    // rest behind "Older records".
    const admin = await devToken();
    for (let i = 0; i < 15; i++)
      expect((await api(devUrl, admin, 'PATCH', `/v1/gateways/${gatewayId}`, { routing: i % 2 === 0 ? 'distribute' : 'primary' })).status).toBe(200);
    await page.getByRole('link', { name: 'Gateways' }).click();
    await card.locator('summary', { hasText: 'Audit' }).click();
    const gwAudit = card.locator('.audit');
    const expected = [
      ...Array<string>(15).fill('gateway.update'),
      'share.delete',
      'connection.create',
      'share.set',
      'connection.create',
      'role.set',
      'role.delete',
      'role.set',
      'role.set',
      'member.register',
      'gateway.create',
    ];
    await expect.poll(() => auditActions(gwAudit)).toEqual(expected.slice(0, 20));
    await gwAudit.getByRole('button', { name: 'Older records' }).click();
    await expect.poll(() => auditActions(gwAudit)).toEqual(expected);
    expect(await gwAudit.getByRole('button', { name: 'Older records' }).count()).toBe(0);
    expect(await gwAudit.locator('tbody tr[data-action="member.register"] td').nth(1).textContent()).toBe('Agent team-agent');
    const roleSet = gwAudit.locator('tbody tr[data-action="role.set"]').first();
    expect(await roleSet.locator('td').nth(1).textContent()).toBe(`User ${DEV_USER} (you)`);
    expect(await roleSet.locator('td').nth(3).textContent()).toMatch(
      new RegExp(`principalId: ${SECOND}; principalType: User; role: ConnectionCreator; previousRole: —`),
    );
    await expectAccessible(page);
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);
});

/** A third principal of the development tenant: its own gateways and connections, for the paged lists. */
const THIRD = '00000000-0000-4000-8000-0000000000dd';

describe('complete lists and last errors (issue 25, last part)', () => {
  it("the console follows nextLink through every page of the gateways and connections, says when it stops at its page bound, and shows a member's last error", async () => {
    const token3 = await devToken(THIRD);
    // A gateway whose agent's service refuses (a port nothing listens on): one call, and its member has a last error.
    const closed = await freePort();
    const base = `http://127.0.0.1:${closed}/api`;
    const gw = await api(devUrl, token3, 'POST', '/v1/gateways', { name: 'refusing-gw' });
    expect(gw.status).toBe(201);
    const configPath = join(tempDir(), 'refusing.json');
    const reg = startProc(
      [
        AGENT_MAIN,
        'register',
        '--hub',
        devUrl,
        '--gateway',
        gw.json.id,
        '--key',
        gw.json.registrationKey,
        '--name',
        'refusing-agent',
        '--allow',
        `${base}/`,
        '--config',
        configPath,
      ],
      {},
    );
    expect(await reg.exited).toBe(0);
    agents.push(await runAgent(configPath));
    const refusing = await api(devUrl, token3, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      displayName: 'Refusing',
      baseResourceUrl: base,
      gatewayId: gw.json.id,
    });
    expect(refusing.status).toBe(201);
    const failed = await api(devUrl, token3, 'POST', `/v1/connections/${refusing.json.id}/invoke`, { method: 'GET', url: 'orders' });
    expect([failed.status, failed.json.error.code]).toEqual([502, 'BackendUnreachable']);
    // Three more gateways and 21 more connections: 4 gateways and 22 connections in all.
    for (let i = 1; i <= 3; i++) expect((await api(devUrl, token3, 'POST', '/v1/gateways', { name: `page-gw-${i}` })).status).toBe(201);
    for (let i = 1; i <= 21; i++) {
      const c = await api(devUrl, token3, 'POST', '/v1/connections', {
        authType: 'AnonymousGateway',
        displayName: `page-conn-${String(i).padStart(2, '0')}`,
        baseResourceUrl: `${echo.url}/${i}`,
        gatewayId: gw.json.id,
      });
      expect(c.status).toBe(201);
    }

    // The third principal's console. Its first request of each list asks for a small page (`top`, as the hub
    // takes it from any client): the hub answers real pages with real nextLinks, which the console follows itself.
    const { page, problems } = await openPage();
    await page.route('**/console/dev-token', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ accessToken: token3, expiresOn: Date.now() + 3_600_000 }) }),
    );
    const top: Record<string, number> = { '/v1/gateways': 1, '/v1/connections': 2 };
    const firstPages: string[] = [];
    const followed: string[] = [];
    await page.route(
      (u) => u.pathname in top && !u.searchParams.has('skipToken'),
      (r) => {
        const u = new URL(r.request().url());
        firstPages.push(u.pathname);
        u.searchParams.set('top', String(top[u.pathname]));
        return r.continue({ url: u.href });
      },
    );
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.searchParams.has('skipToken')) followed.push(u.pathname);
    });
    await page.goto(`${devUrl}/console/`);
    // Gateways one a page: all four are shown, the last one from the fourth page.
    for (const name of ['refusing-gw', 'page-gw-1', 'page-gw-2', 'page-gw-3']) await page.locator(`[data-gateway="${name}"]`).waitFor();
    expect(await page.locator('article.card').count()).toBe(4);
    expect(followed.filter((p) => p === '/v1/gateways').length).toBeGreaterThanOrEqual(3);
    expect(await page.locator('.list-cut').count()).toBe(0);
    // The member's last error: the agent's code, the hub's message, when.
    const row = page.locator('[data-gateway="refusing-gw"] tr[data-member="refusing-agent"]');
    const lastError = row.locator('td.last-error');
    await lastError.getByText('BackendUnreachable').waitFor();
    expect(await lastError.textContent()).toContain(failed.json.error.message);
    expect(await lastError.textContent()).toMatch(/^BackendUnreachable at \S/);
    await expectAccessible(page);

    // Connections two a page: all 22 listed (eleven pages), and all 22 to choose from in "Try a call".
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.locator('tr[data-connection="page-conn-21"]').waitFor();
    expect(await page.locator('tr[data-connection]').count()).toBe(22);
    expect(followed.filter((p) => p === '/v1/connections').length).toBeGreaterThanOrEqual(10);
    await page.getByRole('link', { name: 'Try a call' }).click();
    await expect.poll(() => page.getByLabel('Connection', { exact: true }).locator('option').count()).toBe(22);

    // One a page: 22 pages, over the console's bound of 20. It shows the first 20 and says the list goes on.
    top['/v1/connections'] = 1;
    await page.getByRole('link', { name: 'Connections' }).click();
    await page.reload();
    const cut = page.locator('.list-cut', { hasText: 'connections' }).first();
    await cut.waitFor();
    expect(await cut.textContent()).toBe('Showing the first 20 connections: the console reads at most 20 pages of a list, and there are more.');
    expect(await page.locator('tr[data-connection]').count()).toBe(20);
    expect(await page.locator('tr[data-connection="page-conn-21"]').count()).toBe(0);
    await expectAccessible(page);
    expect(firstPages.length).toBeGreaterThan(0);
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
    // The authorize page is answered here (this browser cannot load the fake's), so the navigation ends on a page
    // before the next one starts; a failed one lands on chrome-error later and interrupts whatever comes next.
    const isAuthorize = (u: string) => u.startsWith(`${entra!.authorityHost}/${TENANT_A}/oauth2/v2.0/authorize?`);
    await page.route(
      (u) => isAuthorize(u.href),
      (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Sign in</title>' }),
    );
    const authorize = page.waitForRequest((r) => isAuthorize(r.url()));
    await page.getByRole('button', { name: 'Sign in' }).click();
    const q = new URL((await authorize).url()).searchParams;
    await page.waitForURL((u) => isAuthorize(u.href));
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
