// What route handlers get (deps.ts), built once per hub: the store behind its read cache, the agent registry,
// caller authentication, metrics, On-Behalf-Of, the HTTP client pools, presence and throttling (in Redis when
// several hubs share it, in memory otherwise), and the per-call caps.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Agent as UndiciAgent, buildConnector } from 'undici';
import { Limits } from '@gatehouse/shared';
import type { HubConfig } from './config.js';
import type { HubDeps } from './deps.js';
import type { Logger } from './log.js';
import { createHubMetrics } from './metrics.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { withReadCache } from './store/read-cache.js';
import { AgentRegistry } from './agents/registry.js';
import { AgentAuthGuard } from './agents/auth-guard.js';
import { createCallerAuth, openIdKeySource, type KeySource } from './auth/caller-auth.js';
import { callerIdentifier } from './auth/identify.js';
import { ApiRate } from './http/api-rate.js';
import { createOboClient, type OboClient } from './auth/obo.js';
import { createMemoryThrottle, type Throttle } from './throttle/memory-throttle.js';
import { createRedisThrottle } from './throttle/redis-throttle.js';
import { localPresence, redisPresence } from './cluster/presence.js';
import { connectRedis } from './cluster/redis.js';
import { startHubDirectory } from './cluster/hubs.js';
import { HeldBodies } from './relay/invoke-body.js';
import { DirectNetworks, REFUSED_ADDRESS, clusterMarker } from './relay/direct-networks.js';
import { CallCaps } from './http/call-caps.js';
import { createAudit } from './audit/audit.js';
import { REGISTRATION_KEY_TTL_MS } from './http/registration-keys.js';

/** What tests and `dev` may put in place of the real thing. */
export interface HubOptions {
  log?: Logger;
  store?: Store;
  keySource?: KeySource;
  throttle?: Throttle;
  now?: () => Date;
  obo?: OboClient;
  /** `dev` only: the console's development token (http/console.ts). */
  consoleDevToken?: () => Promise<{ accessToken: string; expiresOn: number }>;
}

export interface HubParts {
  deps: HubDeps;
  /** The store itself, past the read cache (member sync reads what other hubs changed). */
  storeItself: Store;
  /** When GATEHOUSE_REDIS_URL is set. */
  redis: Redis | undefined;
}

export async function createHubDeps(config: Readonly<HubConfig>, opts: HubOptions, log: Logger): Promise<HubParts> {
  const storeItself = opts.store ?? (await openStore(config.database, { waitMs: config.databaseWaitMs, log }));
  const store = withReadCache(storeItself, 2000);
  const registry = new AgentRegistry();
  const authenticate = createCallerAuth(opts.keySource ?? openIdKeySource(config.authorityHost, { cooldownMs: config.jwksCooldownMs }), {
    audiences: [config.clientId, config.appIdUri],
    scope: config.scope,
    appRole: config.appRole,
    allowedTenants: config.allowedTenants,
    clockToleranceSec: 300,
  });
  const metrics = createHubMetrics(
    () => registry.all().filter((s) => s.isOpen).length,
    () => registry.streamsOpen(),
  );
  const audiences = [config.clientId, config.appIdUri];
  const obo =
    opts.obo ??
    createOboClient({
      authorityHost: config.authorityHost,
      clientId: config.clientId,
      clientSecret: config.clientSecret,
      clientCertificate: config.clientCertificate,
      audiences,
      log,
    });
  metrics.oboHeld.read = () => obo.held();
  const httpClient = (maxHeaderSize: number) => new UndiciAgent({ connect: { timeout: 10_000 }, keepAliveTimeout: 4_000, maxHeaderSize });
  // EntraAuth calls connect only to addresses the hub may call; relays to other hubs go to their advertise URLs.
  const directNetworks = new DirectNetworks(config.entraAllowNetworks, config.clusterSecret ? clusterMarker(config.clusterSecret) : undefined);
  // Permitted addresses only (the lookup), and never the hub's own listeners (checked on the connected socket).
  const toPermitted = buildConnector({ timeout: 10_000, lookup: directNetworks.lookup });
  const dispatcher = new UndiciAgent({
    connect: (options, callback) =>
      toPermitted(options, (err, socket) => {
        if (err || !socket) return callback(err ?? new Error('no socket'), null);
        if (!directNetworks.reachesOwnListener(socket)) return callback(null, socket);
        socket.destroy();
        callback(Object.assign(new Error(directNetworks.ownListenerRefusal(options.hostname, Number(options.port))), { code: REFUSED_ADDRESS }), null);
      }),
    keepAliveTimeout: 4_000,
    maxHeaderSize: Limits.maxResponseHeadBytes,
  });
  const hubDispatcher = httpClient(Limits.maxResponseHeadBytes + 1024);
  const hubId = randomUUID();
  // Several hubs share throttling and agent presence through Redis; a single hub keeps both in memory.
  const redis = config.redisUrl ? await connectRedis(config.redisUrl, log) : undefined;
  const presence = redis ? redisPresence(redis, registry, hubId, config.advertiseUrl!, config.clusterSecret!, log) : localPresence(registry, hubId);
  const hubs = redis
    ? await startHubDirectory(redis, hubId, config.agentAdvertiseUrl, config.clusterSecret!, log, (msg) => {
        for (const s of registry.all()) s.tellHubs(msg);
      })
    : undefined;
  const apiRate = new ApiRate(config.apiRate, config.apiTenantRate);
  const now = opts.now ?? (() => new Date());
  const deps: HubDeps = {
    config,
    log,
    store,
    registry,
    authenticate,
    metrics,
    obo,
    dispatcher,
    hubDispatcher,
    presence,
    hubs,
    heldBodies: new HeldBodies(config.maxHeldBodyBytes, config.maxHeldBodyShareBytes),
    directNetworks,
    callCaps: new CallCaps({ perConnection: config.maxCallsPerConnection, perCaller: config.maxCallsPerCaller, perGateway: config.maxCallsPerGateway }),
    throttle:
      opts.throttle ??
      (redis
        ? createRedisThrottle(redis, config.throttle.limit, config.throttle.periodMs)
        : createMemoryThrottle(config.throttle.limit, config.throttle.periodMs)),
    now,
    // The store itself (past the read cache): what other hubs added is read when needed (agents/known-credentials.ts).
    agentAuth: new AgentAuthGuard(
      { perAddress: config.agent.authFailuresPerAddress, perMember: config.agent.authFailuresPerMember },
      log,
      Date.now,
      (limit, since) =>
        // A key issued at `since` or later expires REGISTRATION_KEY_TTL_MS after it.
        storeItself.agentSecretHashes(
          limit,
          since === undefined ? '' : new Date(since).toISOString(),
          Math.max(now().getTime(), since === undefined ? 0 : since + REGISTRATION_KEY_TTL_MS),
        ),
    ),
    caller: callerIdentifier(authenticate, log, apiRate),
    apiRate,
    audit: createAudit(storeItself.audit, log, now),
  };
  return { deps, storeItself, redis };
}
