// GET /openapi.json (issue 24): the callers' API as OpenAPI 3.1. The document and the route table are compared
// both ways (every caller route described, every described route served), the document is validated with a
// maintained OpenAPI parser, every example against its schema (ajv, JSON Schema 2020-12), and real answers of the
// running hub (errors included) against the schemas the document gives them.
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { compileErrors, validate } from '@readme/openapi-parser';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ErrorCodes, isErrorCode } from '@gatehouse/shared';
import { createHub, type Hub } from '../../packages/hub/dist/hub.js';
import { loadConfig } from '../../packages/hub/dist/config.js';
import type { Route } from '../../packages/hub/dist/http/router.js';
import { CLIENT_ID, CLIENT_SECRET, startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { api, startHub, type HubProc } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

// ajv and ajv-formats are CommonJS: their default export is module.exports, or its .default.
type AjvClass = typeof Ajv2020Module.default;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: AjvClass }).default ?? Ajv2020Module) as AjvClass;
type AddFormats = typeof addFormatsModule.default;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as AddFormats;

// biome-ignore lint/suspicious/noExplicitAny: the document is read as JSON, field by field
type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let entra: FakeEntra;
let hub: HubProc;
let inProcess: Hub;
let token: string;
let doc: Json;
let dispatcher: Dispatcher;

/** Every operation of the document: [path, METHOD, operation]. */
function operations(d: Json): Array<[string, string, Json]> {
  return Object.entries(d.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m): [string, string, Json] => [path, m.toUpperCase(), item[m]]),
  );
}

/** A validator of the document's component schemas (their $refs rewritten to $defs, so ajv reads them as one schema). */
function schemaValidator(d: Json) {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const defs = JSON.parse(JSON.stringify(d.components.schemas).replaceAll('#/components/schemas/', 'https://gatehouse.test/openapi#/$defs/'));
  ajv.addSchema({ $id: 'https://gatehouse.test/openapi', $defs: defs });
  return (schema: Json, value: unknown): string | null => {
    const check = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', 'https://gatehouse.test/openapi#/$defs/')));
    return check(value) ? null : ajv.errorsText(check.errors);
  };
}

beforeAll(async () => {
  dispatcher = getGlobalDispatcher();
  entra = await startFakeEntra();
  hub = await startHub(entra);
  token = await entra.token();
  // The route table itself: the same build, created in this process (not listening) to read hub.routes.
  const dir = tempDir('gatehouse-openapi-');
  inProcess = await createHub(
    loadConfig({
      GATEHOUSE_DATABASE: `sqlite:${join(dir, 'hub.db')}`,
      GATEHOUSE_CLIENT_ID: CLIENT_ID,
      GATEHOUSE_CLIENT_SECRET: CLIENT_SECRET,
      GATEHOUSE_AUTHORITY_HOST: entra.authorityHost,
      GATEHOUSE_LOG_LEVEL: 'silent',
    }),
  );
  const r = await api(hub.url, undefined, 'GET', '/openapi.json');
  expect(r.status).toBe(200);
  doc = r.json;
});

// Each test on connections of its own: the tests that validate (seconds of synchronous work) kept the event loop
// from seeing the hub close an idle kept-alive connection (after 5 s), and the next test's first request went out
// on it ("other side closed").
beforeEach(async () => {
  const before = getGlobalDispatcher();
  setGlobalDispatcher(new Agent());
  if (before !== dispatcher) await before.close();
});

afterAll(async () => {
  const ours = getGlobalDispatcher();
  setGlobalDispatcher(dispatcher);
  await ours.close();
  await inProcess?.stop();
  await hub?.stop();
  await entra?.close();
  cleanupTempDirs();
});

describe('GET /openapi.json', () => {
  it('is served without a token, cacheable: an ETag, and 304 for a matching If-None-Match', async () => {
    const r = await api(hub.url, undefined, 'GET', '/openapi.json');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    const etag = r.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    const again = await api(hub.url, undefined, 'GET', '/openapi.json', undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const other = await api(hub.url, undefined, 'GET', '/openapi.json', undefined, { 'if-none-match': '"something-else"' });
    expect(other.status).toBe(200);
  });

  it('describes every caller-facing route of the route table, and only those (compared both ways)', () => {
    const routes: readonly Route[] = inProcess.routes;
    const served = new Set<string>();
    const undescribed: string[] = [];
    for (const r of routes) {
      if (r.doc && 'internal' in r.doc) continue;
      if (!r.doc) {
        undescribed.push(`${r.method} ${r.path}`);
        continue;
      }
      const methods = r.method === '*' ? (r.doc.methods ?? []) : [r.method];
      expect(methods.length, `${r.path} lists no methods`).toBeGreaterThan(0);
      for (const m of methods) served.add(`${m} ${r.path}`);
    }
    expect(undescribed, 'routes without a description (give route() an OperationDoc, or internal(why))').toEqual([]);
    const described = new Set(operations(doc).map(([path, m]) => `${m} ${path}`));
    expect([...served].filter((s) => !described.has(s)).sort(), 'served, not in the document').toEqual([]);
    expect([...described].filter((s) => !served.has(s)).sort(), 'in the document, not served').toEqual([]);
    // The agents' routes, the hubs' relay and the web console's static files are the only ones left out, on purpose.
    const internal = routes.filter((r) => r.doc && 'internal' in r.doc).map((r) => r.path);
    expect(internal.every((p) => p.startsWith('/v1/agent/') || p.startsWith('/internal/') || p.startsWith('/console/'))).toBe(true);
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/v1/agent') || p.startsWith('/internal'))).toBe(false);
  });

  it('every described path and method is served by the running hub (not 404 no such route)', async () => {
    // The check tells an unknown route apart: this one is.
    const unknown = await api(hub.url, token, 'GET', '/v1/no-such-thing');
    expect([unknown.status, unknown.json?.error?.message]).toEqual([404, 'caller -> hub: no such route']);
    for (const [path, method, op] of operations(doc)) {
      const url = path.replaceAll('{path}', 'some/where').replace(/\{[a-zA-Z]+\}/g, '00000000-0000-4000-8000-000000000000');
      const r = await api(hub.url, undefined, method, url);
      const what = `${method} ${path}`;
      if (op.security?.length === 0) expect(r.status, what).toBe(200);
      else {
        // Without a token every other route answers 401: the route exists and asks for one.
        expect(r.status, what).toBe(401);
        if (method !== 'HEAD') expect(r.json.error.code, what).toBe('Unauthorized');
      }
    }
  });

  it('is valid OpenAPI 3.1 (@readme/openapi-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
  });

  it("names the hub's Entra ID sign-in: authorization code against the authority, scope {appIdUri}/{GATEHOUSE_SCOPE}", () => {
    const scheme = doc.components.securitySchemes.entraId;
    expect(scheme.type).toBe('oauth2');
    const code = scheme.flows.authorizationCode;
    expect(code.authorizationUrl).toBe(`${entra.authorityHost}/common/oauth2/v2.0/authorize`);
    expect(code.tokenUrl).toBe(`${entra.authorityHost}/common/oauth2/v2.0/token`);
    expect(Object.keys(code.scopes)).toEqual([`api://${CLIENT_ID}/user_impersonation`]);
    expect(doc.security).toContainEqual({ entraId: [`api://${CLIENT_ID}/user_impersonation`] });
    const open = operations(doc).filter(([, , op]) => op.security?.length === 0);
    expect(open.map(([p, m]) => `${m} ${p}`)).toEqual(['GET /openapi.json']);
  });

  it('every example validates against its schema (ajv, JSON Schema 2020-12)', () => {
    const check = schemaValidator(doc);
    let examples = 0;
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Json>)) {
      expect(schema.examples?.length, `${name} has no example`).toBeGreaterThan(0);
      for (const ex of schema.examples) {
        examples++;
        expect(check(schema, ex), `example of ${name}`).toBeNull();
      }
    }
    for (const [path, method, op] of operations(doc)) {
      for (const [status, res] of Object.entries(op.responses as Record<string, Json>)) {
        for (const [type, media] of Object.entries((res.content ?? {}) as Record<string, Json>)) {
          for (const [name, ex] of Object.entries((media.examples ?? {}) as Record<string, Json>)) {
            examples++;
            expect(check(media.schema, ex.value), `${method} ${path} ${status} ${type} example ${name}`).toBeNull();
          }
        }
      }
    }
    expect(examples).toBeGreaterThan(50);
  });

  it("each documented error is a registry code answered with the registry's status, its example shaped like the hub's real error bodies", async () => {
    const check = schemaValidator(doc);
    const errorBody = { $ref: '#/components/schemas/ErrorBody' };
    // Real error bodies, from the running hub.
    const real = [
      await api(hub.url, undefined, 'GET', '/v1/connections'),
      await api(hub.url, token, 'GET', '/v1/connections/00000000-0000-4000-8000-000000000000'),
      await api(hub.url, token, 'POST', '/v1/gateways', '{not json'),
      await api(hub.url, token, 'GET', '/v1/nothing-here'),
    ];
    expect(real.map((r) => r.status)).toEqual([401, 404, 400, 404]);
    for (const r of real) expect(check(errorBody, r.json), r.text).toBeNull();
    const shape = (body: Json) => [Object.keys(body).sort(), Object.keys(body.error).sort()];
    let documented = 0;
    for (const [path, method, op] of operations(doc)) {
      for (const [status, res] of Object.entries(op.responses as Record<string, Json>)) {
        const media = res.content?.['application/json'];
        if (media?.schema?.$ref !== '#/components/schemas/ErrorBody' || !media.examples) continue;
        for (const [code, ex] of Object.entries(media.examples as Record<string, Json>)) {
          documented++;
          const where = `${method} ${path} ${status} ${code}`;
          expect(isErrorCode(code), where).toBe(true);
          expect(ErrorCodes[code as keyof typeof ErrorCodes].status, where).toBe(Number(status));
          expect(ex.value.error.code, where).toBe(code);
          expect(shape(ex.value), where).toEqual(shape(real[0]!.json));
        }
      }
    }
    expect(documented).toBeGreaterThan(20);
  });

  it('real answers match the schemas the document gives them (gateways, connections, roles, shares, audit)', async () => {
    const check = schemaValidator(doc);
    const ok = (path: string, method: string, status: number) => doc.paths[path][method].responses[String(status)].content['application/json'].schema;
    const created = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'described' });
    expect(created.status).toBe(201);
    expect(check(ok('/v1/gateways', 'post', 201), created.json)).toBeNull();
    const id = created.json.id as string;
    for (const [path, url] of [
      ['/v1/gateways', '/v1/gateways'],
      ['/v1/gateways/{id}', `/v1/gateways/${id}`],
    ] as const) {
      const r = await api(hub.url, token, 'GET', url);
      expect(check(ok(path, 'get', 200), r.json), `${url}: ${r.text}`).toBeNull();
    }
    const conn = await api(hub.url, token, 'POST', '/v1/connections', {
      authType: 'AnonymousGateway',
      gatewayId: id,
      baseResourceUrl: 'http://127.0.0.1:9/api',
    });
    expect(conn.status).toBe(201);
    expect(check(ok('/v1/connections', 'post', 201), conn.json), conn.text).toBeNull();
    const list = await api(hub.url, token, 'GET', '/v1/connections');
    expect(check(ok('/v1/connections', 'get', 200), list.json), list.text).toBeNull();
    const key = await api(hub.url, token, 'POST', `/v1/gateways/${id}/registration-keys`);
    expect(check(ok('/v1/gateways/{id}/registration-keys', 'post', 201), key.json), key.text).toBeNull();
    // Teams and audit (the routes s16-teams and s16-audit added).
    const bob = '0000aaaa-1111-4111-8111-0000000000b0';
    const answers: Array<[string, string, string, unknown?]> = [
      ['put', `/v1/gateways/${id}/roles/${bob}`, '/v1/gateways/{id}/roles/{principalId}', { principalType: 'User', role: 'ConnectionCreator' }],
      ['get', `/v1/gateways/${id}/roles`, '/v1/gateways/{id}/roles'],
      ['put', `/v1/connections/${conn.json.id}/shares/${bob}`, '/v1/connections/{id}/shares/{principalId}', { principalType: 'User' }],
      ['get', `/v1/connections/${conn.json.id}/shares`, '/v1/connections/{id}/shares'],
      ['get', `/v1/gateways/${id}/connections`, '/v1/gateways/{id}/connections'],
      ['get', `/v1/gateways/${id}/audit?top=2`, '/v1/gateways/{id}/audit'],
      ['get', `/v1/connections/${conn.json.id}/audit`, '/v1/connections/{id}/audit'],
    ];
    for (const [method, url, path, body] of answers) {
      const r = await api(hub.url, token, method.toUpperCase(), url, body);
      expect(r.status, `${method} ${url}: ${r.text}`).toBe(200);
      expect(check(ok(path, method, 200), r.json), `${method} ${url}: ${r.text}`).toBeNull();
    }
  });
});
