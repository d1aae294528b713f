// `gatehouse-agent register`: trades a one-time registration key for a member credential, creates the
// gateway key pair, uploads the private key sealed under the recovery key, writes the config (0600).
import { hostname } from 'node:os';
import { randomBytes, sign } from 'node:crypto';
import {
  AGENT_JOIN_INFO_PATH,
  AGENT_REGISTER_PATH,
  generateGatewayKeyPair,
  openWithRecoveryKey,
  publicKeyOf,
  samePublicKey,
  sealWithRecoveryKey,
} from '@gatehouse/shared';
import { ProxyAgent, request } from 'undici';
import { type AgentConfig, AgentConfigError, checkAllow, checkHubUrl, proxyForHub, writeAgentConfig } from './config.js';

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
  const hubs = o.hubs.map((h) => checkHubUrl(h));
  checkAllow(o.allow);
  if (!o.gatewayId) throw new AgentConfigError('--gateway is required');
  if (!o.key) throw new AgentConfigError('--key is required (the registration key shown when the gateway was created)');
  if (o.recoveryKey !== undefined && o.recoveryKey.length < 16)
    throw new AgentConfigError('--recovery-key (or GATEHOUSE_RECOVERY_KEY) must be at least 16 characters');
  const recoveryKey = o.recoveryKey ?? randomBytes(24).toString('base64url');
  const pair = generateGatewayKeyPair();
  const body = await postToHub<{ memberId: string; credential: string; gatewayId: string }>(
    hubs[0]!,
    AGENT_REGISTER_PATH,
    {
      gatewayId: o.gatewayId,
      registrationKey: o.key,
      name: o.name,
      hostname: hostname(),
      version: o.version,
      publicKeyPem: pair.publicKeyPem,
      sealedPrivateKey: sealWithRecoveryKey(pair.privateKeyPem, recoveryKey),
    },
    'registration',
    201,
  );
  const config: AgentConfig = {
    version: 1,
    hubs,
    gatewayId: body.gatewayId,
    memberId: body.memberId,
    credential: body.credential,
    name: o.name,
    allow: o.allow,
    privateKeyPem: pair.privateKeyPem,
  };
  writeAgentConfig(o.configPath, config);
  return { config, generatedRecoveryKey: o.recoveryKey === undefined ? recoveryKey : undefined };
}

/** `gatehouse-agent join`: another member of a gateway that has its key pair. The recovery key must open the
 *  gateway's sealed private key before anything is registered; the hub then checks a signature made with it. */
export async function join(o: RegisterOptions & { recoveryKey: string }): Promise<AgentConfig> {
  if (o.hubs.length === 0) throw new AgentConfigError('--hub is required');
  const hubs = o.hubs.map((h) => checkHubUrl(h));
  checkAllow(o.allow);
  if (!o.gatewayId) throw new AgentConfigError('--gateway is required');
  if (!o.key) throw new AgentConfigError('--key is required (a registration key from POST /v1/gateways/{id}/registration-keys)');
  if (!o.recoveryKey) throw new AgentConfigError('--recovery-key (or GATEHOUSE_RECOVERY_KEY) is required: it opens the gateway key this member needs');
  const info = await postToHub<{ publicKeyPem: string; sealedPrivateKey: string }>(
    hubs[0]!,
    AGENT_JOIN_INFO_PATH,
    { gatewayId: o.gatewayId, registrationKey: o.key },
    'join',
    200,
  );
  let privateKeyPem: string;
  try {
    privateKeyPem = openWithRecoveryKey(info.sealedPrivateKey, o.recoveryKey);
  } catch {
    throw new AgentConfigError("the recovery key does not open this gateway's key: nothing was registered");
  }
  if (!samePublicKey(publicKeyOf(privateKeyPem), info.publicKeyPem)) {
    throw new AgentConfigError("the opened key does not match the gateway's public key: nothing was registered");
  }
  const proof = sign('sha256', Buffer.from(`gatehouse-join:${o.gatewayId}:${o.key}`), privateKeyPem).toString('base64');
  const body = await postToHub<{ memberId: string; credential: string; gatewayId: string }>(
    hubs[0]!,
    AGENT_REGISTER_PATH,
    {
      gatewayId: o.gatewayId,
      registrationKey: o.key,
      name: o.name,
      hostname: hostname(),
      version: o.version,
      proof,
    },
    'join',
    201,
  );
  const config: AgentConfig = {
    version: 1,
    hubs,
    gatewayId: body.gatewayId,
    memberId: body.memberId,
    credential: body.credential,
    name: o.name,
    allow: o.allow,
    privateKeyPem,
  };
  writeAgentConfig(o.configPath, config);
  return config;
}

async function postToHub<T>(hub: string, path: string, payload: unknown, what: string, expect: number): Promise<T> {
  const proxy = proxyForHub(hub);
  const res = await request(`${hub}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    ...(proxy ? { dispatcher: new ProxyAgent(proxy.href) } : {}),
  }).catch((err: Error & { code?: string }) => {
    throw new AgentConfigError(`cannot reach the hub at ${hub} (${err.code ?? err.message})`);
  });
  const text = await res.body.text();
  if (res.statusCode !== expect) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* keep raw */
    }
    throw new AgentConfigError(`the hub refused the ${what} (${res.statusCode}): ${message}`);
  }
  return JSON.parse(text) as T;
}
