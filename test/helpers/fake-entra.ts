// A local stand-in for Entra ID that speaks the real protocol: HTTPS with a test CA, OpenID metadata with
// the {tenantid} issuer template, a JWKS, and RS256 tokens shaped like v2 access tokens. The hub's production
// code validates them unchanged.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { tempDir } from './tmp.js';

export interface TestCa { dir: string; caPath: string; key: string; cert: string }

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
export const TENANT_A = 'aaaaaaaa-0000-4000-8000-000000000001';
export const TENANT_B = 'bbbbbbbb-0000-4000-8000-000000000002';
export const USER_1 = '0000aaaa-1111-4111-8111-000000000001';
export const USER_2 = '0000aaaa-1111-4111-8111-000000000002';

export interface FakeEntra {
  authorityHost: string;
  ca: TestCa;
  /** Signs an access token; `claims` override the defaults (tid A, user 1, aud api://client, scp user_impersonation). */
  token(claims?: Record<string, unknown>, opts?: { expSec?: number; key?: 'good' | 'rogue'; header?: Record<string, unknown> }): Promise<string>;
  issuer(tid: string): string;
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeEntra(ca = makeTestCa()): Promise<FakeEntra> {
  const good = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(good.publicKey)), kid, use: 'sig', alg: 'RS256' };
  const requests: string[] = [];
  let base = '';
  const server: Server = createServer({ key: ca.key, cert: ca.cert }, (req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/common/v2.0/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        issuer: `${base}/{tenantid}/v2.0`, jwks_uri: `${base}/common/discovery/v2.0/keys`,
        authorization_endpoint: `${base}/common/oauth2/v2.0/authorize`, token_endpoint: `${base}/common/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ['RS256'],
      }));
    } else if (req.url === '/common/discovery/v2.0/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  const issuer = (tid: string) => `${base}/${tid}/v2.0`;
  return {
    authorityHost: base,
    ca,
    issuer,
    requests,
    async token(claims = {}, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      const body = { aud: `api://${CLIENT_ID}`, iss: issuer(String(claims.tid ?? TENANT_A)), tid: TENANT_A, oid: USER_1, scp: 'user_impersonation', ver: '2.0', iat: now, nbf: now, exp: now + (opts.expSec ?? 3600), ...claims };
      const key: CryptoKey = opts.key === 'rogue' ? rogue.privateKey : good.privateKey;
      return new SignJWT(body).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...opts.header }).sign(key);
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
