// The browser's sealing module (issue 25): packages/shared/src/web-seal.ts makes, with WebCrypto alone, the very
// blob the agent's openSecret opens, bound to one gateway id and one key.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { gatewayKeyInfo, generateGatewayKeyPair, openSecret, sealedStructureProblem } from '@gatehouse/shared';
import { CredentialLimits, SealError, keyIdOf, sealCredentials } from '@gatehouse/shared/web-seal';

const mine = generateGatewayKeyPair();
const other = generateGatewayKeyPair();
const MODULUS_BYTES = gatewayKeyInfo(mine.publicKeyPem).modulusBytes;

// Every UTF-16 unit, lone surrogates included (JSON escapes them), and whole code points beyond the BMP.
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);
const username = fc.string({ unit, minLength: 1, maxLength: 128 }).filter((u) => !u.includes(':'));
const password = fc.string({ unit, maxLength: 512 });
const gatewayId = fc.oneof(fc.uuid(), fc.string({ unit, minLength: 1, maxLength: 64 }));

describe('web-seal: the browser-safe sealing module', () => {
  it('a blob sealed by the web module opens with the Node openSecret and the gateway key, and with no other gateway id or key', async () => {
    await fc.assert(
      fc.asyncProperty(username, password, gatewayId, gatewayId, async (u, p, g, g2) => {
        const { keyId, sealed } = await sealCredentials(mine.publicKeyPem, g, { username: u, password: p });
        expect(keyId).toBe(gatewayKeyInfo(mine.publicKeyPem).keyId);
        expect(sealedStructureProblem(sealed, MODULUS_BYTES)).toBeUndefined();
        expect(openSecret(sealed, mine.privateKeyPem, g)).toEqual({ username: u, password: p });
        if (g2 !== g) expect(() => openSecret(sealed, mine.privateKeyPem, g2)).toThrow(SealError);
        expect(() => openSecret(sealed, other.privateKeyPem, g)).toThrow(SealError);
      }),
      { numRuns: 60 },
    );
  });

  it('its keyId is the one the hub computes (base64url SHA-256 of the SPKI DER), whatever the PEM line breaks', async () => {
    const pem = mine.publicKeyPem;
    const oneLine = pem.replace(/\n(?!-----END)/g, '').replace('-----BEGIN PUBLIC KEY-----', '-----BEGIN PUBLIC KEY-----\n');
    expect(await keyIdOf(pem)).toBe(gatewayKeyInfo(pem).keyId);
    expect(await keyIdOf(oneLine)).toBe(gatewayKeyInfo(pem).keyId);
    expect(await keyIdOf(other.publicKeyPem)).not.toBe(gatewayKeyInfo(pem).keyId);
  });

  it('refuses, with a SealError naming the rule, what the hub refuses in the plain form, and a key that is not one', async () => {
    const seal = (u: string, p: string, authType?: 'BasicGateway' | 'WindowsGateway', pem = mine.publicKeyPem) =>
      sealCredentials(pem, 'g', { username: u, password: p }, authType);
    await expect(seal('', 'pw')).rejects.toThrow(/username is required/);
    await expect(seal('a:b', 'pw')).rejects.toThrow(/must not contain ":"/);
    await expect(seal('u'.repeat(CredentialLimits.usernameChars + 1), 'pw')).rejects.toThrow(/at most 256/);
    await expect(seal('u', 'p'.repeat(CredentialLimits.passwordChars + 1))).rejects.toThrow(/at most 1024/);
    await expect(seal('-kt', 'pw', 'WindowsGateway')).rejects.toThrow(/must not start with "-"/);
    await expect(seal('-kt', 'pw', 'BasicGateway')).resolves.toBeTruthy();
    await expect(seal('u', 'pw', undefined, 'not a key')).rejects.toThrow(SealError);
    await expect(seal('u', 'pw', undefined, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).rejects.toThrow(/not an RSA public key/);
    // The message never carries the value it refused.
    await expect(seal('secret:user', 'pw')).rejects.not.toThrow(/secret/);
  });

  it('the longest credentials, every unit escaped, fit the sealed size bound the hub enforces', async () => {
    const u = '\u0001'.repeat(CredentialLimits.usernameChars);
    const p = '\ud800'.repeat(CredentialLimits.passwordChars);
    const { sealed } = await sealCredentials(mine.publicKeyPem, 'g', { username: u, password: p });
    expect(sealedStructureProblem(sealed, MODULUS_BYTES)).toBeUndefined();
    expect(openSecret(sealed, mine.privateKeyPem, 'g')).toEqual({ username: u, password: p });
  });

  it('the module source imports no Node module and uses no Buffer (the console bundles it for the browser)', () => {
    for (const f of ['web-seal', 'sealed-blob', 'seal-error', 'windows-user-rule']) {
      const source = readFileSync(new URL(`../../packages/shared/dist/${f}.js`, import.meta.url), 'utf8');
      const js = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      expect(js, f).not.toMatch(/from ['"](node:|buffer|crypto)/);
      expect(js, f).not.toMatch(/\bBuffer\b|\bprocess\./);
    }
  });
});
