// GET /openapi.json (SPEC section 10): the callers' API as OpenAPI 3.1, no token needed. Built once, on the first
// request, from the route table (openapi/document.ts); cacheable (an ETag, and 304 for a matching If-None-Match).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HubConfig } from '../config.js';
import { buildOpenApi } from '../openapi/document.js';
import { signInOf } from '../openapi/sign-in.js';
import { route, type Route } from './router.js';
import type { OperationDoc } from './route-doc.js';

/** How long a client or proxy may reuse the document without asking again. */
const MAX_AGE_SEC = 300;

const hubVersion = (): string => (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `routes`: the hub's whole table, this route included (read when the document is first asked for). */
const DOC: OperationDoc = {
  operationId: 'getOpenApi',
  summary: 'This API description (OpenAPI 3.1)',
  description: `No token needed. Cacheable: Cache-Control max-age ${MAX_AGE_SEC} s and an ETag (If-None-Match answers 304).`,
  tag: 'API description',
  public: true,
  ok: { status: 200, description: 'The OpenAPI 3.1 document.', schema: 'OpenApiDocument' },
  errors: [],
};

/** `routes`: the hub's whole table, this route included (read when the document is first asked for). */
export function openApiRoute(routes: () => readonly Route[], config: Readonly<HubConfig>): Route {
  let built: { body: Buffer; etag: string } | undefined;
  return route('GET', '/openapi.json', DOC, async (ctx) => {
    if (!built) {
      const body = Buffer.from(JSON.stringify(buildOpenApi(routes(), { version: hubVersion(), signIn: signInOf(config) })));
      built = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    }
    const headers = { 'cache-control': `public, max-age=${MAX_AGE_SEC}`, etag: built.etag };
    const given = ctx.req.headers['if-none-match'];
    if (given?.split(',').some((t) => t.trim().replace(/^W\//, '') === built!.etag)) {
      ctx.res.writeHead(304, headers).end();
      return;
    }
    ctx.res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': built.body.length }).end(built.body);
  });
}
