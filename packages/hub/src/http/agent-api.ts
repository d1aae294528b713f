// The agents' own routes (SPEC section 6): `register` and `join` authenticated by a one-time registration key
// (http/registration-keys.ts), the gateway key and its rotation by the member's credential
// (agents/agent-credential.ts); never by a caller's bearer token.
import { randomUUID, verify as cryptoVerify } from 'node:crypto';
import {
  AgentBounds,
  CloseCode,
  GatehouseError,
  gatewayKeyInfo,
  hasUnquotable,
  isGatewayPublicKey,
  samePublicKey,
  sealedStructureProblem,
} from '@gatehouse/shared';
import { FailureWindow, type FailureLimit } from '../agents/failure-window.js';
import type { HubDeps } from '../deps.js';
import { clientAddress } from './client-address.js';
import type { MemberRecord } from '../store/store.js';
import { authenticateAgent, newAgentCredential } from '../agents/agent-credential.js';
import { apiBodyTimes, invalid, optString, reqString, sendJson } from './respond.js';
import { MAX_ROTATED_KEY_BITS, readCommitBody } from './rotate-commit-body.js';
import { TokenBuckets, type Rate } from './api-rate.js';
import { route, type Ctx, type Route } from './router.js';
import { internal } from './route-doc.js';
import { readRegistrationBody } from './agent-route-body.js';
import { gatewayForKey } from './registration-keys.js';

/** The agents' API (registration key or member credential, never a caller's token): not in GET /openapi.json. */
const AGENT_ONLY = internal("the agents' API (gatehouse-agent register, join, key rotation)");

/** Members per gateway (a cluster), as Microsoft's gateway allows. */
export const MAX_MEMBERS = AgentBounds.membersPerGateway;

async function agentMember(deps: HubDeps, ctx: Ctx, rate: AgentRouteRate): Promise<MemberRecord> {
  const m = await authenticateAgent(deps, clientAddress(ctx.req, deps.config.trustedProxies), ctx.req.headers.authorization, 'agent route');
  if (m instanceof GatehouseError) throw m;
  rate.admit(`member:${m.id}`, AGENT_ROUTE_RATE_PER_MEMBER);
  return m;
}

/** Requests to the agent routes a valid credential opens (`GET /v1/agent/key`, a rotation's steps), per member, and
 *  `join-info` and `register` with a valid registration key, per gateway (together: a join is one of each; a
 *  register refused after the key check was never limited: 24,234 in 14 s from one key, red team, session 19, F3).
 *  An agent asks for its key when it starts and when a key is handed off, and a rotation is three requests: the failed-authentication limits never count these, and one
 *  compromised member looping `GET /v1/agent/key` got 2,645 answers a second, 613 MB in 14 s (red team, session 18).
 *  Token buckets holding a quarter (http/api-rate.ts); past them 429 with Retry-After. */
export const AGENT_ROUTE_RATE_PER_MEMBER: Rate = { limit: 60, periodMs: 60_000 };
export const AGENT_REGISTRATION_RATE_PER_GATEWAY: Rate = { limit: 60, periodMs: 60_000 };
/** The same for all members of one tenant's gateways together (its gateways' owner), with its `join-info` and
 *  `register` requests. A running agent asks for the key after each (re)connection, of its first hub: after a hub
 *  restart a tenant's agents all ask at once, so this leaves room for a burst of 1,500 (then 100 a second), and the
 *  member's own rate bounds each one. */
export const AGENT_ROUTE_RATE_PER_TENANT: Rate = { limit: 6000, periodMs: 60_000 };

class AgentRouteRate {
  private readonly buckets = new Map<Rate, TokenBuckets>();
  admit(key: string, rate: Rate): void {
    let b = this.buckets.get(rate);
    if (!b) this.buckets.set(rate, (b = new TokenBuckets(rate)));
    const wait = b.take(key);
    if (wait > 0)
      throw new GatehouseError(
        'TooManyRequests',
        `agent -> hub: this ${key.slice(0, key.indexOf(':'))} made ${rate.limit} agent route requests in ${rate.periodMs / 1000} s, the most the hub takes; try again in ${wait} s`,
        { 'retry-after': String(wait) },
      );
  }
}

/** A key rotation's two steps, one request at a time per member (red team B1: nothing capped concurrent agent API
 *  requests, and four 16 MB commits at once from one credential held the hub for 25 s), and at most
 *  ROTATIONS_AT_ONCE_PER_TENANT at once for all of a tenant's gateways (red team, session 17: a tenant's 60 steps
 *  sent at once from many members stalled the hub 0.6-0.7 s and took its RSS from 109 to 225 MB). The next one
 *  gets 429 with `Retry-After: 1`; a place is given back when the answer is over or the connection closes. */
function oneAtATime(busy: { members: Map<string, Ctx>; tenants: Map<string, Set<Ctx>> }, ctx: Ctx, memberId: string, tenant: string): void {
  const retry = { 'retry-after': '1' };
  if (busy.members.has(memberId))
    throw new GatehouseError('TooManyRequests', 'agent -> hub: this member has a key rotation request in progress; one at a time', retry);
  const ofTenant = busy.tenants.get(tenant) ?? new Set<Ctx>();
  if (ofTenant.size >= ROTATIONS_AT_ONCE_PER_TENANT) {
    throw new GatehouseError(
      'TooManyRequests',
      `agent -> hub: this gateway's tenant has ${ROTATIONS_AT_ONCE_PER_TENANT} key rotation requests in progress, the most it may have at once; try again in a second`,
      retry,
    );
  }
  busy.members.set(memberId, ctx);
  ofTenant.add(ctx);
  busy.tenants.set(tenant, ofTenant);
  // At 'finish' (the answer sent: an agent may send its next step on the same connection at once) or 'close'.
  const done = () => {
    if (busy.members.get(memberId) === ctx) busy.members.delete(memberId);
    ofTenant.delete(ctx);
    if (ofTenant.size === 0 && busy.tenants.get(tenant) === ofTenant) busy.tenants.delete(tenant);
  };
  ctx.res.once('finish', done);
  ctx.res.once('close', done);
}

/** Key rotation requests in progress at once for all gateways of one tenant (their owner's tenant id). */
export const ROTATIONS_AT_ONCE_PER_TENANT = 2;

/** Key rotation steps (begin and commit, answered or refused) a gateway, and a tenant's gateways together, may make
 *  per period. A rotation is a rare, manual act (`gatehouse-agent rotate-key`: one begin, one commit, a retry when
 *  a connection changed meanwhile); each step reads every sealed connection of the gateway and a commit of 255
 *  resealed connections is about 3 MiB to read, check and write. Looped from one compromised agent host, 71
 *  commits in 8 s took another tenant's p50 from 2.6 to 192 ms (red team, session 17, F2). Past it: 429. */
export const ROTATION_STEPS_PER_GATEWAY: FailureLimit = { limit: 12, periodMs: 600_000 };
export const ROTATION_STEPS_PER_TENANT: FailureLimit = { limit: 60, periodMs: 600_000 };

/** Failed join proofs per gateway per period (a wrong recovery key typed a few times is the honest case); past it
 *  429 before any signature is checked (red team, session 18: 1,159 failed joins in 11 s, never limited, each a
 *  signature check with a key the tenant chose). */
export const JOIN_FAILURES_PER_GATEWAY: FailureLimit = { limit: 10, periodMs: 600_000 };

/** Counts a rotation step of gateway `g`, or throws the coded 429 when its gateway or tenant is past its limit. */
function rotationStep(windows: { gateway: FailureWindow; tenant: FailureWindow }, g: { id: string; ownerTid: string }): void {
  const wait = Math.max(windows.gateway.waitMs(g.id), windows.tenant.waitMs(g.ownerTid));
  if (wait > 0) {
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    throw new GatehouseError(
      'TooManyRequests',
      `agent -> hub: key rotation requests are limited to ${ROTATION_STEPS_PER_GATEWAY.limit} per gateway and ${ROTATION_STEPS_PER_TENANT.limit} per tenant in ${ROTATION_STEPS_PER_GATEWAY.periodMs / 60_000} minutes; try again in ${seconds} seconds`,
      { 'retry-after': String(seconds) },
    );
  }
  windows.gateway.add(g.id);
  windows.tenant.add(g.ownerTid);
}

export function agentRoutes(deps: HubDeps): Route[] {
  const rotating = { members: new Map<string, Ctx>(), tenants: new Map<string, Set<Ctx>>() };
  const joinFailures = new FailureWindow(JOIN_FAILURES_PER_GATEWAY, 100_000, Date.now);
  const routeRate = new AgentRouteRate();
  const rotations = {
    gateway: new FailureWindow(ROTATION_STEPS_PER_GATEWAY, 100_000, Date.now),
    tenant: new FailureWindow(ROTATION_STEPS_PER_TENANT, 100_000, Date.now),
  };
  /** join-info and register with a valid registration key: the gateway's rate, then its tenant's. */
  const registrationRate = (g: { id: string; ownerTid: string }): void => {
    routeRate.admit(`gateway:${g.id}`, AGENT_REGISTRATION_RATE_PER_GATEWAY);
    routeRate.admit(`tenant:${g.ownerTid}`, AGENT_ROUTE_RATE_PER_TENANT);
  };
  return [
    // The agent's own endpoints: authenticated by the one-time registration key, not a bearer token.
    route('POST', '/v1/agent/join-info', AGENT_ONLY, async (ctx) => {
      // What `join` needs to check the recovery key before anything is registered; the key is not used up.
      const { gatewayId, key } = await readRegistrationBody(deps, ctx);
      const g = await gatewayForKey(deps, ctx, gatewayId, key, false);
      registrationRate(g);
      if (!g.publicKeyPem || !g.sealedPrivateKey) throw invalid('this gateway has no key pair yet: make its first member with `gatehouse-agent register`');
      sendJson(ctx.res, 200, { publicKeyPem: g.publicKeyPem, sealedPrivateKey: g.sealedPrivateKey });
    }),
    // Members authenticated by their credential: the current gateway key (and the hand-off after a rotation),
    // and the two steps of a rotation.
    route('GET', '/v1/agent/key', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx, routeRate);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      routeRate.admit(`tenant:${g.ownerTid}`, AGENT_ROUTE_RATE_PER_TENANT);
      sendJson(ctx.res, 200, {
        publicKeyPem: g.publicKeyPem,
        sealedPrivateKey: g.sealedPrivateKey,
        keyHandoff: g.keyHandoff,
        previousPublicKeyPem: g.previousPublicKeyPem,
      });
    }),
    route('POST', '/v1/agent/rotate/begin', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx, routeRate);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      routeRate.admit(`tenant:${g.ownerTid}`, AGENT_ROUTE_RATE_PER_TENANT);
      oneAtATime(rotating, ctx, m.id, g.ownerTid);
      rotationStep(rotations, g);
      // The one read of the gateway's blobs: only those, with their ids.
      const list = await deps.store.listGatewaySealedCredentials(m.gatewayId);
      sendJson(ctx.res, 200, { connections: list.map((c) => ({ id: c.id, sealed: c.sealed })) });
    }),
    route('POST', '/v1/agent/rotate/commit', AGENT_ONLY, async (ctx) => {
      const m = await agentMember(deps, ctx, routeRate);
      const g = (await deps.store.getGateway(m.gatewayId))!;
      routeRate.admit(`tenant:${g.ownerTid}`, AGENT_ROUTE_RATE_PER_TENANT);
      oneAtATime(rotating, ctx, m.id, g.ownerTid);
      rotationStep(rotations, g);
      // Which connections have credentials is all the commit needs, not the blobs (red team session 17 F4).
      const sealed = (await deps.store.listGatewaySealedIds(g.id)).length;
      const held = deps.heldBodies.share({ tenant: g.ownerTid, caller: undefined, gateway: g.id, connection: `member:${m.id}` });
      ctx.res.once('close', held.release);
      const body = await readCommitBody(ctx.req, sealed, apiBodyTimes(deps.config), held);
      const previous = reqString(body, 'previousPublicKeyPem', 8192);
      if (!samePublicKey(previous, g.publicKeyPem)) {
        throw invalid('the gateway key changed since this rotation began: run it again');
      }
      const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
      if (!isGatewayPublicKey(publicKeyPem)) {
        throw invalid(`publicKeyPem must be an RSA public key of 2048 to ${MAX_ROTATED_KEY_BITS} bits with the public exponent 65537`);
      }
      const resealed = Array.isArray(body.resealed) ? (body.resealed as Array<{ connectionId: unknown; sealed: unknown }>) : [];
      const want = new Set(await deps.store.listGatewaySealedIds(g.id));
      const got = new Set(resealed.map((r) => String(r.connectionId)));
      if (want.size !== got.size || [...want].some((id) => !got.has(id)) || resealed.some((r) => typeof r.sealed !== 'string')) {
        throw invalid('the connections changed since this rotation began: run it again');
      }
      // Each resealed credential is held to what the connections API takes: sealed for the new key, its size and
      // structure checked (red team, session 17, F3: a commit stored 3 MB on one connection, and every list read it).
      const modulusBytes = gatewayKeyInfo(publicKeyPem).modulusBytes;
      resealed.forEach((r, i) => {
        const problem = sealedStructureProblem(r.sealed as string, modulusBytes);
        if (problem) throw invalid(`resealed[${i}].sealed ${problem} (sealed credentials for the new gateway key)`);
      });
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
      const { body, gatewayId, key } = await readRegistrationBody(deps, ctx);
      const name = optString(body, 'name', 128) ?? 'agent';
      const hostname = optString(body, 'hostname', 255) ?? '';
      const version = optString(body, 'version', 64) ?? '';
      // Shown to callers as HELLO's are: visible text only (red-team finding B8).
      if (hasUnquotable(name) || hasUnquotable(hostname) || hasUnquotable(version))
        throw invalid('name, hostname and version must be visible text (no control, format, invisible or line-separator characters)');
      const g = await gatewayForKey(deps, ctx, gatewayId, key, false);
      registrationRate(g);
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
        // A valid registration key passes the agent authentication limits, and a failed proof does not use it up:
        // the failed proofs are counted per gateway, so no loop of them makes the hub check signatures for long.
        const wait = joinFailures.waitMs(g.id);
        if (wait > 0) {
          const seconds = Math.max(1, Math.ceil(wait / 1000));
          throw new GatehouseError(
            'TooManyRequests',
            `agent -> hub: ${JOIN_FAILURES_PER_GATEWAY.limit} join proofs for this gateway failed in ${JOIN_FAILURES_PER_GATEWAY.periodMs / 60_000} minutes; try again in ${seconds} seconds`,
            { 'retry-after': String(seconds) },
          );
        }
        let ok = false;
        try {
          // A key stored before the hub held keys to 65537 and 4096 bits is not used (its check could cost much).
          ok =
            isGatewayPublicKey(g.publicKeyPem) &&
            cryptoVerify('sha256', Buffer.from(`gatehouse-join:${gatewayId}:${key}`), g.publicKeyPem, Buffer.from(proof, 'base64'));
        } catch {
          ok = false;
        }
        if (!ok) {
          joinFailures.add(g.id);
          deps.agentAuth.failure(clientAddress(ctx.req, deps.config.trustedProxies), `gateway:${gatewayId}`, 'registration');
          throw new GatehouseError('Unauthorized', 'agent -> hub: the join proof does not match the gateway key (wrong recovery key?)');
        }
        await gatewayForKey(deps, ctx, gatewayId, key, true);
      } else {
        const publicKeyPem = reqString(body, 'publicKeyPem', 8192);
        const sealedPrivateKey = reqString(body, 'sealedPrivateKey', 16384);
        if (!isGatewayPublicKey(publicKeyPem))
          throw invalid(`publicKeyPem must be an RSA public key of 2048 to ${MAX_ROTATED_KEY_BITS} bits with the public exponent 65537`);
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
      // Its first connection must get through even while its address is over the failure limit (agents/auth-guard.ts).
      deps.agentAuth.known.remember(memberId, hash);
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
