// GET /openapi.json: the OpenAPI 3.1 document of the callers' API, built from the route table. Each route carries
// its own description (http/route-doc.ts), so a route is described where it is written; routes marked internal
// (the agents', the hubs' relay) are left out. Schemas are openapi/schemas.ts, error examples the registry's codes.
import { ErrorCodes, type ErrorCode } from '@gatehouse/shared';
import type { Route } from '../http/router.js';
import { isInternal, type OperationDoc } from '../http/route-doc.js';
import { ERROR_EXAMPLES } from './error-examples.js';
import { SCHEMAS } from './schemas.js';
import { appScope, authorizationUrl, delegatedScope, tokenUrl, type SignIn } from './sign-in.js';

type Json = Record<string, unknown>;

/** Methods whose request may carry a body (the raw route describes one for these). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const TAGS = [
  { name: 'Connections', description: 'Connections: where calls go and how they authenticate (SPEC section 3).' },
  { name: 'Relay', description: 'Invoke an HTTP request through a connection, as JSON or as plain HTTP (SPEC section 4).' },
  { name: 'Gateways', description: 'Gateways, their members (agents) and registration keys (SPEC section 6).' },
  { name: 'API description', description: 'This document.' },
];

const header = (description: string, schema: Json = { type: 'string' }): Json => ({ description, schema });
const HEADERS = {
  RequestId: header("The call's request id (the caller's own x-request-id or x-ms-client-request-id when sane): it names the call in every log."),
  GatehouseError: header("The error code of a hub-side failure (how the raw route tells its own failures from the service's answers)."),
  WwwAuthenticate: header('Bearer, with error="invalid_token" when a token was given.'),
  RateLimitLimit: header('Calls the connection may make per period (GATEHOUSE_THROTTLE).', { type: 'integer' }),
  RateLimitRemaining: header('Calls left in this period.', { type: 'integer' }),
  RateLimitReset: header('Seconds until the period ends.', { type: 'integer' }),
  RetryAfter: header('Seconds to wait before trying again.', { type: 'integer' }),
};
const headerRef = (name: keyof typeof HEADERS): Json => ({ $ref: `#/components/headers/${name}` });
const schemaRef = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const RATE_HEADERS = {
  'RateLimit-Limit': headerRef('RateLimitLimit'),
  'RateLimit-Remaining': headerRef('RateLimitRemaining'),
  'RateLimit-Reset': headerRef('RateLimitReset'),
};

function parameters(path: string, doc: OperationDoc): Json[] {
  const query = Object.entries(doc.query ?? {}).map(([name, q]) => ({ name, in: 'query', required: false, description: q.description, schema: q.schema }));
  return [...pathParameters(path, doc), ...query];
}

function pathParameters(path: string, doc: OperationDoc): Json[] {
  return [...path.matchAll(/\{([a-zA-Z]+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: doc.params?.[name!] ?? name,
    // The raw route's {path} is the rest of the URL (slashes and query included); other parameters are one segment.
    schema: name === 'path' ? { type: 'string' } : { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
  }));
}

/** The error answers of a route, one per status, each code of that status an example. */
function errorResponses(doc: OperationDoc): Record<string, Json> {
  const codes = new Set<ErrorCode>(doc.errors);
  if (!doc.public) codes.add('Unauthorized');
  // Throttled calls; and every other route with a token has the management API rate (http/api-rate.ts).
  if (doc.throttled || !doc.public) codes.add('TooManyRequests');
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ErrorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const headers: Json = { 'x-request-id': headerRef('RequestId'), 'x-gatehouse-error': headerRef('GatehouseError') };
    if (list.includes('Unauthorized')) headers['WWW-Authenticate'] = headerRef('WwwAuthenticate');
    if (list.includes('TooManyRequests')) headers['Retry-After'] = headerRef('RetryAfter');
    out[String(status)] = {
      description: list.join(' or '),
      headers,
      content: {
        'application/json': {
          schema: schemaRef('ErrorBody'),
          examples: Object.fromEntries(
            list.map((code) => [
              code,
              {
                summary: ErrorCodes[code].meaning.split(/(?<=\.) /)[0],
                value: { error: { code, message: ERROR_EXAMPLES[code], requestId: '3f1d2c4b-8a7e-4f60-b1c2-d3e4f5a6b7c8' } },
              },
            ]),
          ),
        },
      },
    };
  }
  return out;
}

function operation(path: string, method: string, doc: OperationDoc, many: boolean): Json {
  const okHeaders: Json = { 'x-request-id': headerRef('RequestId'), ...(doc.throttled ? RATE_HEADERS : {}) };
  const ok: Json = { description: doc.ok.description, headers: okHeaders };
  if (doc.ok.schema) ok.content = { 'application/json': { schema: schemaRef(doc.ok.schema) } };
  else if (many && method !== 'HEAD') ok.content = { '*/*': { schema: {} } };
  const op: Json = {
    operationId: many ? `${doc.operationId}${method[0]}${method.slice(1).toLowerCase()}` : doc.operationId,
    summary: doc.summary,
    tags: [doc.tag],
    parameters: parameters(path, doc),
    responses: {
      [String(doc.ok.status)]: ok,
      ...errorResponses(doc),
      default: { description: 'Any other hub-side failure (docs/errors.md).', content: { 'application/json': { schema: schemaRef('ErrorBody') } } },
    },
  };
  if (doc.description) op.description = doc.description;
  if (doc.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaRef(doc.body) } } };
  else if (many && BODY_METHODS.has(method)) op.requestBody = { required: false, content: { '*/*': { schema: {} } } };
  if (doc.public) op.security = [];
  return op;
}

export interface DocumentOptions {
  version: string;
  signIn: SignIn;
}

export function buildOpenApi(routes: readonly Route[], o: DocumentOptions): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    if (!r.doc || isInternal(r.doc)) continue;
    const doc = r.doc;
    const many = r.method === '*';
    const methods = many ? (doc.methods ?? []) : [r.method];
    for (const m of methods) (paths[r.path] ??= {})[m.toLowerCase()] = operation(r.path, m, doc, many);
  }
  const s = o.signIn;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse hub API',
      version: o.version,
      description:
        'Invoke HTTP requests on services protected by Microsoft Entra ID and on intranet services behind a gateway agent. ' +
        "Every route but this document needs an Entra ID access token for the hub: a signed-in user's with the delegated " +
        `scope ${delegatedScope(s)}, or an app's (a managed identity, a service principal) holding the hub's app role. ` +
        'Errors: docs/errors.md.',
    },
    servers: [{ url: '/' }],
    tags: TAGS,
    security: [{ entraId: [delegatedScope(s)] }, { entraId: [appScope(s)] }],
    paths,
    components: {
      schemas: SCHEMAS,
      headers: HEADERS,
      securitySchemes: {
        entraId: {
          type: 'oauth2',
          description:
            `Microsoft Entra ID (${s.authorityHost}); the token's audience is ${s.appIdUri} or the hub's client id. ` +
            "Apps (client credentials) ask their own tenant's token endpoint: its id in place of common.",
          flows: {
            authorizationCode: {
              authorizationUrl: authorizationUrl(s),
              tokenUrl: tokenUrl(s),
              scopes: { [delegatedScope(s)]: 'Call the hub as the signed-in user' },
            },
            clientCredentials: { tokenUrl: tokenUrl(s), scopes: { [appScope(s)]: "Call the hub as an app holding the hub's app role" } },
          },
        },
      },
    },
  };
}
