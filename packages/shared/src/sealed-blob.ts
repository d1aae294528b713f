// The layout of sealed connection credentials, read without opening them (issue 25): what a hub can check of a
// blob a browser sealed, and the limits both forms share. Browser-safe: no node: import, no Buffer.
//
// Layout (sealing.ts and web-seal.ts write it, the agent's openSecret reads it), base64 of
//   [version 1][wrapped-key length u16 BE][RSA-OAEP-SHA256 wrapped AES-256 key][iv 12][GCM tag 16][ciphertext]
// where the plaintext is the UTF-8 JSON {"username", "password"} and the GCM additional data
// `gatehouse-credentials-v1:{gatewayId}`.

export const SEALED_VERSION = 1;
/** What GET /v1/gateways/{id}/public-key names the scheme: RSA-OAEP-SHA256 key wrap + AES-256-GCM content. */
export const SEAL_ALGORITHM = 'RSA-OAEP-256+A256GCM';

/** Limits of a connection's credentials, the plain form's and the sealed form's alike. */
export const CredentialLimits = {
  /** A username's UTF-16 length, as the plain form counts it. */
  usernameChars: 256,
  /** A password's UTF-16 length. */
  passwordChars: 1024,
  /**
   * The sealed JSON's UTF-8 bytes: room for the longest username and password even when every unit is escaped
   * (`\uXXXX`, 6 bytes): 29 + 6 × (256 + 1024) = 7,709 bytes.
   */
  plaintextBytes: 8192,
  /** The shortest plaintext openSecret can accept: `{"username":"","password":""}`. */
  minPlaintextBytes: 29,
} as const;

const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEAD_BYTES = 3;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The most base64 characters a blob sealed to a key of `modulusBytes` may have. */
export function maxSealedChars(modulusBytes: number): number {
  return Math.ceil((HEAD_BYTES + modulusBytes + IV_BYTES + TAG_BYTES + CredentialLimits.plaintextBytes) / 3) * 4;
}

/**
 * Why `sealed` cannot be credentials sealed to a key whose modulus has `modulusBytes` bytes, or undefined. It
 * checks the structure only (base64, version, wrapped-key length, ciphertext length): whether the blob opens is
 * for the agent to find out. The message names the rule, never the blob.
 */
export function sealedStructureProblem(sealed: string, modulusBytes: number): string | undefined {
  if (sealed.length > maxSealedChars(modulusBytes)) return `is over ${maxSealedChars(modulusBytes)} characters`;
  if (sealed.length % 4 !== 0 || !BASE64.test(sealed)) return 'is not base64';
  const bytes = (sealed.length / 4) * 3 - (sealed.endsWith('==') ? 2 : sealed.endsWith('=') ? 1 : 0);
  if (bytes < HEAD_BYTES) return 'is too short';
  const head = atob(sealed.slice(0, 4));
  const version = head.charCodeAt(0);
  if (version !== SEALED_VERSION) return `has version ${version}, not ${SEALED_VERSION}`;
  const wrapped = (head.charCodeAt(1) << 8) | head.charCodeAt(2);
  if (wrapped !== modulusBytes) return `wraps its key in ${wrapped} bytes, but the gateway key's modulus has ${modulusBytes}`;
  const ciphertext = bytes - HEAD_BYTES - wrapped - IV_BYTES - TAG_BYTES;
  if (ciphertext < CredentialLimits.minPlaintextBytes) return 'is too short to hold a username and password';
  return undefined;
}
