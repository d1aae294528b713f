// `gatehouse-agent register`: trades a one-time registration key for a member credential, creates the
// gateway key pair, uploads the private key sealed under the recovery key, writes the config (0600).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AGENT_REGISTER_PATH, generateGatewayKeyPair, sealWithRecoveryKey } from '@gatehouse/shared';
import { request } from 'undici';
import { type AgentConfig, AgentConfigError, checkAllow, checkHubUrl, writeAgentConfig } from './config.js';

export interface RegisterOptions {
  hubs: string[];
  gatewayId: string;
  key: string;
  name: string;
  allow: string[];
  configPath: string;
  recoveryKey: string | undefined;
  version: string;
}

export async function register(o: RegisterOptions): Promise<{ config: AgentConfig; generatedRecoveryKey: string | undefined }> {
  if (o.hubs.length === 0) throw new AgentConfigError('--hub is required');
  const hubs = o.hubs.map(checkHubUrl);
  checkAllow(o.allow);
  if (!o.gatewayId) throw new AgentConfigError('--gateway is required');
  if (!o.key) throw new AgentConfigError('--key is required (the registration key shown when the gateway was created)');
  if (o.recoveryKey !== undefined && o.recoveryKey.length < 16) throw new AgentConfigError('--recovery-key must be at least 16 characters');
  const recoveryKey = o.recoveryKey ?? randomBytes(24).toString('base64url');
  const pair = generateGatewayKeyPair();
  const res = await request(`${hubs[0]}${AGENT_REGISTER_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      gatewayId: o.gatewayId, registrationKey: o.key, name: o.name, hostname: hostname(), version: o.version,
      publicKeyPem: pair.publicKeyPem, sealedPrivateKey: sealWithRecoveryKey(pair.privateKeyPem, recoveryKey),
    }),
    headersTimeout: 30_000, bodyTimeout: 30_000,
  }).catch((err: Error & { code?: string }) => { throw new AgentConfigError(`cannot reach the hub at ${hubs[0]} (${err.code ?? err.message})`); });
  const text = await res.body.text();
  if (res.statusCode !== 201) {
    let message = text.slice(0, 300);
    try { message = (JSON.parse(text) as { error: { message: string } }).error.message; } catch { /* keep raw */ }
    throw new AgentConfigError(`the hub refused the registration (${res.statusCode}): ${message}`);
  }
  const body = JSON.parse(text) as { memberId: string; credential: string; gatewayId: string };
  const config: AgentConfig = {
    version: 1, hubs, gatewayId: body.gatewayId, memberId: body.memberId, credential: body.credential, name: o.name,
    allow: o.allow, privateKeyPem: pair.privateKeyPem,
  };
  writeAgentConfig(o.configPath, config);
  return { config, generatedRecoveryKey: o.recoveryKey === undefined ? recoveryKey : undefined };
}
