// Basic and Windows credentials are sealed here, in the browser, to the gateway's current public key (WebCrypto,
// @gatehouse/shared/web-seal) before they leave: the hub stores and forwards a blob only its agents can open, and
// never holds the password, not even in memory. No plain fallback: a gateway without a key is an error shown.
import { sealCredentials, type SealedForm } from '@gatehouse/shared/web-seal';
import type { Api } from '../api/client.js';

interface PublicKey {
  gatewayId: string;
  keyId: string;
  publicKeyPem: string;
  algorithm: string;
}

export async function sealedCredentials(
  api: Api,
  gatewayId: string,
  authType: 'BasicGateway' | 'WindowsGateway',
  username: string,
  password: string,
): Promise<{ sealedCredentials: SealedForm }> {
  const key = await api.call<PublicKey>('GET', `/v1/gateways/${gatewayId}/public-key`);
  return { sealedCredentials: await sealCredentials(key.publicKeyPem, gatewayId, { username, password }, authType) };
}
