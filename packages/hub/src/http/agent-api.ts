// The agents' own routes (SPEC section 6): `register` and `join` authenticated by a one-time registration key
// (http/registration-keys.ts), the gateway key and its rotation by the member's credential
// (agents/agent-credential.ts); never by a caller's bearer token.
import { randomUUID, verify as cryptoVerify } from 'node:crypto';
import { AgentBounds, CloseCode, GatehouseError, hasUnquotable, isGatewayPublicKey, samePublicKey } from '@gatehouse/shared';
import type { HubDeps } from '../deps.js';
import type { MemberRecord } from '../store/store.js';
import { authenticateAgent, newAgentCredential } from '../agents/agent-credential.js';
import { invalid, optString, readJson, reqString, sendJson } from './respond.js';
import { route, type Ctx, type Route } from './router.js';
import { internal } from './route-doc.js';
import { readAgentRouteJson } from './agent-route-body.js';
import { gatewayForKey } from './registration-keys.js';

/** The agents' API (registration key or member credential, never a caller's token): not in GET /openapi.json. */
const AGENT_ONLY = internal("the agents' API (gatehouse-agent register, join, key rotation)");

/** Members per gateway (a cluster), as Microsoft's gateway allows. */
export const MAX_MEMBERS = AgentBounds.membersPerGateway;

async function agentMember(deps: HubDeps, ctx: Ctx): Promise<MemberRecord> {
  const m = await authenticateAgent(deps, ctx.req.socket.remoteAddress, ctx.req.headers.authorization, 'agent route');
  if (m instanceof GatehouseError) throw m;
  return m;
}

export function agentRoutes(deps: HubDeps): Route[] {
  return [
    // The agent's own endpoints: authenticated by the one-time registration key, not a bearer token.
    route('POST', '/v1/agent/join-info', AGENT_ONLY, async (ctx) => {
      // What `join` needs to check the recovery key before anything is registered; the key is not used up.
      const body = await readAgentRouteJson(ctx.req);
      const g = await gatewayForKey(deps, ctx, reqString(body, 'gatewayId', 64), reqString(body, 'registrationKey', 128), false);
      if (!g.publicKeyPem || !g.sealedPrivateKey) throw invalid('this gateway has no key pair yet: make its first member with `gatehouse-agent register`');
      sendJson(ctx.res, 200, { publicKeyPem: g.publicKeyPem, sealedPrivateKey: g.sealedPrivateKey });
    }),
    // Members authenticated by their credential: the current gateway key (and the hand-off after a rotation),
    // and the two steps of a rotation.
    route('GET', '/v1/agent/key', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      sendJson(ctx.res, 200, {
        publicKeyPem: g.publicKeyPem,
        sealedPrivateKey: g.sealedPrivateKey,
        keyHandoff: g.keyHandoff,
        previousPublicKeyPem: g.previousPublicKeyPem,
      });
    }),
    route('POST', '/v1/agent/rotate/begin', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx);
      const list = (await deps.store.listGatewayConnections(m.gatewayId)).filter((c) => c.sealedCredentials);
      sendJson(ctx.res, 200, { connections: list.map((c) => ({ id: c.id, sealed: c.sealedCredentials })) });
    }),
    route('POST', '/v1/agent/rotate/commit', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx);
      const body = await readJson(ctx.req, 16 * 1024 * 1024, deps.config.idleTimeoutMs);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      const previous = reqString(body, 'previousPublicKeyPem', 8192);
      if (!samePublicKey(previous, g.publicKeyPem)) {
        throw invalid('the gateway key changed since this rotation began: run it again');
      }
      const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
      if (!isGatewayPublicKey(publicKeyPem)) throw invalid('publicKeyPem must be an RSA public key of at least 2048 bits');
      const resealed = Array.isArray(body.resealed) ? (body.resealed as Array<{ connectionId: unknown; sealed: unknown }>) : [];
      const want = new Set((await deps.store.listGatewayConnections(g.id)).filter((c) => c.sealedCredentials).map((c) => c.id));
      const got = new Set(resealed.map((r) => String(r.connectionId)));
      if (want.size !== got.size || [...want].some((id) => !got.has(id)) || resealed.some((r) => typeof r.sealed !== 'string')) {
        throw invalid('the connections changed since this rotation began: run it again');
      }
      await deps.store.rotateGatewayKey(
        g.id,
        {
          publicKeyPem,
          sealedPrivateKey: reqString(body, 'sealedPrivateKey', 16384),
          keyHandoff: reqString(body, 'keyHandoff', 16384),
          previousPublicKeyPem: g.publicKeyPem!,
        },
        resealed.map((r) => ({ connectionId: String(r.connectionId), sealed: String(r.sealed) })),
      );
      await deps.audit.record(
        {
          actor: { type: 'Agent', memberId: m.id },
          action: 'gateway.keyRotate',
          target: { type: 'gateway', id: g.id },
          gatewayId: g.id,
          details: { connections: resealed.length },
        },
        ctx.log,
      );
      // Every member reconnects and takes up the new key from the hand-off before it serves again.
      for (const s of deps.registry.sessions(g.id)) s.close(CloseCode.KeyRotated, 'gateway key rotated');
      sendJson(ctx.res, 200, { resealed: resealed.length });
    }),
    route('POST', '/v1/agent/register', AGENT_ONLY, async (ctx) => {
      const body = await readAgentRouteJson(ctx.req);
      const gatewayId = reqString(body, 'gatewayId', 64);
      const key = reqString(body, 'registrationKey', 128);
      const name = optString(body, 'name', 128) ?? 'agent';
      const hostname = optString(body, 'hostname', 255) ?? '';
      const version = optString(body, 'version', 64) ?? '';
      // Shown to callers as HELLO's are: visible text only (red-team finding B8).
      if (hasUnquotable(hostname) || hasUnquotable(version))
        throw invalid('hostname and version must be visible text (no control, format, invisible or line-separator characters)');
      const g = await gatewayForKey(deps, ctx, gatewayId, key, false);
      const members = await deps.store.listMembers(g.id);
      if (members.length >= MAX_MEMBERS) throw invalid(`a gateway has at most ${MAX_MEMBERS} members; remove one first`);
      // Another member made the gateway's key pair first: this one must join with the recovery key. The
      // registration key stays valid for that.
      const joinInstead = () =>
        invalid(
          "another member registered first and made this gateway's key pair: run `gatehouse-agent join` with the recovery key (this registration key is still valid)",
        );
      if (g.publicKeyPem) {
        // join: the new member proves it holds the gateway's private key (opened with the recovery key).
        if (body.proof === undefined) throw joinInstead();
        const proof = reqString(body, 'proof', 2048);
        let ok = false;
        try {
          ok = cryptoVerify('sha256', Buffer.from(`gatehouse-join:${gatewayId}:${key}`), g.publicKeyPem, Buffer.from(proof, 'base64'));
        } catch {
          ok = false;
        }
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
        if (!(await deps.store.claimGatewayKeys(g.id, publicKeyPem, sealedPrivateKey))) throw joinInstead();
        await gatewayForKey(deps, ctx, gatewayId, key, true);
      }
      const memberId = randomUUID();
      const { credential, hash } = newAgentCredential(memberId);
      // Counted again as it is added: concurrent registrations (on any hub) all passed the check above.
      if (
        !(await deps.store.addMember(
          { id: memberId, gatewayId, name, hostname, version, credentialHash: hash, enabled: true, createdAt: deps.now().toISOString(), lastSeenAt: null },
          MAX_MEMBERS,
        ))
      ) {
        throw invalid(`a gateway has at most ${MAX_MEMBERS} members; remove one first (this registration key has been used)`);
      }
      await deps.audit.record(
        {
          actor: { type: 'Agent', memberId },
          action: 'member.register',
          target: { type: 'member', id: memberId },
          gatewayId,
          details: { name, hostname, version, join: members.length > 0 },
        },
        ctx.log,
      );
      sendJson(ctx.res, 201, { gatewayId, memberId, credential });
    }),
  ];
}
