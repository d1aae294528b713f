// Gateways API (SPEC section 6) and the agent registration endpoint.
import { createHash, createPublicKey, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { GatewayRecord, MemberRecord } from '../store/store.js';
import { invalid, optString, readJson, reqString, sendJson } from './respond.js';
import { route, type Ctx, type Route } from './router.js';

const REGISTRATION_KEY_TTL_MS = 24 * 3600_000;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function notFound(): GatehouseError { return new GatehouseError('NotFound', 'caller -> hub: no such gateway'); }

export async function ownGateway(deps: HubDeps, ctx: Ctx, id: string): Promise<GatewayRecord> {
  const caller = await deps.caller(ctx);
  const g = await deps.store.getGateway(id);
  if (!g || g.ownerTid !== caller.tid || g.ownerOid !== caller.oid) throw notFound();
  return g;
}

async function newRegistrationKey(deps: HubDeps, gatewayId: string): Promise<string> {
  const key = `ghr_${randomBytes(32).toString('base64url')}`;
  await deps.store.addRegistrationKey(sha256(key), gatewayId, deps.now().getTime() + REGISTRATION_KEY_TTL_MS);
  return key;
}

export async function gatewayView(deps: HubDeps, g: GatewayRecord) {
  const members = await deps.store.listMembers(g.id);
  const view = members.map((m) => {
    const s = deps.registry.member(m.id, g.id);
    return {
      id: m.id, name: m.name, hostname: s?.hello?.hostname ?? m.hostname, version: s?.hello?.agentVersion ?? m.version,
      status: s ? 'online' : 'offline', enabled: m.enabled,
      connectedAt: s ? s.connectedAt.toISOString() : null,
      lastSeenAt: s ? s.lastSeenAt.toISOString() : m.lastSeenAt,
    };
  });
  return { id: g.id, name: g.name, status: view.some((m) => m.status === 'online') ? 'online' : 'offline', routing: g.routing, members: view, createdAt: g.createdAt };
}

/** Agent credentials look like `<memberId>.<secret>`; the hub keeps only a hash. */
export function newAgentCredential(memberId: string): { credential: string; hash: string } {
  const credential = `${memberId}.${randomBytes(32).toString('base64url')}`;
  return { credential, hash: sha256(credential) };
}

export async function verifyAgentCredential(deps: HubDeps, credential: string): Promise<MemberRecord | undefined> {
  const memberId = credential.split('.')[0] ?? '';
  if (!/^[0-9a-f-]{36}$/.test(memberId)) return undefined;
  const m = await deps.store.getMember(memberId);
  if (!m || !m.enabled) return undefined;
  const a = Buffer.from(sha256(credential), 'hex');
  const b = Buffer.from(m.credentialHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? m : undefined;
}

export function gatewayRoutes(deps: HubDeps): Route[] {
  return [
    route('POST', '/v1/gateways', async (ctx) => {
      const caller = await deps.caller(ctx);
      const body = await readJson(ctx.req, 64 * 1024);
      const name = reqString(body, 'name', 128);
      const g: GatewayRecord = {
        id: randomUUID(), name, ownerTid: caller.tid, ownerOid: caller.oid, publicKeyPem: null, sealedPrivateKey: null,
        routing: 'primary', createdAt: deps.now().toISOString(),
      };
      await deps.store.createGateway(g);
      const registrationKey = await newRegistrationKey(deps, g.id);
      ctx.log.info({ gateway: g.id }, 'gateway created');
      sendJson(ctx.res, 201, { id: g.id, name: g.name, registrationKey });
    }),
    route('GET', '/v1/gateways', async (ctx) => {
      const caller = await deps.caller(ctx);
      const list = await deps.store.listGateways(caller);
      sendJson(ctx.res, 200, { value: await Promise.all(list.map((g) => gatewayView(deps, g))) });
    }),
    route('GET', '/v1/gateways/{id}', async (ctx) => {
      sendJson(ctx.res, 200, await gatewayView(deps, await ownGateway(deps, ctx, ctx.params[0]!)));
    }),
    route('POST', '/v1/gateways/{id}/registration-keys', async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      sendJson(ctx.res, 201, { registrationKey: await newRegistrationKey(deps, g.id) });
    }),
    // The agent's own endpoint: authenticated by the one-time registration key, not a bearer token.
    route('POST', '/v1/agent/register', async (ctx) => {
      const body = await readJson(ctx.req, 64 * 1024);
      const gatewayId = reqString(body, 'gatewayId', 64);
      const key = reqString(body, 'registrationKey', 128);
      const name = optString(body, 'name', 128) ?? 'agent';
      const hostname = optString(body, 'hostname', 255) ?? '';
      const version = optString(body, 'version', 64) ?? '';
      const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
      const sealedPrivateKey = reqString(body, 'sealedPrivateKey', 16384);
      try {
        const k = createPublicKey(publicKeyPem);
        if (k.asymmetricKeyType !== 'rsa' || (k.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('weak');
      } catch { throw invalid('publicKeyPem must be an RSA public key of at least 2048 bits'); }
      const g = await deps.store.getGateway(gatewayId);
      const refused = new GatehouseError('Unauthorized', 'agent -> hub: the registration key is unknown, used, expired or for another gateway');
      if (!g) throw refused;
      if (g.publicKeyPem) throw invalid('this gateway already has its key pair: add members with `gatehouse-agent join`');
      const keyGateway = await deps.store.consumeRegistrationKey(sha256(key), deps.now().getTime());
      if (keyGateway !== gatewayId) throw refused;
      await deps.store.setGatewayKeys(g.id, publicKeyPem, sealedPrivateKey);
      const memberId = randomUUID();
      const { credential, hash } = newAgentCredential(memberId);
      await deps.store.addMember({ id: memberId, gatewayId, name, hostname, version, credentialHash: hash, enabled: true, createdAt: deps.now().toISOString(), lastSeenAt: null });
      ctx.log.info({ gateway: gatewayId, member: memberId }, 'agent registered');
      sendJson(ctx.res, 201, { gatewayId, memberId, credential });
    }),
  ];
}
