// A small method+path router: routes are data, so the API surface is readable in one place (hub.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessFields, AccessLine, Logger } from '../log.js';
import type { RouteDoc } from './route-doc.js';

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  log: Logger;
  /** Writes the call's access line ("call done"). */
  access(fields: AccessFields): void;
  params: string[];
  /** When the request arrived (performance.now()). */
  started: number;
  /** Set by handlers for metrics: which relay route, which connection type; and who the caller is, once their
   *  token has been checked (the request's log lines and access line then name them). */
  tags: { route?: 'invoke' | 'proxy'; authType?: string; caller?: { tid: string; oid: string } };
}

/**
 * The Ctx a route handler gets. A class, not an object literal with `get log()`: V8 keeps a getter defined in
 * an object literal in an accessor pair it allocates in the old generation, one per object, and that pair,
 * though dead as soon as the call is over, keeps the getter's closure, and with it everything the request
 * touched, alive through every young collection until the next full one (and the object is a dictionary-mode
 * one). The hub promoted about 2.3 MB per young collection, a fifth of what it allocated, and spent 5-7 ms on
 * each instead of under 1; this getter was about 1.4 MB of it (docs/performance.md, session 10). Here the getter
 * is the class's, shared by all requests.
 */
export class RequestCtx implements Ctx {
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly params: string[],
    readonly started: number,
    readonly tags: Ctx['tags'],
    private readonly logger: () => Logger,
    private readonly accessLine: AccessLine,
    /** The address the caller's connection came from (a reverse proxy's, when there is one). */
    private readonly client: string | undefined,
  ) {}

  get log(): Logger {
    return this.logger();
  }

  access(fields: AccessFields): void {
    this.accessLine(this.requestId, this.client, fields);
  }
}

export type Handler = (ctx: Ctx) => Promise<void>;

/** `method` '*': any method (the handler decides). */
export interface Route {
  method: string;
  /** The path template ('/v1/connections/{id}'): what GET /openapi.json and its test list. */
  path: string;
  pattern: RegExp;
  handler: Handler;
  /** How GET /openapi.json describes it, or why it leaves it out (http/route-doc.ts). A caller-facing route without
   *  one fails test/suites/openapi.test.ts. */
  doc?: RouteDoc;
}

/** A '{name}' segment of a path template: one path segment of safe characters. */
export const PARAM_SEGMENT = '[A-Za-z0-9_-]{1,64}';

/** `route(method, path, doc, handler)`: the route with its description (http/route-doc.ts), written where it is. */
export function route(method: string, path: string, handler: Handler): Route;
export function route(method: string, path: string, doc: RouteDoc, handler: Handler): Route;
export function route(method: string, path: string, docOrHandler: RouteDoc | Handler, orHandler?: Handler): Route {
  const pattern = new RegExp(`^${path.replace(/\{[a-zA-Z]+\}/g, `(${PARAM_SEGMENT})`)}$`);
  if (typeof docOrHandler === 'function') return { method, path, pattern, handler: docOrHandler, doc: undefined };
  return { method, path, pattern, handler: orHandler!, doc: docOrHandler };
}

export function match(routes: readonly Route[], method: string, path: string): { route: Route; params: string[] } | 'method' | undefined {
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (r.method === method || r.method === '*') return { route: r, params: m.slice(1) };
  }
  return pathMatched ? 'method' : undefined;
}
