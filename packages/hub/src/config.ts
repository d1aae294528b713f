// Hub configuration: the settings (settings.ts) read from flags and the environment, checked together, mapped
// into HubConfig. The only file that reads process.env. Validated once, every error collected, then frozen.
import type { BlockList } from 'node:net';
import { parseNetworks } from './relay/direct-networks.js';
import { parseTrustedProxies } from './http/client-address.js';
import { agentUrlOf } from './cluster/agent-url.js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';

import { deepFreeze, readSettings } from '@gatehouse/shared';
import { CLOUDS, type Cloud } from './auth/clouds.js';
import { HUB_SETTINGS } from './settings.js';

export type { Cloud } from './auth/clouds.js';

export interface HubConfig {
  listen: { host: string; port: number };
  /** Where GET /metrics is served instead of the main port (GATEHOUSE_METRICS_LISTEN). */
  metricsListen: { host: string; port: number } | undefined;
  database: string;
  redisUrl: string | undefined;
  /** Several hubs: how the other hubs reach this one (relaying calls to agents connected here). */
  advertiseUrl: string | undefined;
  /** Several hubs: the shared secret hubs use to authenticate relays to each other. */
  clusterSecret: string | undefined;
  /** Several hubs: the URL agents dial this hub at directly (listed to them in HUBS); undefined: not listed. */
  agentAdvertiseUrl: string | undefined;
  clientId: string;
  clientSecret: string | undefined;
  /** Certificate credential for On-Behalf-Of, instead of a secret (GATEHOUSE_CLIENT_CERTIFICATE: a PEM file with key and certificate). */
  clientCertificate: { thumbprintSha256: string; privateKey: string; x5c: string } | undefined;
  appIdUri: string;
  scope: string;
  /** The app role that admits app-only callers (their `roles` claim). Default Gatehouse.Invoke. */
  appRole: string;
  cloud: Cloud;
  authorityHost: string;
  /** Least time between two signing-key fetches caused by tokens with unknown key ids. Default 30 s. */
  jwksCooldownMs: number;
  /** 'common' (any tenant) or the allowed tenant ids. */
  allowedTenants: 'common' | readonly string[];
  /** Private networks (CIDR) the hub may call for EntraAuth connections; loopback, link-local and private
   *  addresses are refused otherwise (relay/direct-networks.ts). */
  entraAllowNetworks: BlockList;
  /** GATEHOUSE_TRUSTED_PROXIES: proxies whose X-Forwarded-For names the agent's address (http/client-address.ts). Default none. */
  trustedProxies: BlockList;
  throttle: { limit: number; periodMs: number };
  /** Management API requests per caller / per tenant (http/api-rate.ts). */
  apiRate: { limit: number; periodMs: number };
  apiTenantRate: { limit: number; periodMs: number };
  /** Largest invoke request body (decoded) and relayed response body. Default 100 MiB (Logic Apps message size). */
  maxBodyBytes: number;
  /** All invoke bodies the hub holds in memory at once (those it reads whole), across calls. */
  maxHeldBodyBytes: number;
  /** The most of maxHeldBodyBytes one tenant, caller, gateway or connection may hold. */
  maxHeldBodyShareBytes: number;
  /** An invoke body read whole must arrive within this (GATEHOUSE_HELD_BODY_TIMEOUT). */
  heldBodyTimeoutMs: number;
  /** Largest body on the raw proxy route, each way (streamed). Default 1 GiB. */
  maxRawBodyBytes: number;
  /** Longest request URL and invoke target URL. Default 2048 characters (the gateway's limit). */
  maxUrlLength: number;
  /** Largest request head (request line and headers). Default 32 KiB; over it 431 with the coded error (http/client-error.ts). */
  maxHeaderBytes: number;
  /** The request line and headers must arrive within this (from the request's first byte). Default 10 s; over it 408. */
  headTimeoutMs: number;
  /** An idle caller connection is kept open this long for its next request (Node's keepAliveTimeout, advertised in
   *  `Keep-Alive: timeout=`). Default 75 s: over the idle timeouts of common load balancers and HTTP clients. */
  keepAliveTimeoutMs: number;
  /** The least average rate of a request body while the hub waits for it, bytes per second (0: no floor). Default 1 KiB/s. */
  minBodyRate: number;
  /** How long a request may run before the body rate floor applies (then it is averaged over BODY_RATE_WINDOW_SEC). Default 10 s. */
  bodyRateGraceMs: number;
  /** Calls in progress (invoke and raw route) at once: per connection, per caller (tid, oid), per gateway. Defaults 100, 200, 500. */
  maxConnectionsPerAddress: number;
  maxCallsPerConnection: number;
  maxCallsPerCaller: number;
  maxCallsPerGateway: number;
  /** Gateways and connections one caller (tid, oid) and one tenant may own (red team B7: one caller made 3,000 of
   *  each in 9 s). Defaults 200 and 2,000 gateways, 1,000 and 10,000 connections. */
  maxGatewaysPerCaller: number;
  maxGatewaysPerTenant: number;
  maxConnectionsPerCaller: number;
  maxConnectionsPerTenant: number;
  /** Raw route: a call with no body bytes moving either way for this long is cancelled. Default 60 s. */
  idleTimeoutMs: number;
  /** Largest per-connection timeout a caller may set. Default 600 s. */
  maxTimeoutMs: number;
  /** On stop: how long requests in flight may take to finish (0: cut at once). */
  drainTimeoutMs: number;
  /** At start: how long an unreachable PostgreSQL is retried before the hub gives up. */
  databaseWaitMs: number;
  /** Default per-connection timeout. Default 120 s (the Power Automate synchronous limit). */
  defaultTimeoutMs: number;
  logLevel: string;
  /** How long audit records are kept (GATEHOUSE_AUDIT_DAYS, default 90 days). */
  auditRetentionMs: number;
  /** The web console's built files (GATEHOUSE_CONSOLE_DIR); undefined: those built beside the hub; 'none': no console. */
  consoleDir: string | undefined;
  /** What one agent connection may make the hub hold and wait for (docs/protocol.md "Memory one gateway can hold"). */
  agent: {
    /** Bytes queued toward one agent, every frame type; over it close 4011. Default 8 MiB. */
    queueMaxBytes: number;
    /** Calls in progress on one agent connection; over it 503. Default 256. */
    maxStreams: number;
    /** An agent that leaves the hub's ping unanswered this long is closed with 4011. Default 30 s. */
    readTimeoutMs: number;
    /** Time from the upgrade to HELLO (else close 4005). Default 5 s. */
    helloTimeoutMs: number;
    /** Connections waiting for HELLO, per member and on the whole hub (else close 4012). Default 4 and 256. */
    pendingPerMember: number;
    pendingTotal: number;
    /** Agent tunnels (waiting for HELLO or open) one tenant may hold on this hub; over it 429. 0: no cap. Default 1000. */
    maxTunnelsPerTenant: number;
    /** Failed agent authentications allowed per member (or gateway) id from one source address, and per source address; beyond, 429. */
    authFailuresPerMember: { limit: number; periodMs: number };
    authFailuresPerAddress: { limit: number; periodMs: number };
    /** WebSocket frames one agent connection may send per period; past it close 4013. Default 50,000 per 1 s. */
    frameRate: { limit: number; periodMs: number };
    /** Frames all connections of one tenant may send per period (backpressure past it). Default 50,000 per 1 s. */
    tenantFrameRate: { limit: number; periodMs: number };
    /** Frames all agent connections on the hub may send per period, shared fairly (backpressure). Default 100,000 per 1 s. */
    hubFrameRate: { limit: number; periodMs: number };
  };
}

export class ConfigError extends Error {
  readonly code = 'GATEHOUSE_CONFIG_ERROR';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
  }
}

export type Source = Record<string, string | undefined>;

/**
 * The hub's configuration from its flags (`parseFlags(...).all`, by flag name) over the environment
 * (settings.ts declares each setting); NAME_FILE reads a value from a file.
 */
export function loadConfig(
  env: Source,
  flags: Readonly<Record<string, readonly string[] | undefined>> = {},
  opts: { requireClientId?: boolean } = {},
): Readonly<HubConfig> {
  const { values: v, problems } = readSettings(HUB_SETTINGS, { env, flags, readFile: (path) => readFileSync(path, 'utf8') });

  const database = v.database ?? '';
  const advertiseUrl = v.advertiseUrl?.replace(/\/+$/, '');
  if (v.redisUrl) {
    if (!advertiseUrl || !/^https?:\/\/[^/]+$/.test(advertiseUrl))
      problems.push('GATEHOUSE_ADVERTISE_URL (http(s)://host:port other hubs reach this one at) is required with GATEHOUSE_REDIS_URL');
    if (!v.clusterSecret || v.clusterSecret.length < 32)
      problems.push('GATEHOUSE_CLUSTER_SECRET of at least 32 characters is required with GATEHOUSE_REDIS_URL');
    if (database.startsWith('sqlite:')) problems.push('several hubs (GATEHOUSE_REDIS_URL) need a shared database: GATEHOUSE_DATABASE=postgres://…');
  }

  // The URL agents are told (none: not listed); the advertise URL unless set. Checked whole (cluster/agent-url.ts).
  const agentAdvertiseWanted = v.agentAdvertiseUrl === 'none' ? undefined : (v.agentAdvertiseUrl ?? advertiseUrl);
  const agentAdvertised = agentAdvertiseWanted === undefined ? undefined : agentUrlOf(agentAdvertiseWanted);
  if (agentAdvertised && 'problem' in agentAdvertised) problems.push(agentAdvertised.problem);
  const agentAdvertiseUrl = agentAdvertised && 'url' in agentAdvertised ? agentAdvertised.url : undefined;

  const clientId = v.clientId ?? '';
  if (!clientId && opts.requireClientId !== false) problems.push("GATEHOUSE_CLIENT_ID is required (the hub's Entra app id)");

  const authorityHost = (v.authorityHost ?? (v.cloud ? CLOUDS[v.cloud].login : '')).replace(/\/+$/, '');
  if ((v.cloud || v.authorityHost) && !/^https:\/\/[^/?#@]+$/.test(authorityHost)) problems.push('GATEHOUSE_AUTHORITY_HOST must be https://host[:port]');

  const tenants = v.allowedTenants ?? [];
  const allowedTenants = tenants.length === 1 && tenants[0]!.toLowerCase() === 'common' ? ('common' as const) : tenants.map((t) => t.toLowerCase());

  const clientCertificate = v.clientCertificate ? readCertificate(v.clientCertificate, problems) : undefined;

  if (problems.length > 0) throw new ConfigError(problems);
  const maxTimeoutMs = v.maxTimeoutMs!;
  const [pendingPerMember, pendingTotal] = v.agentPendingMax!;
  return deepFreeze({
    listen: v.listen!,
    metricsListen: v.metricsListen,
    database,
    redisUrl: v.redisUrl,
    advertiseUrl,
    clusterSecret: v.clusterSecret,
    agentAdvertiseUrl,
    clientId,
    clientSecret: v.clientSecret,
    clientCertificate,
    appIdUri: v.appIdUri ?? `api://${clientId}`,
    scope: v.scope!,
    appRole: v.appRole!,
    cloud: v.cloud!,
    authorityHost,
    allowedTenants,
    entraAllowNetworks: parseNetworks(v.entraAllowNetworks!) as BlockList,
    trustedProxies: parseTrustedProxies(v.trustedProxies!) as BlockList,
    jwksCooldownMs: v.jwksCooldownMs!,
    throttle: v.throttle!,
    apiRate: v.apiRate!,
    apiTenantRate: v.apiTenantRate!,
    maxBodyBytes: v.maxBodyBytes!,
    maxHeldBodyBytes: v.maxHeldBodyBytes!,
    maxHeldBodyShareBytes: 'percent' in v.maxHeldBodyShare! ? Math.floor((v.maxHeldBodyBytes! * v.maxHeldBodyShare.percent) / 100) : v.maxHeldBodyShare!.bytes,
    maxRawBodyBytes: v.maxRawBodyBytes!,
    maxUrlLength: v.maxUrlLength!,
    maxHeaderBytes: v.maxHeaderBytes!,
    headTimeoutMs: v.headTimeoutMs!,
    heldBodyTimeoutMs: v.heldBodyTimeoutMs!,
    keepAliveTimeoutMs: v.keepAliveTimeoutMs!,
    minBodyRate: v.minBodyRate!,
    bodyRateGraceMs: v.bodyRateGraceMs!,
    maxConnectionsPerAddress: v.maxConnectionsPerAddress!,
    maxCallsPerConnection: v.maxCallsPerConnection!,
    maxCallsPerCaller: v.maxCallsPerCaller!,
    maxCallsPerGateway: v.maxCallsPerGateway!,
    maxGatewaysPerCaller: v.maxGatewaysPerCaller!,
    maxGatewaysPerTenant: v.maxGatewaysPerTenant!,
    maxConnectionsPerCaller: v.maxConnectionsPerCaller!,
    maxConnectionsPerTenant: v.maxConnectionsPerTenant!,
    idleTimeoutMs: v.idleTimeoutMs!,
    maxTimeoutMs,
    drainTimeoutMs: v.drainTimeoutMs!,
    databaseWaitMs: v.databaseWaitMs!,
    defaultTimeoutMs: Math.min(120_000, maxTimeoutMs),
    logLevel: v.logLevel!,
    auditRetentionMs: Math.round(v.auditDays! * 86_400_000),
    consoleDir: v.consoleDir,
    agent: {
      queueMaxBytes: v.agentQueueMaxBytes!,
      maxStreams: v.agentMaxStreams!,
      readTimeoutMs: v.agentReadTimeoutMs!,
      helloTimeoutMs: v.agentHelloTimeoutMs!,
      pendingPerMember,
      pendingTotal,
      maxTunnelsPerTenant: v.maxTunnelsPerTenant!,
      authFailuresPerMember: v.agentAuthFailures!,
      authFailuresPerAddress: v.agentAuthFailuresPerAddress!,
      frameRate: v.agentFrameRate!,
      tenantFrameRate: v.agentTenantFrameRate!,
      hubFrameRate: v.agentHubFrameRate!,
    },
  });
}

/** GATEHOUSE_CLIENT_CERTIFICATE: a PEM file with the private key and the certificate. */
function readCertificate(path: string, problems: string[]): HubConfig['clientCertificate'] {
  try {
    const pem = readFileSync(path, 'utf8');
    const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
    const key = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(pem)?.[0];
    if (!cert || !key) throw new Error('needs both');
    const x509 = new X509Certificate(cert);
    return { thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(), privateKey: key, x5c: x509.raw.toString('base64') };
  } catch {
    problems.push('GATEHOUSE_CLIENT_CERTIFICATE must be a readable PEM file with a private key and a certificate');
    return undefined;
  }
}
