// Hub configuration: the only file that reads process.env. Validated once, every error collected, then frozen.
import type { BlockList } from 'node:net';
import { parseNetworks } from './relay/direct-networks.js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';

import { AgentBounds, parseHostPort } from '@gatehouse/shared';
import { CLOUDS, type Cloud } from './auth/clouds.js';

export type { Cloud } from './auth/clouds.js';

export interface HubConfig {
  listen: { host: string; port: number };
  database: string;
  redisUrl: string | undefined;
  /** Several hubs: how the other hubs reach this one (relaying calls to agents connected here). */
  advertiseUrl: string | undefined;
  /** Several hubs: the URL agents dial this hub at directly (listed to them in HUBS); undefined: not listed. */
  agentAdvertiseUrl: string | undefined;
  /** Several hubs: the shared secret hubs use to authenticate relays to each other. */
  clusterSecret: string | undefined;
  clientId: string;
  clientSecret: string | undefined;
  /** Certificate credential for On-Behalf-Of, instead of a secret (GATEHOUSE_CLIENT_CERTIFICATE: a PEM file with key and certificate). */
  clientCertificate: { thumbprintSha256: string; privateKey: string; x5c: string } | undefined;
  appIdUri: string;
  scope: string;
  cloud: Cloud;
  authorityHost: string;
  /** Least time between two signing-key fetches caused by tokens with unknown key ids. Default 30 s. */
  jwksCooldownMs: number;
  /** 'common' (any tenant) or the allowed tenant ids. */
  allowedTenants: 'common' | readonly string[];
  /** Private networks (CIDR) the hub may call for EntraAuth connections; loopback, link-local and private
   *  addresses are refused otherwise (relay/direct-networks.ts). */
  entraAllowNetworks: BlockList;
  throttle: { limit: number; periodMs: number };
  /** Largest invoke request body (decoded) and relayed response body. Default 100 MiB (Logic Apps message size). */
  maxBodyBytes: number;
  /** All invoke bodies the hub holds in memory at once (those it reads whole), across calls. */
  maxHeldBodyBytes: number;
  /** The most of maxHeldBodyBytes one caller, gateway or connection may hold. */
  maxHeldBodyShareBytes: number;
  /** Largest body on the raw proxy route, each way (streamed). Default 1 GiB. */
  maxRawBodyBytes: number;
  /** Longest request URL and invoke target URL. Default 2048 characters (the gateway's limit). */
  maxUrlLength: number;
  /** Largest request head (request line and headers). Default 32 KiB; over it 431 with the coded error (http/client-error.ts). */
  maxHeaderBytes: number;
  /** The request line and headers must arrive within this (from the request's first byte). Default 10 s; over it 408. */
  headTimeoutMs: number;
  /** The least average rate of a request body while the hub waits for it, bytes per second (0: no floor). Default 1 KiB/s. */
  minBodyRate: number;
  /** How long a request may run before the body rate floor applies (then it is averaged over BODY_RATE_WINDOW_SEC). Default 10 s. */
  bodyRateGraceMs: number;
  /** Calls in progress (invoke and raw route) at once: per connection, per caller (tid, oid), per gateway. Defaults 100, 200, 500. */
  maxCallsPerConnection: number;
  maxCallsPerCaller: number;
  maxCallsPerGateway: number;
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
    /** Failed agent authentications allowed per member (or gateway) id from one source address, and per source address; beyond, 429. */
    authFailuresPerMember: { limit: number; periodMs: number };
    authFailuresPerAddress: { limit: number; periodMs: number };
    /** WebSocket frames one agent connection may send per period; past it close 4013. Default 50,000 per 1 s. */
    frameRate: { limit: number; periodMs: number };
  };
}

/** Every setting: environment name, flag name, default, help line. `serve --help` prints this table. */
export const SETTINGS = [
  ['GATEHOUSE_LISTEN', '--listen', '127.0.0.1:8080', 'host:port to listen on'],
  ['GATEHOUSE_DATABASE', '--database', 'sqlite:./gatehouse.db', 'sqlite:PATH, or postgres://user:pass@host/db for several hubs'],
  ['GATEHOUSE_REDIS_URL', '--redis-url', '', 'redis://host:port: shared throttling and agent presence for several hubs'],
  ['GATEHOUSE_ADVERTISE_URL', '--advertise-url', '', 'several hubs: the URL other hubs use to reach this one (http://10.0.0.5:8080)'],
  ['GATEHOUSE_AGENT_ADVERTISE_URL', '--agent-advertise-url', 'the advertise URL', "several hubs: the URL agents use to reach this hub directly (each agent keeps a tunnel to every listed hub); none: not listed, agents reach it only through their --hub addresses"],
  ['GATEHOUSE_CLUSTER_SECRET', '--cluster-secret', '', 'several hubs: shared secret signing hub-to-hub relays and their answers, the hub list and agent presence (also _FILE), 32+ characters'],
  ['GATEHOUSE_CLIENT_ID', '--client-id', '', "the hub's Entra app (client) id (required)"],
  ['GATEHOUSE_CLIENT_SECRET', '--client-secret', '', "the hub's Entra app secret (used for On-Behalf-Of; also GATEHOUSE_CLIENT_SECRET_FILE)"],
  ['GATEHOUSE_CLIENT_CERTIFICATE', '--client-certificate', '', 'PEM file with private key and certificate, used instead of a client secret'],
  ['GATEHOUSE_APP_ID_URI', '--app-id-uri', 'api://{client id}', 'second accepted audience'],
  ['GATEHOUSE_SCOPE', '--scope', 'user_impersonation', 'delegated scope callers need in scp'],
  ['GATEHOUSE_CLOUD', '--cloud', 'AzurePublic', 'AzurePublic | AzureUSGovernment | AzureUSGovernmentDoD | AzureChina'],
  ['GATEHOUSE_AUTHORITY_HOST', '--authority-host', "the cloud's", 'sign-in host override (https only)'],
  ['GATEHOUSE_ALLOWED_TENANTS', '--allowed-tenants', 'common', 'common, or tenant ids separated by commas'],
  ['GATEHOUSE_ENTRA_ALLOW_NETWORKS', '--entra-allow-networks', '', 'private networks EntraAuth calls may reach, CIDR, comma-separated (e.g. 10.20.0.0/16); loopback, link-local and private addresses are refused otherwise'],
  ['GATEHOUSE_JWKS_COOLDOWN', '--jwks-cooldown', '30s', 'least time between signing-key refetches caused by unknown key ids'],
  ['GATEHOUSE_THROTTLE', '--throttle', '100/60s', 'calls per period per connection, e.g. 100/60s, 1000/1h'],
  ['GATEHOUSE_MAX_BODY', '--max-body', '100MiB', 'largest invoke body, each way (B, KiB, MiB, GiB)'],
  ['GATEHOUSE_MAX_HELD_BODIES', '--max-held-bodies', '512MiB', 'all invoke bodies and answers the hub reads whole (up to 1 MiB each, or a request with body before method/url/headers), held at once across calls; over it 503 for the latter, the rest stream instead'],
  ['GATEHOUSE_MAX_HELD_BODIES_SHARE', '--max-held-bodies-share', '25%', 'the most of GATEHOUSE_MAX_HELD_BODIES one caller (tenant, object id), one gateway or one connection may hold: a percentage of it or a size; over it that caller gets 503 (or its answers stream) while others are still served'],
  ['GATEHOUSE_MAX_RAW_BODY', '--max-raw-body', '1GiB', 'largest body on the raw proxy route, each way (streamed)'],
  ['GATEHOUSE_MAX_URL_LENGTH', '--max-url-length', '2048', 'longest request URL and invoke target URL, in characters'],
  ['GATEHOUSE_MAX_HEADER_BYTES', '--max-header-bytes', '32KiB', 'largest request line + headers (over it: 431)'],
  ['GATEHOUSE_HEAD_TIMEOUT', '--head-timeout', '10s', 'the request line and headers must arrive within this; over it 408 RequestTimeout and the connection closed'],
  ['GATEHOUSE_MIN_BODY_RATE', '--min-body-rate', '1KiB', 'least request body rate per second, averaged over 10 s after the grace, while the hub waits for the caller (0: off); under it 408 RequestTimeout'],
  ['GATEHOUSE_BODY_RATE_GRACE', '--body-rate-grace', '10s', 'how long a request runs before GATEHOUSE_MIN_BODY_RATE applies'],
  ['GATEHOUSE_MAX_CALLS_PER_CONNECTION', '--max-calls-per-connection', '100', 'invoke and raw route calls in progress at once on one connection; over it 429 TooManyRequests'],
  ['GATEHOUSE_MAX_CALLS_PER_CALLER', '--max-calls-per-caller', '200', 'invoke and raw route calls in progress at once for one caller (tenant, object id); over it 429 TooManyRequests'],
  ['GATEHOUSE_MAX_CALLS_PER_GATEWAY', '--max-calls-per-gateway', '500', 'calls in progress at once through one gateway; over it 503 ServiceUnavailable'],
  ['GATEHOUSE_IDLE_TIMEOUT', '--idle-timeout', '60s', 'raw route: cancel a call when no body bytes move for this long; other routes: refuse a request body that stalls this long'],
  ['GATEHOUSE_MAX_TIMEOUT', '--max-timeout', '600s', 'largest per-connection timeout, at most 24h (default per connection: 120s)'],
  ['GATEHOUSE_DATABASE_WAIT', '--database-wait', '60s', 'at start: how long to wait for an unreachable PostgreSQL before giving up (0s: no wait)'],
  ['GATEHOUSE_DRAIN_TIMEOUT', '--drain-timeout', '30s', 'on SIGTERM: how long calls in flight may take to finish before the hub exits (0s: no wait)'],
  ['GATEHOUSE_AGENT_QUEUE_MAX', '--agent-queue-max', '8MiB', 'bytes of frames queued toward one agent (every type; at least 2MiB); over it the agent is closed with 4011 (not reading) and its calls fail with 502'],
  ['GATEHOUSE_AGENT_READ_TIMEOUT', '--agent-read-timeout', '30s', "the hub pings each agent; one that leaves a ping unanswered this long is closed with 4011 and its calls fail with 502"],
  ['GATEHOUSE_AGENT_MAX_STREAMS', '--agent-max-streams', '256', 'calls in progress on one agent connection; one more gets 503 (the member takes no more until one ends)'],
  ['GATEHOUSE_AGENT_FRAME_RATE', '--agent-frame-rate', '50000/1s', 'WebSocket frames of every kind (continuations, pings, pongs) one agent connection may send per period; past it the agent is closed with 4013 (frame flood); a busy real agent sends a few thousand a second'],
  ['GATEHOUSE_AGENT_HELLO_TIMEOUT', '--agent-hello-timeout', '5s', 'time an authenticated agent connection has to send HELLO (else close 4005)'],
  ['GATEHOUSE_AGENT_PENDING_MAX', '--agent-pending-max', '4/256', 'agent connections waiting for HELLO, per member/on the whole hub; at a cap the longest-waiting is closed with 4012'],
  ['GATEHOUSE_AGENT_AUTH_FAILURES', '--agent-auth-failures', '10/60s', 'failed agent authentications per member id (registration: per gateway id) from one source address, per period; beyond it 429 before any lookup'],
  ['GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS', '--agent-auth-failures-per-address', '100/60s', 'failed agent authentications per source address per period; beyond it 429 before any lookup'],
  ['GATEHOUSE_LOG_LEVEL', '--log-level', 'info', 'fatal | error | warn | info | debug | trace | silent'],
] as const;

export class ConfigError extends Error {
  readonly code = 'GATEHOUSE_CONFIG_ERROR';
  constructor(readonly problems: string[]) { super(problems.join('; ')); this.name = 'ConfigError'; }
}

const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i;
const UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
export function parseSize(v: string): number | undefined {
  const m = SIZE.exec(v.trim());
  return m ? Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]! : undefined;
}
const DURATION = /^(\d+)\s*(ms|s|m|h)?$/;
const DUR_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export function parseDuration(v: string, defaultUnit = 's'): number | undefined {
  const m = DURATION.exec(v.trim());
  return m ? Number(m[1]) * DUR_UNITS[m[2] ?? defaultUnit]! : undefined;
}

export type Source = Record<string, string | undefined>;

/** Merges flags (already parsed into GATEHOUSE_* names) over the environment; NAME_FILE reads a secret from a file. */
export function loadConfig(env: Source, flags: Source = {}, opts: { requireClientId?: boolean } = {}): Readonly<HubConfig> {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const direct = flags[name] ?? env[name];
    if (direct !== undefined && direct !== '') return direct;
    const file = flags[`${name}_FILE`] ?? env[`${name}_FILE`];
    if (file) {
      try { return readFileSync(file, 'utf8').trim(); } catch { problems.push(`${name}_FILE: cannot read ${file}`); }
    }
    return undefined;
  };

  const listen = parseHostPort(get('GATEHOUSE_LISTEN') ?? '127.0.0.1:8080');
  if (!listen) problems.push('GATEHOUSE_LISTEN must be host:port');

  const database = get('GATEHOUSE_DATABASE') ?? 'sqlite:./gatehouse.db';
  if (!database.startsWith('sqlite:') && !/^postgres(ql)?:\/\//.test(database)) problems.push('GATEHOUSE_DATABASE must be sqlite:PATH or postgres://…');
  const redisUrl = get('GATEHOUSE_REDIS_URL');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('GATEHOUSE_REDIS_URL must be redis://host:port');
  const advertiseUrl = get('GATEHOUSE_ADVERTISE_URL')?.replace(/\/+$/, '');
  const clusterSecret = get('GATEHOUSE_CLUSTER_SECRET');
  const agentAdvertiseRaw = get('GATEHOUSE_AGENT_ADVERTISE_URL')?.replace(/\/+$/, '');
  const agentAdvertiseUrl = agentAdvertiseRaw === 'none' ? undefined : agentAdvertiseRaw ?? advertiseUrl;
  if (agentAdvertiseUrl !== undefined && !/^https?:\/\/[^/?#@\s]+$/.test(agentAdvertiseUrl)) problems.push('GATEHOUSE_AGENT_ADVERTISE_URL must be http(s)://host:port (the URL agents dial this hub at) or none');
  if (redisUrl) {
    if (!advertiseUrl || !/^https?:\/\/[^/]+$/.test(advertiseUrl)) problems.push('GATEHOUSE_ADVERTISE_URL (http(s)://host:port other hubs reach this one at) is required with GATEHOUSE_REDIS_URL');
    if (!clusterSecret || clusterSecret.length < 32) problems.push('GATEHOUSE_CLUSTER_SECRET of at least 32 characters is required with GATEHOUSE_REDIS_URL');
    if (database.startsWith('sqlite:')) problems.push('several hubs (GATEHOUSE_REDIS_URL) need a shared database: GATEHOUSE_DATABASE=postgres://…');
  }

  const clientId = get('GATEHOUSE_CLIENT_ID') ?? '';
  if (!clientId && opts.requireClientId !== false) problems.push('GATEHOUSE_CLIENT_ID is required (the hub\'s Entra app id)');

  const cloud = (get('GATEHOUSE_CLOUD') ?? 'AzurePublic') as Cloud;
  if (!(cloud in CLOUDS)) problems.push(`GATEHOUSE_CLOUD must be one of ${Object.keys(CLOUDS).join(', ')}`);
  const authorityHost = (get('GATEHOUSE_AUTHORITY_HOST') ?? CLOUDS[cloud]?.login ?? '').replace(/\/+$/, '');
  if (!/^https:\/\/[^/?#@]+$/.test(authorityHost)) problems.push('GATEHOUSE_AUTHORITY_HOST must be https://host[:port]');

  const tenantsRaw = get('GATEHOUSE_ALLOWED_TENANTS') ?? 'common';
  const tenants = tenantsRaw.split(',').map((s) => s.trim()).filter(Boolean);
  const allowedTenants = tenants.length === 1 && tenants[0]!.toLowerCase() === 'common' ? 'common' as const : tenants.map((t) => t.toLowerCase());
  if (allowedTenants !== 'common' && allowedTenants.length === 0) problems.push('GATEHOUSE_ALLOWED_TENANTS must be common or tenant ids');
  const entraAllowNetworks = parseNetworks(get('GATEHOUSE_ENTRA_ALLOW_NETWORKS') ?? '');
  if (typeof entraAllowNetworks === 'string') problems.push(`GATEHOUSE_ENTRA_ALLOW_NETWORKS must be CIDR networks like 10.20.0.0/16 (not ${entraAllowNetworks})`);

  const throttleRaw = get('GATEHOUSE_THROTTLE') ?? '100/60s';
  const tm = /^(\d+)\s*\/\s*(\S+)$/.exec(throttleRaw);
  const periodMs = tm ? parseDuration(tm[2]!) : undefined;
  const limit = tm ? Number(tm[1]) : NaN;
  if (!tm || !periodMs || !(limit > 0)) problems.push('GATEHOUSE_THROTTLE must look like 100/60s');

  const maxBodyBytes = parseSize(get('GATEHOUSE_MAX_BODY') ?? '100MiB');
  if (!maxBodyBytes) problems.push('GATEHOUSE_MAX_BODY must be a size like 100MiB');
  const maxHeldBodyBytes = parseSize(get('GATEHOUSE_MAX_HELD_BODIES') ?? '512MiB');
  if (!maxHeldBodyBytes) problems.push('GATEHOUSE_MAX_HELD_BODIES must be a size like 512MiB');
  const shareRaw = get('GATEHOUSE_MAX_HELD_BODIES_SHARE') ?? '25%';
  const percent = /^(\d{1,3})\s*%$/.exec(shareRaw.trim());
  const maxHeldBodyShareBytes = percent ? Math.floor((maxHeldBodyBytes ?? 0) * Number(percent[1]) / 100) : parseSize(shareRaw);
  if (maxHeldBodyBytes && (!maxHeldBodyShareBytes || (percent && Number(percent[1]) > 100))) problems.push('GATEHOUSE_MAX_HELD_BODIES_SHARE must be a percentage from 1% to 100% or a size like 128MiB');
  const maxRawBodyBytes = parseSize(get('GATEHOUSE_MAX_RAW_BODY') ?? '1GiB');
  if (!maxRawBodyBytes) problems.push('GATEHOUSE_MAX_RAW_BODY must be a size like 1GiB');
  const maxHeaderBytes = parseSize(get('GATEHOUSE_MAX_HEADER_BYTES') ?? '32KiB');
  if (!maxHeaderBytes || maxHeaderBytes < 4096) problems.push('GATEHOUSE_MAX_HEADER_BYTES must be a size of at least 4KiB');
  const idleTimeoutMs = parseDuration(get('GATEHOUSE_IDLE_TIMEOUT') ?? '60s');
  if (!idleTimeoutMs) problems.push('GATEHOUSE_IDLE_TIMEOUT must be a duration like 60s');
  const headTimeoutMs = parseDuration(get('GATEHOUSE_HEAD_TIMEOUT') ?? '10s');
  if (!headTimeoutMs || headTimeoutMs < 1000) problems.push('GATEHOUSE_HEAD_TIMEOUT must be a duration of at least 1s, like 10s');
  const minBodyRate = parseSize(get('GATEHOUSE_MIN_BODY_RATE') ?? '1KiB');
  if (minBodyRate === undefined) problems.push('GATEHOUSE_MIN_BODY_RATE must be a size per second like 1KiB (0 turns the floor off)');
  const bodyRateGraceMs = parseDuration(get('GATEHOUSE_BODY_RATE_GRACE') ?? '10s');
  if (bodyRateGraceMs === undefined) problems.push('GATEHOUSE_BODY_RATE_GRACE must be a duration like 10s');
  const count = (name: string, def: string): number => {
    const n = Number(get(name) ?? def);
    if (!Number.isInteger(n) || n < 1) problems.push(`${name} must be a whole number of at least 1`);
    return n;
  };
  const maxCallsPerConnection = count('GATEHOUSE_MAX_CALLS_PER_CONNECTION', '100');
  const maxCallsPerCaller = count('GATEHOUSE_MAX_CALLS_PER_CALLER', '200');
  const maxCallsPerGateway = count('GATEHOUSE_MAX_CALLS_PER_GATEWAY', '500');
  const maxUrlLength = Number(get('GATEHOUSE_MAX_URL_LENGTH') ?? '2048');
  if (!Number.isInteger(maxUrlLength) || maxUrlLength < 256) problems.push('GATEHOUSE_MAX_URL_LENGTH must be an integer >= 256');
  const jwksCooldownMs = parseDuration(get('GATEHOUSE_JWKS_COOLDOWN') ?? '30s');
  if (jwksCooldownMs === undefined) problems.push('GATEHOUSE_JWKS_COOLDOWN must be a duration like 30s');
  const databaseWaitMs = parseDuration(get('GATEHOUSE_DATABASE_WAIT') ?? '60s');
  if (databaseWaitMs === undefined) problems.push('GATEHOUSE_DATABASE_WAIT must be a duration like 60s');
  const drainTimeoutMs = parseDuration(get('GATEHOUSE_DRAIN_TIMEOUT') ?? '30s');
  if (drainTimeoutMs === undefined) problems.push('GATEHOUSE_DRAIN_TIMEOUT must be a duration like 30s');
  const maxTimeoutMs = parseDuration(get('GATEHOUSE_MAX_TIMEOUT') ?? '600s');
  // The agent takes a call's timeout up to 24 h (the relay protocol's bound).
  if (!maxTimeoutMs || maxTimeoutMs > 86_400_000) problems.push('GATEHOUSE_MAX_TIMEOUT must be a duration from 1s to 24h, like 600s');

  const agent = agentSettings(get, problems);

  let clientCertificate: HubConfig['clientCertificate'];
  const certPath = get('GATEHOUSE_CLIENT_CERTIFICATE');
  if (certPath) {
    try {
      const pem = readFileSync(certPath, 'utf8');
      const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
      const key = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(pem)?.[0];
      if (!cert || !key) throw new Error('needs both');
      const x509 = new X509Certificate(cert);
      clientCertificate = { thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(), privateKey: key, x5c: x509.raw.toString('base64') };
    } catch { problems.push('GATEHOUSE_CLIENT_CERTIFICATE must be a readable PEM file with a private key and a certificate'); }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    listen: listen!,
    database,
    redisUrl,
    advertiseUrl,
    agentAdvertiseUrl,
    clusterSecret,
    clientId,
    clientSecret: get('GATEHOUSE_CLIENT_SECRET'),
    clientCertificate,
    appIdUri: get('GATEHOUSE_APP_ID_URI') ?? `api://${clientId}`,
    scope: get('GATEHOUSE_SCOPE') ?? 'user_impersonation',
    cloud,
    authorityHost,
    allowedTenants,
    entraAllowNetworks: entraAllowNetworks as BlockList,
    jwksCooldownMs: jwksCooldownMs!,
    throttle: { limit, periodMs: periodMs! },
    maxBodyBytes: maxBodyBytes!,
    maxHeldBodyBytes: maxHeldBodyBytes!,
    maxHeldBodyShareBytes: maxHeldBodyShareBytes!,
    maxRawBodyBytes: maxRawBodyBytes!,
    maxUrlLength,
    maxHeaderBytes: maxHeaderBytes!,
    headTimeoutMs: headTimeoutMs!,
    minBodyRate: minBodyRate!,
    bodyRateGraceMs: bodyRateGraceMs!,
    maxCallsPerConnection,
    maxCallsPerCaller,
    maxCallsPerGateway,
    idleTimeoutMs: idleTimeoutMs!,
    maxTimeoutMs: maxTimeoutMs!,
    drainTimeoutMs: drainTimeoutMs!,
    databaseWaitMs: databaseWaitMs!,
    defaultTimeoutMs: Math.min(120_000, maxTimeoutMs!),
    logLevel: get('GATEHOUSE_LOG_LEVEL') ?? 'info',
    agent: Object.freeze(agent),
  });
}

/** `N/period` (10/60s): a count per period. */
function perPeriod(v: string): { limit: number; periodMs: number } | undefined {
  const m = /^(\d+)\s*\/\s*(\S+)$/.exec(v.trim());
  const periodMs = m ? parseDuration(m[2]!) : undefined;
  const limit = m ? Number(m[1]) : NaN;
  return m && periodMs && limit > 0 ? { limit, periodMs } : undefined;
}

/** The GATEHOUSE_AGENT_* settings (defaults: AgentBounds). */
function agentSettings(get: (name: string) => string | undefined, problems: string[]): HubConfig['agent'] {
  const queueMaxBytes = parseSize(get('GATEHOUSE_AGENT_QUEUE_MAX') ?? String(AgentBounds.queueBytes));
  // Below it, the 1 MiB write high-water mark plus one chunk would already pass the limit on a busy connection.
  if (!queueMaxBytes || queueMaxBytes < 2 * 1024 * 1024) problems.push('GATEHOUSE_AGENT_QUEUE_MAX must be a size of at least 2MiB');
  const readTimeoutMs = parseDuration(get('GATEHOUSE_AGENT_READ_TIMEOUT') ?? `${AgentBounds.readTimeoutMs}ms`);
  if (!readTimeoutMs || readTimeoutMs < 1000) problems.push('GATEHOUSE_AGENT_READ_TIMEOUT must be a duration of at least 1s');
  const maxStreams = Number(get('GATEHOUSE_AGENT_MAX_STREAMS') ?? AgentBounds.maxStreams);
  if (!Number.isInteger(maxStreams) || maxStreams < 1) problems.push('GATEHOUSE_AGENT_MAX_STREAMS must be a whole number of at least 1');
  const helloTimeoutMs = parseDuration(get('GATEHOUSE_AGENT_HELLO_TIMEOUT') ?? `${AgentBounds.helloTimeoutMs}ms`);
  if (!helloTimeoutMs || helloTimeoutMs > 60_000) problems.push('GATEHOUSE_AGENT_HELLO_TIMEOUT must be a duration from 1ms to 60s');
  const pm = /^(\d+)\s*\/\s*(\d+)$/.exec(get('GATEHOUSE_AGENT_PENDING_MAX') ?? `${AgentBounds.pendingPerMember}/${AgentBounds.pendingTotal}`);
  const pendingPerMember = pm ? Number(pm[1]) : 0;
  const pendingTotal = pm ? Number(pm[2]) : 0;
  if (!(pendingPerMember >= 1 && pendingTotal >= pendingPerMember)) problems.push('GATEHOUSE_AGENT_PENDING_MAX must look like 4/256 (per member/whole hub, at least 1)');
  const authFailuresPerMember = perPeriod(get('GATEHOUSE_AGENT_AUTH_FAILURES') ?? '10/60s');
  if (!authFailuresPerMember) problems.push('GATEHOUSE_AGENT_AUTH_FAILURES must look like 10/60s');
  const authFailuresPerAddress = perPeriod(get('GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS') ?? '100/60s');
  if (!authFailuresPerAddress) problems.push('GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS must look like 100/60s');
  const frameRate = perPeriod(get('GATEHOUSE_AGENT_FRAME_RATE') ?? `${AgentBounds.frameRate.limit}/${AgentBounds.frameRate.periodMs}ms`);
  if (!frameRate) problems.push('GATEHOUSE_AGENT_FRAME_RATE must look like 50000/1s');
  return {
    queueMaxBytes: queueMaxBytes!, maxStreams, readTimeoutMs: readTimeoutMs!, helloTimeoutMs: helloTimeoutMs!, pendingPerMember, pendingTotal,
    authFailuresPerMember: authFailuresPerMember!, authFailuresPerAddress: authFailuresPerAddress!, frameRate: frameRate!,
  };
}
