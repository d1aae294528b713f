// What a Basic or Windows connection sends for its credentials. Placeholder until the browser-side sealing
// module lands (s16-seal): then the password is sealed to the gateway's public key here, before it leaves.
import type { Api } from '../api/client.js';

export type CredentialFields = { username: string; password: string } | { sealedCredentials: { keyId: string; sealed: string } };

export async function credentialFields(_api: Api, _gatewayId: string, username: string, password: string): Promise<CredentialFields> {
  return { username, password };
}
