// Gateways API (SPEC section 6) and the agent registration endpoint.
import { createHash, randomBytes, randomUUID, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import { AGENT_AUTH_SCHEME, AgentBounds, CloseCode, GatehouseError, isGatewayPublicKey, samePublicKey } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { GatewayRecord, MemberRecord } from '../store/store.js';
import { invalid, optString, readJson, reqString, sendJson } from './respond.js';
import { route, type Ctx, type Route } from './router.js';
import { credentialMemberId } from '../agents/auth-guard.js';
import { readAgentRouteJson } from './agent-route-body.js';

const REGISTRATION_KEY_TTL_MS = 24 * 3600_000;
/** Members per gateway (a cluster), as Microsoft's gateway allows. */
export const MAX_MEMBERS = AgentBounds.membersPerGateway;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The gateway a registration key opens; `consume` uses the key up (one registration per key). Failures count
 *  toward the agent authentication limits (per address and gateway id), checked before the lookup. */
async function gatewayForKey(deps: HubDeps, ctx: Ctx, gatewayId: string, key: string, consume: boolean): Promise<GatewayRecord> {
  const address = ctx.req.socket.remoteAddress;
  const limited = deps.agentAuth.refusal(address, `gateway:${gatewayId}`);
  if (limited) throw limited;
  const refused = () => {
    deps.agentAuth.failure(address, `gateway:${gatewayId}`, 'registration');
    return new GatehouseError('Unauthorized', 'agent -> hub: the registration key is unknown, used, expired or for another gateway');
  };
  const g = await deps.store.getGateway(gatewayId);
  if (!g) throw refused();
  const ok = consume
    ? (await deps.store.consumeRegistrationKey(sha256(key), deps.now().getTime())) === gatewayId
    : await deps.store.registrationKeyValid(sha256(key), gatewayId, deps.now().getTime());
  if (!ok) throw refused();
  return g;
}

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
  const [members, entries] = await Promise.all([deps.store.listMembers(g.id), deps.presence.entries(g.id)]);
  const view = members.map((m) => {
    // A member may be connected to several hubs: the earliest connection speaks for it.
    const here = entries.filter((e) => e.memberId === m.id).sort((a, b) => a.connectedAt.localeCompare(b.connectedAt));
    const e = here[0];
    return {
      id: m.id, name: m.name, hostname: e?.hostname || m.hostname, version: e?.version || m.version,
      status: e ? 'online' : 'offline', enabled: m.enabled, hubs: here.length,
      connectedAt: e?.connectedAt ?? null,
      lastSeenAt: here.map((x) => x.lastSeenAt).sort().at(-1) ?? m.lastSeenAt,
    };
  });
  return { id: g.id, name: g.name, status: view.some((m) => m.status === 'online') ? 'online' : 'offline', routing: g.routing, members: view, createdAt: g.createdAt };
}

/** Agent credentials look like `<memberId>.<secret>`; the hub keeps only a hash. */
export function newAgentCredential(memberId: string): { credential: string; hash: string } {
  const credential = `${memberId}.${randomBytes(32).toString('base64url')}`;
  return { credential, hash: sha256(credential) };
}

async function agentMember(deps: HubDeps, ctx: Ctx): Promise<MemberRecord> {
  const auth = ctx.req.headers.authorization ?? '';
  const credential = auth.startsWith(`${AGENT_AUTH_SCHEME} `) ? auth.slice(AGENT_AUTH_SCHEME.length + 1).trim() : undefined;
  const address = ctx.req.socket.remoteAddress;
  const memberKey = credential === undefined ? undefined : credentialMemberId(credential);
  const limited = deps.agentAuth.refusal(address, memberKey);
  if (limited) throw limited;
  const m = credential === undefined ? undefined : await verifyAgentCredential(deps, credential);
  if (!m) {
    deps.agentAuth.failure(address, memberKey, 'agent route');
    throw new GatehouseError('Unauthorized', 'agent -> hub: the agent credential is missing or invalid');
  }
  return m;
}

export async function verifyAgentCredential(deps: HubDeps, credential: string): Promise<MemberRecord | undefined> {
  const memberId = credentialMemberId(credential);
  if (!memberId) return undefined;
  const m = await deps.store.getMember(memberId);
  // A disabled member may connect (so enabling it takes effect at once); it is given no calls.
  if (!m) return undefined;
  const a = Buffer.from(sha256(credential), 'hex');
  const b = Buffer.from(m.credentialHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? m : undefined;
}

export function gatewayRoutes(deps: HubDeps): Route[] {
  return [
    route('POST', '/v1/gateways', async (ctx) => {
      const caller = await deps.caller(ctx);
      const body = await readJson(ctx.req, 64 * 1024, deps.config.idleTimeoutMs);
      const name = reqString(body, 'name', 128);
      const g: GatewayRecord = {
        id: randomUUID(), name, ownerTid: caller.tid, ownerOid: caller.oid, publicKeyPem: null, sealedPrivateKey: null,
        routing: 'primary', createdAt: deps.now().toISOString(), keyHandoff: null, previousPublicKeyPem: null,
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
      const registrationKey = await newRegistrationKey(deps, g.id);
      ctx.log.info({ gateway: g.id }, 'registration key issued');
      sendJson(ctx.res, 201, { registrationKey });
    }),
    route('PATCH', '/v1/gateways/{id}', async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const body = await readJson(ctx.req, 64 * 1024, deps.config.idleTimeoutMs);
      const routing = optString(body, 'routing', 16);
      if (routing !== 'primary' && routing !== 'distribute') throw invalid('routing must be primary or distribute');
      await deps.store.setGatewayRouting(g.id, routing);
      ctx.log.info({ gateway: g.id, routing }, 'gateway routing changed');
      sendJson(ctx.res, 200, await gatewayView(deps, { ...g, routing }));
    }),
    route('DELETE', '/v1/gateways/{id}', async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      if (!await deps.store.deleteGateway(g.id)) {
        const using = (await deps.store.listGatewayConnections(g.id)).map((c) => c.id);
        throw invalid(`connections still use this gateway (${using.slice(0, 5).join(', ')}${using.length > 5 ? ', …' : ''}): delete them first`);
      }
      // Its agents are told their credential is gone (they stop reconnecting); other hubs close theirs within
      // MEMBER_SYNC_MS (agents/member-sync.ts).
      for (const s of deps.registry.sessions(g.id)) s.close(CloseCode.CredentialRevoked, 'gateway deleted');
      ctx.log.info({ gateway: g.id }, 'gateway deleted');
      ctx.res.writeHead(204).end();
    }),
    route('PATCH', '/v1/gateways/{id}/members/{memberId}', async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const m = await deps.store.getMember(ctx.params[1]!);
      if (!m || m.gatewayId !== g.id) throw new GatehouseError('NotFound', 'caller -> hub: no such member');
      const body = await readJson(ctx.req, 64 * 1024, deps.config.idleTimeoutMs);
      if (typeof body.enabled !== 'boolean') throw invalid('enabled must be true or false');
      await deps.store.setMemberEnabled(m.id, body.enabled);
      for (const s of deps.registry.sessions(g.id)) if (s.member.memberId === m.id) { s.enabled = body.enabled; deps.presence.announce(s); }
      ctx.log.info({ gateway: g.id, member: m.id, enabled: body.enabled }, 'member enabled changed');
      sendJson(ctx.res, 200, await gatewayView(deps, g));
    }),
    route('DELETE', '/v1/gateways/{id}/members/{memberId}', async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      const m = await deps.store.getMember(ctx.params[1]!);
      if (!m || m.gatewayId !== g.id) throw new GatehouseError('NotFound', 'caller -> hub: no such member');
      await deps.store.deleteMember(m.id);
      for (const s of deps.registry.sessions(g.id)) if (s.member.memberId === m.id) s.close(CloseCode.CredentialRevoked, 'member removed');
      ctx.log.info({ gateway: g.id, member: m.id }, 'member removed');
      ctx.res.writeHead(204).end();
    }),
    // The agent's own endpoints: authenticated by the one-time registration key, not a bearer token.
    route('POST', '/v1/agent/join-info', async (ctx) => {
      // What `join` needs to check the recovery key before anything is registered; the key is not used up.
      const body = await readAgentRouteJson(ctx.req);
      const g = await gatewayForKey(deps, ctx, reqString(body, 'gatewayId', 64), reqString(body, 'registrationKey', 128), false);
      if (!g.publicKeyPem || !g.sealedPrivateKey) throw invalid('this gateway has no key pair yet: make its first member with `gatehouse-agent register`');
      sendJson(ctx.res, 200, { publicKeyPem: g.publicKeyPem, sealedPrivateKey: g.sealedPrivateKey });
    }),
    // Members authenticated by their credential: the current gateway key (and the hand-off after a rotation),
    // and the two steps of a rotation.
    route('GET', '/v1/agent/key', async (ctx) => {
      const m = await agentMember(deps, ctx);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      sendJson(ctx.res, 200, { publicKeyPem: g.publicKeyPem, sealedPrivateKey: g.sealedPrivateKey, keyHandoff: g.keyHandoff, previousPublicKeyPem: g.previousPublicKeyPem });
    }),
    route('POST', '/v1/agent/rotate/begin', async (ctx) => {
      const m = await agentMember(deps, ctx);
      const list = (await deps.store.listGatewayConnections(m.gatewayId)).filter((c) => c.sealedCredentials);
      sendJson(ctx.res, 200, { connections: list.map((c) => ({ id: c.id, sealed: c.sealedCredentials })) });
    }),
    route('POST', '/v1/agent/rotate/commit', async (ctx) => {
      const m = await agentMember(deps, ctx);
      const body = await readJson(ctx.req, 16 * 1024 * 1024, deps.config.idleTimeoutMs);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      const previous = reqString(body, 'previousPublicKeyPem', 8192);
      if (!samePublicKey(previous, g.publicKeyPem)) {
        throw invalid('the gateway key changed since this rotation began: run it again');
      }
      const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
      if (!isGatewayPublicKey(publicKeyPem)) throw invalid('publicKeyPem must be an RSA public key of at least 2048 bits');
      const resealed = Array.isArray(body.resealed) ? body.resealed as Array<{ connectionId: unknown; sealed: unknown }> : [];
      const want = new Set((await deps.store.listGatewayConnections(g.id)).filter((c) => c.sealedCredentials).map((c) => c.id));
      const got = new Set(resealed.map((r) => String(r.connectionId)));
      if (want.size !== got.size || [...want].some((id) => !got.has(id)) || resealed.some((r) => typeof r.sealed !== 'string')) {
        throw invalid('the connections changed since this rotation began: run it again');
      }
      await deps.store.rotateGatewayKey(g.id, {
        publicKeyPem, sealedPrivateKey: reqString(body, 'sealedPrivateKey', 16384), keyHandoff: reqString(body, 'keyHandoff', 16384), previousPublicKeyPem: g.publicKeyPem!,
      }, resealed.map((r) => ({ connectionId: String(r.connectionId), sealed: String(r.sealed) })));
      ctx.log.info({ gateway: g.id, member: m.id, connections: resealed.length }, 'gateway key rotated');
      // Every member reconnects and takes up the new key from the hand-off before it serves again.
      for (const s of deps.registry.sessions(g.id)) s.close(CloseCode.KeyRotated, 'gateway key rotated');
      sendJson(ctx.res, 200, { resealed: resealed.length });
    }),
    route('POST', '/v1/agent/register', async (ctx) => {
      const body = await readAgentRouteJson(ctx.req);
      const gatewayId = reqString(body, 'gatewayId', 64);
      const key = reqString(body, 'registrationKey', 128);
      const name = optString(body, 'name', 128) ?? 'agent';
      const hostname = optString(body, 'hostname', 255) ?? '';
      const version = optString(body, 'version', 64) ?? '';
      const g = await gatewayForKey(deps, ctx, gatewayId, key, false);
      const members = await deps.store.listMembers(g.id);
      if (members.length >= MAX_MEMBERS) throw invalid(`a gateway has at most ${MAX_MEMBERS} members; remove one first`);
      // Another member made the gateway's key pair first: this one must join with the recovery key. The
      // registration key stays valid for that.
      const joinInstead = () => invalid('another member registered first and made this gateway\'s key pair: run `gatehouse-agent join` with the recovery key (this registration key is still valid)');
      if (g.publicKeyPem) {
        // join: the new member proves it holds the gateway's private key (opened with the recovery key).
        if (body.proof === undefined) throw joinInstead();
        const proof = reqString(body, 'proof', 2048);
        let ok = false;
        try { ok = cryptoVerify('sha256', Buffer.from(`gatehouse-join:${gatewayId}:${key}`), g.publicKeyPem, Buffer.from(proof, 'base64')); } catch { ok = false; }
        if (!ok) {
          deps.agentAuth.failure(ctx.req.socket.remoteAddress, `gateway:${gatewayId}`, 'registration');
          throw new GatehouseError('Unauthorized', 'agent -> hub: the join proof does not match the gateway key (wrong recovery key?)');
        }
        await gatewayForKey(deps, ctx, gatewayId, key, true);
      } else {
        const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
        const sealedPrivateKey = reqString(body, 'sealedPrivateKey', 16384);
        if (!isGatewayPublicKey(publicKeyPem)) throw invalid('publicKeyPem must be an RSA public key of at least 2048 bits');
        // Claim first, then use the key up: a registration that lost the race keeps its key for `join`.
        if (!await deps.store.claimGatewayKeys(g.id, publicKeyPem, sealedPrivateKey)) throw joinInstead();
        await gatewayForKey(deps, ctx, gatewayId, key, true);
      }
      const memberId = randomUUID();
      const { credential, hash } = newAgentCredential(memberId);
      // Counted again as it is added: concurrent registrations (on any hub) all passed the check above.
      if (!await deps.store.addMember({ id: memberId, gatewayId, name, hostname, version, credentialHash: hash, enabled: true, createdAt: deps.now().toISOString(), lastSeenAt: null }, MAX_MEMBERS)) {
        throw invalid(`a gateway has at most ${MAX_MEMBERS} members; remove one first (this registration key has been used)`);
      }
      ctx.log.info({ gateway: gatewayId, member: memberId, join: members.length > 0 }, 'agent registered');
      sendJson(ctx.res, 201, { gatewayId, memberId, credential });
    }),
  ];
}
