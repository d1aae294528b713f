// The web console at /console/ (SPEC section 10): its static files, `/console/config.json` (how the console signs
// in: the hub's Entra app, or the development identity), and in `gatehouse-hub dev` only `/console/dev-token`.
// Every file goes out with a strict Content-Security-Policy, nosniff and no cookie; docs/security.md has the
// console's threat model.
import type { ServerResponse } from 'node:http';
import { GatehouseError } from '@gatehouse/shared';
import type { HubConfig } from '../config.js';
import type { Logger } from '../log.js';
import { builtConsoleDir, loadConsoleFiles, type ConsoleFile } from './console-files.js';
import { sendJson } from './respond.js';
import { internal } from './route-doc.js';
import type { Ctx, Route } from './router.js';

export interface ConsoleOptions {
  config: Readonly<HubConfig>;
  log: Logger;
  /** `gatehouse-hub dev` only: mints a token of the development identity for the console on this machine. */
  devToken?: () => Promise<{ accessToken: string; expiresOn: number }>;
}

/** The console's routes: one pattern for the whole of /console, so they cost the relay routes nothing. */
export function consoleRoutes(o: ConsoleOptions): Route[] {
  const { config } = o;
  const files =
    config.consoleDir === 'none' ? 'the console is turned off (GATEHOUSE_CONSOLE_DIR=none)' : loadConsoleFiles(config.consoleDir ?? builtConsoleDir());
  if (typeof files === 'string') o.log.info({ why: files }, 'no web console at /console/');
  const headers = securityHeaders(o.devToken ? '' : config.authorityHost);
  const settings = Buffer.from(JSON.stringify(consoleSettings(o)));
  const handler = async (ctx: Ctx): Promise<void> => {
    const method = ctx.req.method;
    const path = ctx.req.url!.split('?')[0]!;
    if (path === '/console/dev-token' && o.devToken) {
      if (method !== 'GET') throw new GatehouseError('InvalidRequest', `caller -> hub: method ${method} is not allowed on this route`);
      refuseUnlessLocalConsole(ctx);
      sendJson(ctx.res, 200, await o.devToken(), { 'cache-control': 'no-store', ...headers });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new GatehouseError('InvalidRequest', `caller -> hub: method ${method} is not allowed on the console`);
    if (path === '/console') {
      ctx.res.writeHead(308, { location: '/console/', ...headers }).end();
      return;
    }
    if (path === '/console/config.json') return send(ctx.res, method, { body: settings, type: 'application/json; charset=utf-8', immutable: false }, headers);
    if (typeof files === 'string') throw new GatehouseError('NotFound', `caller -> hub: ${files}`);
    const file = files.get(path);
    if (!file) throw new GatehouseError('NotFound', 'caller -> hub: no such console file');
    send(ctx.res, method, file, headers);
  };
  return [{ method: '*', path: '/console/{path}', pattern: /^\/console(?:\/.*)?$/s, handler, doc: internal('the web console: static files, not the API') }];
}

function send(res: ServerResponse, method: string, file: ConsoleFile, headers: Record<string, string>): void {
  res.writeHead(200, {
    ...headers,
    'content-type': file.type,
    'content-length': file.body.length,
    'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  res.end(method === 'HEAD' ? undefined : file.body);
}

/** What the console needs to sign in. The hub's app is a public SPA registration: nothing here is secret. */
function consoleSettings(o: ConsoleOptions) {
  if (o.devToken) return { mode: 'dev' as const };
  const { config } = o;
  const tenant = config.allowedTenants !== 'common' && config.allowedTenants.length === 1 ? config.allowedTenants[0]! : 'organizations';
  return {
    mode: 'entra' as const,
    clientId: config.clientId,
    authority: `${config.authorityHost}/${tenant}`,
    scopes: [`${config.appIdUri.replace(/\/+$/, '')}/${config.scope}`],
  };
}

/** Script, style, images and fonts only from the hub itself; the browser talks to the hub and to the Entra ID
 *  sign-in host (MSAL's token and metadata requests, its hidden frame for silent renewal; `login`, none in dev),
 *  nothing else. */
export function securityHeaders(login: string): Record<string, string> {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    `connect-src 'self'${login ? ` ${login}` : ''}`,
    `frame-src ${login || "'none'"}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/**
 * The development token goes only to the console on this machine: the connection from loopback, the Host a
 * loopback name (a page on another site whose name was pointed at 127.0.0.1, DNS rebinding, is refused), the
 * console's own header (which a cross-site page cannot send without a preflight the hub never allows) and, when
 * the browser says, a same-origin fetch.
 */
function refuseUnlessLocalConsole(ctx: Ctx): void {
  const refuse = () => new GatehouseError('Forbidden', 'caller -> hub: the development token is given only to the console on this machine');
  const from = ctx.req.socket.remoteAddress ?? '';
  if (!/^(127\.|::1$|::ffff:127\.)/.test(from)) throw refuse();
  const host = (ctx.req.headers.host ?? '').replace(/:\d+$/, '');
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') throw refuse();
  if (ctx.req.headers['x-gatehouse-console'] !== 'dev') throw refuse();
  const site = ctx.req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') throw refuse();
}
