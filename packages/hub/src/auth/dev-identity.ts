// The development identity behind `gatehouse-hub dev` and `gatehouse-hub token`: a local RS256 key that signs
// tokens shaped like Entra ID's. Only the dev command wires it in, and only on a loopback address; `serve`
// has no way to enable it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import type { KeySource, SigningKey } from './key-source.js';

export const DEV_CLIENT_ID = '00000000-0000-4000-8000-000000000001';
export const DEV_TENANT = '00000000-0000-4000-8000-0000000000aa';
export const DEV_USER = '00000000-0000-4000-8000-0000000000bb';
export const DEV_ISSUER_TEMPLATE = 'https://gatehouse-dev.invalid/{tenantid}/v2.0';

interface DevKeyFile {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function loadOrCreateDevKey(dir: string): Promise<DevKeyFile> {
  const file = join(dir, 'dev-identity.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevKeyFile;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const key: DevKeyFile = {
    kid,
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

export function devKeySource(key: DevKeyFile): KeySource {
  let signing: Promise<SigningKey> | undefined;
  return {
    key: async (_v, kid) => (kid === key.kid ? (signing ??= importJWK(key.publicJwk, 'RS256').then((k) => ({ key: k, issuer: undefined }))) : undefined),
    issuerFor: async (_v, tid) => DEV_ISSUER_TEMPLATE.replace('{tenantid}', tid),
  };
}

export async function mintDevToken(key: DevKeyFile, opts: { oid?: string; ttlSec?: number } = {}): Promise<string> {
  const pk = await importJWK(key.privateJwk, 'RS256');
  return new SignJWT({ tid: DEV_TENANT, oid: opts.oid ?? DEV_USER, scp: 'user_impersonation', name: 'Gatehouse Developer', ver: '2.0' })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER_TEMPLATE.replace('{tenantid}', DEV_TENANT))
    .setAudience(`api://${DEV_CLIENT_ID}`)
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime(`${opts.ttlSec ?? 3600}s`)
    .sign(pk);
}
