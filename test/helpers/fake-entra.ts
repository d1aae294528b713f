// A local stand-in for Entra ID that speaks the real protocol: HTTPS with a test CA; v1 and v2 OpenID metadata
// with the {tenantid} issuer template; JWKS with key rotation; RS256 tokens shaped like Entra's; a token
// endpoint for On-Behalf-Of (with switchable AADSTS errors) and client credentials, authenticated by secret
// or certificate. The hub's production code, msal-node included, runs against it unchanged.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { tempDir } from './tmp.js';

export interface TestCa {
  dir: string;
  caPath: string;
  key: string;
  cert: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
export function makeTestCa(): TestCa {
  const dir = tempDir('gatehouse-ca-');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=gatehouse-test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n');
  run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { dir, caPath: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'srv.key'), 'utf8'), cert: readFileSync(join(dir, 'srv.pem'), 'utf8') };
}

export const CLIENT_ID = '11111111-2222-4333-8444-555555555555';
export const CLIENT_SECRET = 'hub-client-secret-for-tests';
export const TENANT_A = 'aaaaaaaa-0000-4000-8000-000000000001';
export const TENANT_B = 'bbbbbbbb-0000-4000-8000-000000000002';
export const USER_1 = '0000aaaa-1111-4111-8111-000000000001';
export const USER_2 = '0000aaaa-1111-4111-8111-000000000002';
export const ADMIN = '0000aaaa-1111-4111-8111-0000000000ad';
export const USER_3 = '0000aaaa-1111-4111-8111-000000000003';
/** Groups and apps (service principals) of tenant A, for roles and shares. */
export const GROUP_1 = '0000bbbb-2222-4222-8222-000000000001';
export const GROUP_2 = '0000bbbb-2222-4222-8222-000000000002';
export const APP_1 = '0000cccc-3333-4333-8333-000000000001';
export const APP_2 = '0000cccc-3333-4333-8333-000000000002';
/** The app role that admits app-only callers by default (GATEHOUSE_APP_ROLE). */
export const APP_ROLE = 'Gatehouse.Invoke';

/** How the token endpoint answers an On-Behalf-Of request for a resource. */
export type OboBehaviour = 'ok' | 'consent' | 'mfa' | 'assertion-expired' | { aadsts: number; error: string; status: number };

export interface TokenRequest {
  grant: string;
  resource: string;
  tid: string;
  oid: string | undefined;
  clientAuth: 'secret' | 'certificate' | 'none';
}

export interface FakeEntra {
  authorityHost: string;
  ca: TestCa;
  /** Signs an access token for the hub; `claims` override the defaults (tid A, user 1, aud api://client, scp user_impersonation, v2). */
  token(
    claims?: Record<string, unknown>,
    opts?: { expSec?: number; key?: 'good' | 'rogue'; header?: Record<string, unknown>; version?: '1.0' | '2.0' },
  ): Promise<string>;
  /** A delegated token of `oid` (tenant A unless `claims.tid`) that lists `groups`, or signals groups overage. */
  userToken(oid: string, opts?: { groups?: string[]; overage?: boolean; claims?: Record<string, unknown> }): Promise<string>;
  /** An app-only token (client credentials) of the service principal `oid`, as Entra ID signs one: no `scp`,
   *  `idtyp: app`, `roles` (default [APP_ROLE]) and the app's client id in `azp`. */
  appToken(oid: string, opts?: { roles?: string[]; claims?: Record<string, unknown> }): Promise<string>;
  issuer(tid: string, version?: '1.0' | '2.0'): string;
  /** Every path requested, in order. */
  requests: string[];
  /** Token endpoint requests, in order. */
  tokenRequests: TokenRequest[];
  /** Adds a signing key and signs new tokens with it (the old key stays published unless `dropOld`). */
  rotate(dropOld?: boolean): Promise<void>;
  obo: Map<string, OboBehaviour>;
  /** Lifetime of OBO tokens in seconds (default 3600). */
  oboLifetimeSec: number;
  /** Certificate credentials accepted for a client id: the certificate's public key. */
  clientCertificates: Map<string, string>;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(): Promise<SigningKey> {
  const pair = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey: pair.privateKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, use: 'sig', kty: 'RSA' } };
}

function readBody(req: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (c: Buffer) => {
      b += c.toString();
    });
    req.on('end', () => resolve(b));
  });
}

export async function startFakeEntra(ca = makeTestCa()): Promise<FakeEntra> {
  let keys: SigningKey[] = [await newKey()];
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const requests: string[] = [];
  const tokenRequests: TokenRequest[] = [];
  const obo = new Map<string, OboBehaviour>();
  const clientCertificates = new Map<string, string>();
  const state = { oboLifetimeSec: 3600 };
  let base = '';
  const issuer = (tid: string, version: '1.0' | '2.0' = '2.0') => (version === '1.0' ? `https://sts.windows.net/${tid}/` : `${base}/${tid}/v2.0`);
  const current = () => keys[keys.length - 1]!;
  const sign = (claims: Record<string, unknown>, key = current()) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const aadError = (
    res: import('node:http').ServerResponse,
    status: number,
    error: string,
    code: number,
    description: string,
    extra: Record<string, unknown> = {},
  ) => {
    const trace = randomUUID();
    json(res, status, {
      error,
      error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${trace}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: trace,
      correlation_id: randomUUID(),
      ...extra,
    });
  };

  async function tokenEndpoint(tid: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    const grant = form.get('grant_type') ?? '';
    const scope = (form.get('scope') ?? '').split(' ').find((s) => s.endsWith('/.default')) ?? '';
    const resource = scope.replace(/\/\.default$/, '');
    const clientId = form.get('client_id') ?? '';
    let clientAuth: TokenRequest['clientAuth'] = 'none';
    if (form.get('client_secret') !== null) {
      if (clientId !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET)
        return aadError(res, 401, 'invalid_client', 7000215, 'Invalid client secret provided.');
      clientAuth = 'secret';
    } else if (form.get('client_assertion') !== null) {
      const pem = clientCertificates.get(clientId);
      try {
        if (!pem) throw new Error('no cert');
        const { importSPKI, jwtVerify, decodeProtectedHeader } = await import('jose');
        const { createPublicKey } = await import('node:crypto');
        const spki = createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
        const alg = String(decodeProtectedHeader(form.get('client_assertion')!).alg); // msal-node signs with PS256
        await jwtVerify(form.get('client_assertion')!, await importSPKI(spki, alg), {
          audience: `${base}/${tid}/oauth2/v2.0/token`,
          issuer: clientId,
          subject: clientId,
          clockTolerance: 300,
        });
      } catch {
        return aadError(res, 401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
      }
      clientAuth = 'certificate';
    }
    const now = Math.floor(Date.now() / 1000);
    if (grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && form.get('requested_token_use') === 'on_behalf_of') {
      let assertion: Record<string, unknown>;
      try {
        const { jwtVerify, createLocalJWKSet } = await import('jose');
        ({ payload: assertion } = (await jwtVerify(form.get('assertion') ?? '', createLocalJWKSet({ keys: keys.map((k) => k.jwk) }), {
          audience: [CLIENT_ID, `api://${CLIENT_ID}`],
        })) as { payload: Record<string, unknown> });
      } catch {
        return aadError(res, 400, 'invalid_grant', 50013, 'Assertion failed signature validation or has the wrong audience.');
      }
      tokenRequests.push({ grant: 'obo', resource, tid, oid: String(assertion.oid), clientAuth });
      if (clientAuth === 'none') return aadError(res, 401, 'invalid_client', 7000218, 'The request body must contain client_assertion or client_secret.');
      const b = obo.get(resource) ?? 'ok';
      if (b === 'consent')
        return aadError(
          res,
          400,
          'invalid_grant',
          65001,
          `The user or administrator has not consented to use the application with ID '${clientId}'. Send an interactive authorization request for this user and resource.`,
          { suberror: 'consent_required' },
        );
      if (b === 'mfa')
        return aadError(
          res,
          400,
          'interaction_required',
          50076,
          'Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access this resource.',
          { claims: '{"access_token":{"capolids":{"essential":true,"values":["cap-1"]}}}', suberror: 'basic_action' },
        );
      if (b === 'assertion-expired') return aadError(res, 400, 'invalid_grant', 500133, 'Assertion is not within its valid time range.');
      if (typeof b === 'object') return aadError(res, b.status, b.error, b.aadsts, 'Synthetic error.');
      const access = await sign({
        aud: resource,
        iss: issuer(tid),
        tid,
        oid: assertion.oid,
        scp: 'Data.Read',
        azp: clientId,
        ver: '2.0',
        iat: now,
        nbf: now,
        exp: now + state.oboLifetimeSec,
      });
      return json(res, 200, {
        token_type: 'Bearer',
        scope: `${resource}/Data.Read`,
        expires_in: state.oboLifetimeSec,
        ext_expires_in: state.oboLifetimeSec,
        access_token: access,
        client_info: Buffer.from(JSON.stringify({ uid: assertion.oid, utid: tid })).toString('base64url'),
      });
    }
    if (grant === 'device_code' || grant === 'urn:ietf:params:oauth:grant-type:device_code') {
      // The administrator "signs in" at once: the first poll succeeds.
      const scopes = (form.get('scope') ?? '').split(' ').filter((x) => x.includes('/'));
      const audience = scopes[0]!.slice(0, scopes[0]!.lastIndexOf('/'));
      tokenRequests.push({ grant: 'device_code', resource: audience, tid, oid: ADMIN, clientAuth });
      const access = await sign({
        aud: audience,
        iss: issuer(tid),
        tid,
        oid: ADMIN,
        scp: scopes.map((x) => x.slice(audience.length + 1)).join(' '),
        azp: clientId,
        ver: '2.0',
        iat: now,
        nbf: now,
        exp: now + 3600,
      });
      const idToken = await sign({
        aud: clientId,
        iss: issuer(tid),
        tid,
        oid: ADMIN,
        preferred_username: 'admin@contoso.example',
        name: 'Admin',
        ver: '2.0',
        iat: now,
        nbf: now,
        exp: now + 3600,
      });
      return json(res, 200, {
        token_type: 'Bearer',
        scope: scopes.join(' '),
        expires_in: 3600,
        ext_expires_in: 3600,
        access_token: access,
        id_token: idToken,
        client_info: Buffer.from(JSON.stringify({ uid: ADMIN, utid: tid })).toString('base64url'),
      });
    }
    if (grant === 'client_credentials') {
      tokenRequests.push({ grant: 'client_credentials', resource, tid, oid: undefined, clientAuth });
      const access = await sign({
        aud: resource,
        iss: issuer(tid),
        tid,
        oid: randomUUID(),
        roles: ['Access.All'],
        idtyp: 'app',
        azp: clientId,
        ver: '2.0',
        iat: now,
        nbf: now,
        exp: now + 3600,
      });
      return json(res, 200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: access });
    }
    return aadError(res, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`);
  }

  const server: Server = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    requests.push(path);
    let m: RegExpExecArray | null;
    if (path === '/common/v2.0/.well-known/openid-configuration') {
      json(res, 200, {
        issuer: `${base}/{tenantid}/v2.0`,
        jwks_uri: `${base}/common/discovery/v2.0/keys`,
        authorization_endpoint: `${base}/common/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/common/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    } else if (path === '/common/.well-known/openid-configuration') {
      json(res, 200, {
        issuer: 'https://sts.windows.net/{tenantid}/',
        jwks_uri: `${base}/common/discovery/keys`,
        authorization_endpoint: `${base}/common/oauth2/authorize`,
        token_endpoint: `${base}/common/oauth2/token`,
      });
    } else if (path === '/common/discovery/v2.0/keys') {
      json(res, 200, { keys: keys.map((k) => ({ ...k.jwk, issuer: `${base}/{tenantid}/v2.0` })) });
    } else if (path === '/common/discovery/keys') {
      json(res, 200, { keys: keys.map((k) => k.jwk) });
    } else if ((m = /^\/([0-9a-f-]{36})\/v2\.0\/\.well-known\/openid-configuration$/.exec(path))) {
      const tid = m[1]!;
      json(res, 200, {
        issuer: issuer(tid),
        jwks_uri: `${base}/common/discovery/v2.0/keys`,
        authorization_endpoint: `${base}/${tid}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/${tid}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${base}/${tid}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/${tid}/oauth2/v2.0/logout`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    } else if ((m = /^\/([0-9a-f-]{36})\/oauth2\/v2\.0\/devicecode$/.exec(path)) && req.method === 'POST') {
      void readBody(req).then(() =>
        json(res, 200, {
          device_code: randomUUID(),
          user_code: 'FAKE-CODE',
          verification_uri: `${base}/devicelogin`,
          expires_in: 900,
          interval: 1,
          message: `To sign in, open ${base}/devicelogin and enter the code FAKE-CODE.`,
        }),
      );
    } else if ((m = /^\/([0-9a-f-]{36})\/oauth2\/v2\.0\/token$/.exec(path)) && req.method === 'POST') {
      void tokenEndpoint(m[1]!, req, res).catch(() => {
        res.writeHead(500).end();
      });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  const fake: FakeEntra = {
    authorityHost: base,
    ca,
    issuer,
    requests,
    tokenRequests,
    obo,
    clientCertificates,
    get oboLifetimeSec() {
      return state.oboLifetimeSec;
    },
    set oboLifetimeSec(v: number) {
      state.oboLifetimeSec = v;
    },
    async rotate(dropOld = false) {
      const k = await newKey();
      keys = dropOld ? [k] : [...keys, k];
    },
    userToken(oid, o = {}) {
      const overage = o.overage
        ? { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } }
        : {};
      return fake.token({ oid, ...(o.groups ? { groups: o.groups } : {}), ...overage, ...o.claims });
    },
    appToken(oid, o = {}) {
      return fake.token({ oid, scp: undefined, idtyp: 'app', roles: o.roles ?? [APP_ROLE], azp: randomUUID(), azpacr: '1', ...o.claims });
    },
    async token(claims = {}, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const version = opts.version ?? '2.0';
      const tid = String(claims.tid ?? TENANT_A);
      const body = {
        aud: version === '1.0' ? CLIENT_ID : `api://${CLIENT_ID}`,
        iss: issuer(tid, version),
        tid: TENANT_A,
        oid: USER_1,
        scp: 'user_impersonation',
        ver: version,
        iat: now,
        nbf: now,
        exp: now + (opts.expSec ?? 3600),
        ...claims,
      };
      const header = { alg: 'RS256', kid: current().kid, typ: 'JWT', ...opts.header };
      if (opts.key === 'rogue') return new SignJWT(body).setProtectedHeader(header).sign(rogue.privateKey);
      return new SignJWT(body).setProtectedHeader(header).sign(current().privateKey);
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return fake;
}
