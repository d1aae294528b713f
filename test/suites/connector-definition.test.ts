// `gatehouse-hub connector-definition` (issue 24): the real command (the hub's bin) writes the two files of a Power
// Platform custom connector; the OpenAPI 2.0 one is validated with a maintained parser and holds what Power Platform
// needs (x-ms-summary, x-ms-visibility, a dynamic list of connections), its routes are the hub's own (checked
// against a running hub's GET /openapi.json); apiProperties.json signs in to the configured cloud; bad input,
// files already there and a folder that cannot be written each fail with their documented exit code.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compileErrors, validate } from '@readme/openapi-parser';
import { CLIENT_ID, startFakeEntra } from '../helpers/fake-entra.js';
import { api, startHub } from '../helpers/stack.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const require = createRequire(import.meta.url);
const HUB_BIN = join(dirname(require.resolve('@gatehouse/hub/package.json')), 'bin/gatehouse-hub.js');
const SCOPE = `api://${CLIENT_ID}/user_impersonation`;

// biome-ignore lint/suspicious/noExplicitAny: the written files are read as JSON, field by field
type Json = any;

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [HUB_BIN, 'connector-definition', ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function written(dir: string): { swagger: Json; properties: Json } {
  return {
    swagger: JSON.parse(readFileSync(join(dir, 'apiDefinition.swagger.json'), 'utf8')),
    properties: JSON.parse(readFileSync(join(dir, 'apiProperties.json'), 'utf8')),
  };
}

describe('gatehouse-hub connector-definition', () => {
  it('writes a valid OpenAPI 2.0 definition with the x-ms fields Power Platform needs, and Entra ID sign-in for the hub', async () => {
    const out = join(tempDir('gatehouse-connector-'), 'new', 'folder');
    const r = run(['--hub', 'https://hub.example.com/gatehouse', '--out', out], { GATEHOUSE_CLIENT_ID: CLIENT_ID });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(join(out, 'apiDefinition.swagger.json'));
    const { swagger, properties } = written(out);

    const result = await validate(structuredClone(swagger));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    expect(swagger.swagger).toBe('2.0');
    expect([swagger.host, swagger.basePath, swagger.schemes]).toEqual(['hub.example.com', '/gatehouse', ['https']]);

    const ops = Object.values(swagger.paths as Record<string, Json>).flatMap((item) => Object.values(item as Record<string, Json>));
    expect(ops.map((o) => o.operationId).sort()).toEqual(['InvokeHttp', 'ListConnections']);
    for (const op of ops) {
      expect(op.summary, op.operationId).toBeTruthy();
      expect(['important', 'advanced', 'internal'], op.operationId).toContain(op['x-ms-visibility']);
      for (const p of op.parameters) expect(p['x-ms-summary'], `${op.operationId} ${p.name}`).toBeTruthy();
    }
    const invoke = swagger.paths['/v1/connections/{connectionId}/invoke'].post;
    expect(invoke.summary).toBe('Invoke an HTTP request');
    expect(invoke['x-ms-visibility']).toBe('important');
    // The connection is picked from a list the hub fills: ListConnections, its `value` items by `id`.
    const dyn = invoke.parameters.find((p: Json) => p.name === 'connectionId')['x-ms-dynamic-values'];
    expect(dyn).toEqual({ operationId: 'ListConnections', 'value-collection': 'value', 'value-path': 'id', 'value-title': 'displayName' });
    const list = swagger.definitions.ConnectionList;
    expect(Object.keys(list.properties)).toContain(dyn['value-collection']);
    expect(Object.keys(swagger.definitions.Connection.properties)).toEqual(expect.arrayContaining([dyn['value-path'], dyn['value-title']]));
    for (const name of ['InvokeRequest', 'InvokeResponse', 'Connection']) {
      for (const [prop, s] of Object.entries(swagger.definitions[name].properties as Record<string, Json>)) {
        expect(s['x-ms-summary'], `${name}.${prop}`).toBeTruthy();
      }
    }
    expect(swagger.securityDefinitions['oauth2-auth']).toMatchObject({
      type: 'oauth2',
      flow: 'accessCode',
      authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
      tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    });

    const oauth = properties.properties.connectionParameters.token;
    expect(oauth.type).toBe('oauthSetting');
    expect(oauth.oAuthSettings).toMatchObject({
      identityProvider: 'aad',
      clientId: '00000000-0000-0000-0000-000000000000',
      scopes: [SCOPE],
      properties: { AzureActiveDirectoryResourceId: `api://${CLIENT_ID}` },
      customParameters: {
        loginUri: { value: 'https://login.microsoftonline.com' },
        tenantId: { value: 'common' },
        resourceUri: { value: `api://${CLIENT_ID}` },
      },
    });
    expect(r.stdout).toContain('replace the client id');
    cleanupTempDirs();
  });

  it("the connector's routes are the hub's own: each is in a running hub's GET /openapi.json with its method", async () => {
    const out = tempDir('gatehouse-connector-');
    expect(run(['--hub', 'https://hub.example.com', '--out', out, '--client-id', CLIENT_ID]).code).toBe(0);
    const { swagger } = written(out);
    const entra = await startFakeEntra();
    const hub = await startHub(entra);
    try {
      const described = (await api(hub.url, undefined, 'GET', '/openapi.json')).json;
      const shape = (p: string) => p.replace(/\{[^}]+\}/g, '{}');
      const hubOps = new Set(Object.entries(described.paths as Record<string, Json>).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${shape(p)}`)));
      for (const [p, item] of Object.entries(swagger.paths as Record<string, Json>)) {
        for (const m of Object.keys(item)) expect(hubOps.has(`${m} ${shape(p)}`), `${m} ${p}`).toBe(true);
      }
    } finally {
      await hub.stop();
      await entra.close();
      cleanupTempDirs();
    }
  });

  it('signs in to the configured cloud (GATEHOUSE_CLOUD), or the authority host and tenant given; --connector-client-id fills the client id', () => {
    const china = tempDir('gatehouse-connector-');
    expect(run(['--hub', 'https://hub.example.cn', '--out', china, '--app-id-uri', 'api://gatehouse.contoso.cn'], { GATEHOUSE_CLOUD: 'AzureChina' }).code).toBe(
      0,
    );
    const c = written(china);
    expect(c.properties.properties.connectionParameters.token.oAuthSettings.customParameters.loginUri.value).toBe('https://login.chinacloudapi.cn');
    expect(c.properties.properties.connectionParameters.token.oAuthSettings.scopes).toEqual(['api://gatehouse.contoso.cn/user_impersonation']);
    expect(c.swagger.securityDefinitions['oauth2-auth'].authorizationUrl).toBe('https://login.chinacloudapi.cn/common/oauth2/v2.0/authorize');

    const own = tempDir('gatehouse-connector-');
    const args = ['--hub', 'https://hub.example.com', '--out', own, '--client-id', CLIENT_ID, '--authority-host', 'https://login.example.org/'];
    const r = run([...args, '--tenant', 'contoso.onmicrosoft.com', '--scope', 'Invoke', '--connector-client-id', 'aaaabbbb-0000-4000-8000-000000000001']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('replace the client id');
    const o = written(own).properties.properties.connectionParameters.token.oAuthSettings;
    expect(o.clientId).toBe('aaaabbbb-0000-4000-8000-000000000001');
    expect(o.scopes).toEqual([`api://${CLIENT_ID}/Invoke`]);
    expect(o.customParameters.loginUri.value).toBe('https://login.example.org');
    expect(o.customParameters.tenantId.value).toBe('contoso.onmicrosoft.com');
    cleanupTempDirs();
  });

  it('refuses to overwrite without --force (exit 3, files untouched); --force replaces them', () => {
    const out = tempDir('gatehouse-connector-');
    writeFileSync(join(out, 'apiProperties.json'), 'mine\n');
    const r = run(['--hub', 'https://hub.example.com', '--out', out, '--client-id', CLIENT_ID]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/apiProperties\.json already there: nothing written \(--force replaces\)/);
    expect(readFileSync(join(out, 'apiProperties.json'), 'utf8')).toBe('mine\n');
    expect(existsSync(join(out, 'apiDefinition.swagger.json'))).toBe(false);
    const forced = run(['--hub', 'https://hub.example.com', '--out', out, '--client-id', CLIENT_ID, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(written(out).properties.properties.connectionParameters.token.oAuthSettings.identityProvider).toBe('aad');
    cleanupTempDirs();
  });

  it('bad input exits 2 with a one-line reason; a folder that cannot be written exits 4', () => {
    const out = tempDir('gatehouse-connector-');
    const cases: Array<[string[], RegExp]> = [
      [[], /--hub is required/],
      [['--hub', 'not a url'], /--hub not a url is not a URL/],
      [['--hub', 'http://hub.example.com'], /--hub must be an https URL/],
      [['--hub', 'https://hub.example.com/?q=1'], /must not carry userinfo, a query or a fragment/],
      [['--hub', 'https://hub.example.com', '--cloud', 'Mars'], /cloud/],
      [['--hub', 'https://hub.example.com', '--no-such-flag', 'x'], /no-such-flag/],
    ];
    for (const [args, why] of cases) {
      const r = run([...args, '--out', out, '--client-id', CLIENT_ID]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(why);
    }
    const noAudience = run(['--hub', 'https://hub.example.com', '--out', out]);
    expect([noAudience.code, noAudience.stderr]).toEqual([2, expect.stringMatching(/--app-id-uri or --client-id is required/)]);
    // A file where the folder should be (root may write anywhere, so permissions cannot stand in for this).
    const file = join(out, 'a-file');
    writeFileSync(file, '');
    const r = run(['--hub', 'https://hub.example.com', '--out', join(file, 'sub'), '--client-id', CLIENT_ID]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/cannot write to .*a-file\/sub: part of the path is a file, not a folder \(ENOTDIR\)/);
    expect(statSync(file).size).toBe(0);
    cleanupTempDirs();
    // (nine runs of the command: on a loaded machine each start of Node takes seconds)
  }, 180_000);

  it('--help names the flags and the exit codes', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const s of ['--hub URL', '--out DIR', '--force', '--connector-client-id', 'GATEHOUSE_CLOUD', 'Exit codes: 0 written; 2', '3 a file', '4 the folder'])
      expect(r.stdout).toContain(s);
    const top = spawnSync(process.execPath, [HUB_BIN, '--help'], { encoding: 'utf8' });
    expect(top.stdout).toContain('gatehouse-hub connector-definition --hub');
  });
});
