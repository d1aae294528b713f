// The browser's sealing module in a real browser (issue 25): Chromium loads packages/shared's built web-seal.js as
// an ES module from a loopback page, nothing bundled or shimmed, seals credentials with its own WebCrypto, and
// the agent's openSecret opens what it made. Proves the module needs nothing Node has and browsers lack.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type { Browser } from 'playwright-core';
import { gatewayKeyInfo, generateGatewayKeyPair, openSecret } from '@gatehouse/shared';
import { CHROMIUM, launchChromium } from '../helpers/browser.js';

const DIST = dirname(createRequire(import.meta.url).resolve('@gatehouse/shared'));
const key = generateGatewayKeyPair();
let server: Server;
let base: string;
let browser: Browser | undefined;

beforeAll(async () => {
  // Only the shared package's dist/*.js, as modules; anything else 404.
  server = createServer((req, res) => {
    const name = /^\/([a-z0-9-]+\.js)$/.exec(req.url ?? '')?.[1];
    if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>seal</title>');
    if (!name || !existsSync(join(DIST, name))) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(DIST, name)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  if (existsSync(CHROMIUM)) browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

describe('web-seal in Chromium', () => {
  it.skipIf(!existsSync(CHROMIUM))('seals in the browser what the agent opens, with the keyId the hub computes', async () => {
    const page = await browser!.newPage();
    const loaded: string[] = [];
    page.on('request', (r) => loaded.push(new URL(r.url()).pathname));
    await page.goto(`${base}/`);
    const credentials = { username: 'CORP\\alice ü 😀', password: 'pässwörd:with "quotes" \u0001' };
    // A string, not a function: vitest would rewrite a function's import() into its own loader.
    const args = JSON.stringify([key.publicKeyPem, 'gw-1', credentials, 'BasicGateway']);
    const out = (await page.evaluate(`import(${JSON.stringify(`${base}/web-seal.js`)}).then((m) => m.sealCredentials(...${args}))`)) as {
      keyId: string;
      sealed: string;
    };
    expect(out.keyId).toBe(gatewayKeyInfo(key.publicKeyPem).keyId);
    expect(openSecret(out.sealed, key.privateKeyPem, 'gw-1')).toEqual(credentials);
    // only the browser-safe modules were fetched: the module graph stays clear of Node
    expect(loaded.filter((p) => p.endsWith('.js')).sort()).toEqual(['/seal-error.js', '/sealed-blob.js', '/web-seal.js', '/windows-user-rule.js']);
    await page.close();
  });
});
