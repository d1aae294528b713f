// The gateway key on an agent: fetched from the hub, taken up from the hand-off after another member rotated
// it, and rotated by `gatehouse-agent rotate-key` (every connection's credentials re-sealed, nobody re-enters
// a password).
import { ProxyAgent, request } from 'undici';
import {
  AGENT_AUTH_SCHEME,
  AGENT_KEY_PATH,
  AGENT_ROTATE_BEGIN_PATH,
  AGENT_ROTATE_COMMIT_PATH,
  generateGatewayKeyPair,
  openHandoff,
  openSecret,
  type Secret,
  openWithRecoveryKey,
  publicKeyOf,
  samePublicKey,
  sealHandoff,
  sealSecret,
  sealWithRecoveryKey,
} from '@gatehouse/shared';
import { AgentConfigError, proxyForHub, type AgentConfig } from './config.js';

export interface KeyInfo {
  publicKeyPem: string | null;
  sealedPrivateKey: string | null;
  keyHandoff: string | null;
  previousPublicKeyPem: string | null;
}

/** A 429 whose Retry-After is at most this many seconds is waited out and the request sent again, at most
 *  RETRIES_429 times: the hub lets a tenant have two key rotation requests in progress at once, and another of
 *  the same tenant's gateways rotating at the same moment is a reason to wait a second, not to fail. */
const SHORT_RETRY_AFTER_S = 5;
const RETRIES_429 = 5;

async function call<T>(hub: string, credential: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const answer = await callOnce<T>(hub, credential, method, path, body);
    if (!('retryAfterS' in answer)) return answer.value;
    if (attempt >= RETRIES_429 || answer.retryAfterS > SHORT_RETRY_AFTER_S) throw answer.error;
    await new Promise((r) => setTimeout(r, answer.retryAfterS * 1000));
  }
}

async function callOnce<T>(
  hub: string,
  credential: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ value: T } | { retryAfterS: number; error: AgentConfigError }> {
  const proxy = proxyForHub(hub);
  const res = await request(`${hub}${path}`, {
    ...(proxy ? { dispatcher: new ProxyAgent(proxy.href) } : {}),
    method,
    headers: { authorization: `${AGENT_AUTH_SCHEME} ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  }).catch((err: Error & { code?: string }) => {
    throw new AgentConfigError(`cannot reach the hub at ${hub} (${err.code ?? err.message})`);
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* raw */
    }
    const error = new AgentConfigError(`the hub refused ${path} (${res.statusCode}): ${message}`);
    const retryAfter = res.headers['retry-after'];
    if (res.statusCode === 429 && typeof retryAfter === 'string' && /^\d{1,4}$/.test(retryAfter))
      return { retryAfterS: Math.max(1, Number(retryAfter)), error };
    throw error;
  }
  return { value: JSON.parse(text) as T };
}

export function fetchKey(config: AgentConfig): Promise<KeyInfo> {
  return call<KeyInfo>(config.hubs[0]!, config.credential, 'GET', AGENT_KEY_PATH);
}

/** The private key this member should hold now: its own, or the rotated one from the hand-off. */
export function currentPrivateKey(config: AgentConfig, info: KeyInfo): string {
  const mine = publicKeyOf(config.privateKeyPem);
  if (samePublicKey(mine, info.publicKeyPem)) return config.privateKeyPem;
  if (info.keyHandoff && samePublicKey(mine, info.previousPublicKeyPem)) {
    const next = openHandoff(info.keyHandoff, config.privateKeyPem, config.gatewayId);
    if (!samePublicKey(publicKeyOf(next), info.publicKeyPem)) throw new AgentConfigError('the key hand-off does not match the gateway key');
    return next;
  }
  throw new AgentConfigError('this member holds a gateway key older than the last rotation: add it again with `gatehouse-agent join`');
}

/**
 * Rotates the gateway key from this member. Returns the new private key, how many connections were re-sealed,
 * and the ids of those whose credentials this key cannot open: a client seals them itself (issue 25) and the hub
 * checks only their structure, so one sealed wrongly must not stop the gateway's key from ever rotating. They
 * are kept as they were; their calls fail as before (InvalidRequest) until their credentials are set again.
 */
export async function rotateKey(config: AgentConfig, recoveryKey: string): Promise<{ privateKeyPem: string; resealed: number; unopenable: string[] }> {
  const info = await fetchKey(config);
  const current = currentPrivateKey(config, info);
  if (!info.sealedPrivateKey) throw new AgentConfigError('the gateway has no key to rotate');
  try {
    openWithRecoveryKey(info.sealedPrivateKey, recoveryKey);
  } catch {
    throw new AgentConfigError('the recovery key does not open the current gateway key: nothing was changed');
  }
  const begun = await call<{ connections: Array<{ id: string; sealed: string }> }>(config.hubs[0]!, config.credential, 'POST', AGENT_ROTATE_BEGIN_PATH, {});
  const next = generateGatewayKeyPair();
  const unopenable: string[] = [];
  const resealed = begun.connections.map((c) => {
    let secret: Secret;
    try {
      secret = openSecret(c.sealed, current, config.gatewayId);
    } catch {
      unopenable.push(c.id);
      return { connectionId: c.id, sealed: c.sealed };
    }
    return { connectionId: c.id, sealed: sealSecret(secret, next.publicKeyPem, config.gatewayId) };
  });
  await call(config.hubs[0]!, config.credential, 'POST', AGENT_ROTATE_COMMIT_PATH, {
    previousPublicKeyPem: info.publicKeyPem,
    publicKeyPem: next.publicKeyPem,
    sealedPrivateKey: sealWithRecoveryKey(next.privateKeyPem, recoveryKey),
    keyHandoff: sealHandoff(next.privateKeyPem, info.publicKeyPem!, config.gatewayId),
    resealed,
  });
  return { privateKeyPem: next.privateKeyPem, resealed: resealed.length - unopenable.length, unopenable };
}
