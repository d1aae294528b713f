// A gateway connection's credentials as POST/PATCH /v1/connections take them (SPEC section 3 ★): the plain form
// (`username`, `password`), which the hub seals to the gateway key at once, or the sealed form
// (`sealedCredentials: {keyId, sealed}`, issue 25), which a client sealed itself (web-seal.ts): the hub checks
// which key it names and the blob's structure, never opens it, and stores it as is.
import {
  CredentialLimits,
  credentialsProblem,
  gatewayKeyInfo,
  isGatewayPublicKey,
  sealSecret,
  sealedStructureProblem,
  type GatewayKeyInfo,
} from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { AuthType } from '../store/store.js';
import { invalid, type JsonObject } from './respond.js';

type CredentialType = Extract<AuthType, 'BasicGateway' | 'WindowsGateway'>;

/** Whether the body carries credentials in either form (PATCH changes them only then). */
export function hasCredentials(body: JsonObject): boolean {
  return body.username !== undefined || body.password !== undefined || body.sealedCredentials !== undefined;
}

/** The sealed credentials to store for a BasicGateway or WindowsGateway connection, from either form. */
export async function credentialsFor(deps: HubDeps, gatewayId: string, authType: CredentialType, body: JsonObject): Promise<string> {
  const sealedForm = body.sealedCredentials !== undefined;
  if (sealedForm && (body.username !== undefined || body.password !== undefined)) {
    throw invalid('give either username and password or sealedCredentials, not both');
  }
  const g = await deps.store.getGateway(gatewayId);
  if (!g?.publicKeyPem) throw invalid('the gateway has no registered agent yet, so credentials cannot be sealed: register an agent first');
  return sealedForm
    ? checkSealed(body.sealedCredentials, gatewayKeyInfo(g.publicKeyPem), g.previousPublicKeyPem)
    : sealPlain(body, authType, g.publicKeyPem, gatewayId);
}

/** The plain form: the plaintext lives only in this function's frame. */
function sealPlain(body: JsonObject, authType: CredentialType, publicKeyPem: string, gatewayId: string): string {
  const { username, password } = body;
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw invalid(`username and password are required (strings of at most ${CredentialLimits.usernameChars} and ${CredentialLimits.passwordChars} characters)`);
  }
  const problem = credentialsProblem({ username, password }, authType);
  if (problem) throw invalid(problem);
  // A key stored before gateway keys were held to 2048-4096 bits and exponent 65537 is not sealed to: each seal with
  // a 3071-bit exponent cost 7.6 ms of the hub's event loop (red team, session 18).
  if (!isGatewayPublicKey(publicKeyPem))
    throw invalid("the gateway's key is not one the hub seals to (RSA of 2048 to 4096 bits, exponent 65537): rotate it with `gatehouse-agent rotate-key`");
  return sealSecret({ username, password }, publicKeyPem, gatewayId);
}

/** The sealed form: the key it names must be the gateway's current one, and the blob well formed. */
function checkSealed(raw: unknown, key: GatewayKeyInfo, previousPublicKeyPem: string | null): string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('sealedCredentials must be an object {"keyId", "sealed"}');
  const { keyId, sealed } = raw as Record<string, unknown>;
  if (typeof keyId !== 'string' || typeof sealed !== 'string') throw invalid('sealedCredentials needs keyId and sealed, both strings');
  if (keyId !== key.keyId) {
    // Which key it is, so the client knows why (the caller's keyId is not echoed); a rotation keeps the previous
    // key, so that case is named.
    const previous = previousPublicKeyPem ? gatewayKeyInfo(previousPublicKeyPem).keyId : undefined;
    const which =
      keyId === previous
        ? "the gateway's previous key, replaced by a key rotation"
        : /^[A-Za-z0-9_-]{43}$/.test(keyId)
          ? "not a key of this gateway (another gateway's key, or an unknown one)"
          : 'not a key id (43 base64url characters)';
    throw invalid(`sealedCredentials.keyId is ${which}: seal again to the current key (GET /v1/gateways/{id}/public-key), keyId ${key.keyId}`);
  }
  const problem = sealedStructureProblem(sealed, key.modulusBytes);
  if (problem) throw invalid(`sealedCredentials.sealed ${problem}`);
  return sealed;
}
