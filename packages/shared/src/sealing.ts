// Credentials the cloud cannot read (SPEC section 3 ★). The agent owns the gateway's RSA key pair; the hub
// seals a connection's username and password to the public key (RSA-OAEP-SHA256 wrapping a fresh AES-256-GCM
// key) and keeps only the result. Only an agent of that gateway can open it. The gateway id is bound in as
// additional data, so a sealed blob cannot be replayed against another gateway.
import { Buffer } from 'node:buffer';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  scryptSync,
} from 'node:crypto';
import { SealError } from './seal-error.js';

export { SealError };

const VERSION = 1;

export interface GatewayKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

export function generateGatewayKeyPair(): GatewayKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export interface Secret {
  username: string;
  password: string;
}

const aad = (gatewayId: string) => Buffer.from(`gatehouse-credentials-v1:${gatewayId}`);
const handoffAad = (gatewayId: string) => Buffer.from(`gatehouse-key-handoff-v1:${gatewayId}`);

/** Seals a secret to a gateway public key. Output: base64 of [version][keyLen u16][wrapped key][iv 12][tag 16][ciphertext]. */
export function sealSecret(secret: Secret, publicKeyPem: string, gatewayId: string): string {
  return sealBytes(Buffer.from(JSON.stringify(secret), 'utf8'), publicKeyPem, aad(gatewayId));
}

/** Key rotation: the new private key sealed to the previous public key, so the other members can take it up. */
export function sealHandoff(newPrivateKeyPem: string, previousPublicKeyPem: string, gatewayId: string): string {
  return sealBytes(Buffer.from(newPrivateKeyPem, 'utf8'), previousPublicKeyPem, handoffAad(gatewayId));
}

export function openHandoff(sealed: string, previousPrivateKeyPem: string, gatewayId: string): string {
  try {
    return openBytes(sealed, previousPrivateKeyPem, handoffAad(gatewayId)).toString('utf8');
  } catch {
    throw new SealError("the key handoff cannot be opened with this member's key");
  }
}

/** The public key that belongs to a private key, in the PEM form used on the wire. */
export function publicKeyOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}

/** Whether two PEM public keys are the same key (compared as DER, whatever their line breaks). */
export function samePublicKey(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return false;
  try {
    return createPublicKey(a)
      .export({ type: 'spki', format: 'der' })
      .equals(createPublicKey(b).export({ type: 'spki', format: 'der' }));
  } catch {
    return false;
  }
}

/** The largest gateway key, in bits (sealed blobs and rotation commits are sized by it). */
export const MAX_GATEWAY_KEY_BITS = 4096;

/** A gateway key must be RSA of 2048 to MAX_GATEWAY_KEY_BITS bits with the public exponent 65537 (RSA-OAEP seals
 *  credentials to it, and the hub checks a joining member's signature with it). The tenant chooses this key: a
 *  3072-bit key with a 3071-bit exponent made each of the hub's checks cost 7.9 ms instead of 0.33 (red team,
 *  session 18), on the hub's one event loop. */
export function isGatewayPublicKey(pem: string): boolean {
  try {
    const k = createPublicKey(pem);
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    return k.asymmetricKeyType === 'rsa' && bits >= 2048 && bits <= MAX_GATEWAY_KEY_BITS && k.asymmetricKeyDetails?.publicExponent === 65537n;
  } catch {
    return false;
  }
}

function sealBytes(plain: Buffer, publicKeyPem: string, additional: Buffer): string {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(additional);
  const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
  const wrapped = publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, key);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrapped.length);
  return Buffer.concat([Buffer.from([VERSION]), len, wrapped, iv, cipher.getAuthTag(), ct]).toString('base64');
}

function openBytes(sealed: string, privateKeyPem: string, additional: Buffer): Buffer {
  const buf = Buffer.from(sealed, 'base64');
  if (buf[0] !== VERSION) throw new SealError(`unknown sealed-credential version ${buf[0]}`);
  const klen = buf.readUInt16BE(1);
  let off = 3;
  const wrapped = buf.subarray(off, (off += klen));
  const iv = buf.subarray(off, (off += 12));
  const tag = buf.subarray(off, (off += 16));
  const ct = buf.subarray(off);
  const key = privateDecrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, wrapped);
  const d = createDecipheriv('aes-256-gcm', key, iv);
  d.setAAD(additional);
  d.setAuthTag(tag);
  return Buffer.concat([d.update(ct), d.final()]);
}

export function openSecret(sealed: string, privateKeyPem: string, gatewayId: string): Secret {
  try {
    const obj = JSON.parse(openBytes(sealed, privateKeyPem, aad(gatewayId)).toString('utf8')) as Secret;
    if (typeof obj.username !== 'string' || typeof obj.password !== 'string') throw new SealError('sealed credentials have the wrong shape');
    return obj;
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw new SealError('sealed credentials cannot be opened with this gateway key');
  }
}

/** Seals the gateway private key under a recovery key (scrypt + AES-256-GCM) for upload: the hub cannot open it. */
export function sealWithRecoveryKey(plain: string, recoveryKey: string): string {
  const salt = randomBytes(16);
  const key = scryptSync(recoveryKey, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return Buffer.concat([Buffer.from([VERSION]), salt, iv, c.getAuthTag(), ct]).toString('base64');
}

export function openWithRecoveryKey(sealed: string, recoveryKey: string): string {
  try {
    const buf = Buffer.from(sealed, 'base64');
    if (buf[0] !== VERSION) throw new Error('version');
    const salt = buf.subarray(1, 17);
    const iv = buf.subarray(17, 29);
    const tag = buf.subarray(29, 45);
    const key = scryptSync(recoveryKey, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(buf.subarray(45)), d.final()]).toString('utf8');
  } catch {
    throw new SealError('the recovery key does not open this gateway key');
  }
}

export interface GatewayKeyInfo {
  /** base64url (no padding) of the SHA-256 of the key's SPKI DER: what web-seal.ts's keyIdOf computes. */
  keyId: string;
  /** The key as SPKI PEM, the form keyId is computed from. */
  publicKeyPem: string;
  /** Bytes of the RSA modulus: the length of a key wrapped with it. */
  modulusBytes: number;
}

/** What a gateway's public key is called and how long a key wrapped to it is (GET /v1/gateways/{id}/public-key). */
export function gatewayKeyInfo(pem: string): GatewayKeyInfo {
  const k = createPublicKey(pem);
  const der = k.export({ type: 'spki', format: 'der' });
  return {
    keyId: createHash('sha256').update(der).digest('base64url'),
    publicKeyPem: k.export({ type: 'spki', format: 'pem' }).toString(),
    modulusBytes: Math.ceil((k.asymmetricKeyDetails?.modulusLength ?? 0) / 8),
  };
}
