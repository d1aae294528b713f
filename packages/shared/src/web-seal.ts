// Credentials sealed where they are typed (SPEC section 3 ★, issue 25): the blob sealing.ts's sealSecret makes,
// made with WebCrypto only, so the console seals a connection's username and password in the browser and the
// hub never holds them. No node: import and no Buffer (biome.jsonc): browsers and Node scripts import this
// module as `@gatehouse/shared/web-seal`.
import { SealError } from './seal-error.js';
import { CredentialLimits, SEALED_VERSION } from './sealed-blob.js';
import { windowsUserProblem } from './windows-user-rule.js';

export { SealError } from './seal-error.js';
export { CredentialLimits, SEAL_ALGORITHM, maxSealedChars, sealedStructureProblem } from './sealed-blob.js';
export { windowsUserProblem } from './windows-user-rule.js';

export interface PlainCredentials {
  username: string;
  password: string;
}

/** The sealed form of POST/PATCH /v1/connections (`"sealedCredentials": {keyId, sealed}`). */
export interface SealedForm {
  /** Which gateway key sealed it: base64url of the SHA-256 of the key's SPKI DER. */
  keyId: string;
  /** base64 of the blob the agent opens. */
  sealed: string;
}

const PEM = /^-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----\s*$/;

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  // Browsers offer SubtleCrypto only to secure pages (https, or http://localhost).
  if (!s) throw new SealError('WebCrypto is not available here (a page must be served over https or from localhost)');
  return s;
}

/** The DER of a PEM "PUBLIC KEY" (SPKI), as GET /v1/gateways/{id}/public-key gives it. */
function spkiDer(publicKeyPem: string): Uint8Array<ArrayBuffer> {
  const m = PEM.exec(publicKeyPem.trim());
  if (!m) throw new SealError('publicKeyPem is not a PEM public key (-----BEGIN PUBLIC KEY-----)');
  try {
    return fromBase64(m[1]!.replace(/\s+/g, ''));
  } catch {
    throw new SealError('publicKeyPem is not a PEM public key (its body is not base64)');
  }
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  // In slices: String.fromCharCode takes its bytes as arguments, and a call has a limit on those.
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** A key's id: base64url (no padding) of the SHA-256 of its SPKI DER. The hub computes the same. */
export async function keyIdOf(publicKeyPem: string): Promise<string> {
  const digest = await subtle().digest('SHA-256', spkiDer(publicKeyPem));
  return toBase64(new Uint8Array(digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Why these credentials cannot be sealed for a connection, or undefined: the rules the hub applies to the plain
 * form, which it cannot apply to a sealed one (the agent checks them again when it opens the blob). The
 * message names the rule, never the value.
 */
export function credentialsProblem(credentials: PlainCredentials, authType?: 'BasicGateway' | 'WindowsGateway'): string | undefined {
  const { username, password } = credentials;
  if (typeof username !== 'string' || username === '') return 'username is required';
  if (username.length > CredentialLimits.usernameChars) return `username must be at most ${CredentialLimits.usernameChars} characters`;
  if (username.includes(':')) return 'username must not contain ":"';
  if (typeof password !== 'string' || password.length > CredentialLimits.passwordChars)
    return `password is required (a string of at most ${CredentialLimits.passwordChars} characters)`;
  return authType === 'WindowsGateway' ? windowsUserProblem(username) : undefined;
}

/**
 * Seals a connection's username and password to a gateway's public key, as the agent's openSecret opens them:
 * RSA-OAEP-SHA256 wraps a fresh AES-256-GCM key, the gateway id is bound in as additional data.
 * Rejects with a SealError for a key that is not an RSA public key, or credentials the hub would refuse in the
 * plain form (credentialsProblem; pass authType to apply the WindowsGateway user-name rule too).
 */
export async function sealCredentials(
  publicKeyPem: string,
  gatewayId: string,
  credentials: PlainCredentials,
  authType?: 'BasicGateway' | 'WindowsGateway',
): Promise<SealedForm> {
  const problem = credentialsProblem(credentials, authType);
  if (problem) throw new SealError(problem);
  const s = subtle();
  const der = spkiDer(publicKeyPem);
  let rsa: CryptoKey;
  try {
    rsa = await s.importKey('spki', der, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, ['encrypt']);
  } catch {
    throw new SealError('publicKeyPem is not an RSA public key');
  }
  const plain = new TextEncoder().encode(JSON.stringify({ username: credentials.username, password: credentials.password }));
  if (plain.length > CredentialLimits.plaintextBytes) throw new SealError(`the credentials are over ${CredentialLimits.plaintextBytes} bytes`);
  const aes = await s.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt']);
  const raw = new Uint8Array(await s.exportKey('raw', aes));
  const wrapped = new Uint8Array(await s.encrypt({ name: 'RSA-OAEP' }, rsa, raw));
  raw.fill(0);
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12));
  const additionalData = new TextEncoder().encode(`gatehouse-credentials-v1:${gatewayId}`);
  const sealedText = new Uint8Array(await s.encrypt({ name: 'AES-GCM', iv, additionalData, tagLength: 128 }, aes, plain));
  plain.fill(0);
  // WebCrypto appends the 16-byte tag to the ciphertext; the blob carries it before the ciphertext.
  const ctLen = sealedText.length - 16;
  const out = new Uint8Array(3 + wrapped.length + 12 + 16 + ctLen);
  out[0] = SEALED_VERSION;
  out[1] = wrapped.length >> 8;
  out[2] = wrapped.length & 0xff;
  out.set(wrapped, 3);
  out.set(iv, 3 + wrapped.length);
  out.set(sealedText.subarray(ctLen), 3 + wrapped.length + 12);
  out.set(sealedText.subarray(0, ctLen), 3 + wrapped.length + 28);
  return { keyId: await keyIdOf(publicKeyPem), sealed: toBase64(out) };
}
