// Every setting of `gatehouse-hub serve` (and `dev`), declared once: variable, flag, default, parser, help.
// `serve --help` prints this table, config.ts reads it, and a test checks docs/operations.md against it.
// A new setting is one entry here (and its row in docs/operations.md); config.ts maps the value into HubConfig.
import {
  AgentBounds,
  duration,
  formatDuration,
  formatSize,
  hostPort,
  integer,
  list,
  oneOf,
  pair,
  perPeriod,
  refine,
  setting,
  size,
  text,
  type Parser,
  type Setting,
  type SettingTable,
} from '@gatehouse/shared';
import { CLOUDS, type Cloud } from './auth/clouds.js';
import { parseNetworks } from './relay/direct-networks.js';
import { parseTrustedProxies } from './http/client-address.js';

const networks = refine(text(), (v) => {
  const r = parseNetworks(v);
  return typeof r === 'string' ? `CIDR networks like 10.20.0.0/16 (not ${r})` : undefined;
});

const proxies = refine(text(), (v) => {
  const r = parseTrustedProxies(v);
  return typeof r === 'string' ? `addresses or CIDR networks like 10.0.0.5,10.1.0.0/16 (not ${r})` : undefined;
});

/** A share of a pool: a percentage of it (1% to 100%) or a size. */
const share: Parser<{ percent: number } | { bytes: number }> = (raw) => {
  const expected = 'a percentage from 1% to 100% or a size like 128MiB';
  const m = /^(\d{1,3})\s*%$/.exec(raw.trim());
  if (m) {
    const percent = Number(m[1]);
    return percent >= 1 && percent <= 100 ? { ok: true, value: { percent } } : { ok: false, expected };
  }
  const bytes = size({ min: 1 })(raw);
  return bytes.ok ? { ok: true, value: { bytes: bytes.value } } : { ok: false, expected };
};

/** Audit retention in days: a positive number, decimals allowed (0.5 is 12 hours), at most 100 years. */
const days: Parser<number> = (raw) => {
  const expected = 'a number of days greater than 0, like 90 or 0.5';
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) return { ok: false, expected };
  const n = Number(raw.trim());
  return n > 0 && n <= 36_500 ? { ok: true, value: n } : { ok: false, expected };
};

const SETTINGS = {
  listen: setting({ env: 'GATEHOUSE_LISTEN', flag: 'listen', default: '127.0.0.1:8080', parse: hostPort(), help: 'host:port to listen on' }),
  metricsListen: setting({
    env: 'GATEHOUSE_METRICS_LISTEN',
    flag: 'metrics-listen',
    parse: hostPort(),
    help: 'serve GET /metrics on this host:port (for the scraper, not the public port); unset: /metrics on the main port answers only connections from this machine that no proxy forwarded',
  }),
  database: setting({
    env: 'GATEHOUSE_DATABASE',
    flag: 'database',
    default: 'sqlite:./gatehouse.db',
    parse: refine(text(), (v) => (v.startsWith('sqlite:') || /^postgres(ql)?:\/\//.test(v) ? undefined : 'sqlite:PATH or postgres://…')),
    help: 'sqlite:PATH, or postgres://user:pass@host/db for several hubs',
  }),
  redisUrl: setting({
    env: 'GATEHOUSE_REDIS_URL',
    flag: 'redis-url',
    parse: refine(text(), (v) => (/^rediss?:\/\//.test(v) ? undefined : 'redis://host:port')),
    help: 'redis://host:port: shared throttling and agent presence for several hubs',
  }),
  // Checked with GATEHOUSE_REDIS_URL only (config.ts): a single hub ignores it.
  advertiseUrl: setting({
    env: 'GATEHOUSE_ADVERTISE_URL',
    flag: 'advertise-url',
    parse: text(),
    help: 'several hubs: the URL other hubs use to reach this one (http://10.0.0.5:8080)',
  }),
  agentAdvertiseUrl: setting({
    env: 'GATEHOUSE_AGENT_ADVERTISE_URL',
    flag: 'agent-advertise-url',
    shownDefault: 'the advertise URL',
    parse: text(),
    help: 'several hubs: the URL agents use to reach this hub directly (each agent keeps a tunnel to every listed hub); none: not listed, agents reach it only through their --hub addresses',
  }),
  clusterSecret: setting({
    env: 'GATEHOUSE_CLUSTER_SECRET',
    flag: 'cluster-secret',
    parse: text(),
    help: 'several hubs: shared secret signing hub-to-hub relays and their answers, the hub list and agent presence (also _FILE), 32+ characters',
  }),
  clientId: setting({ env: 'GATEHOUSE_CLIENT_ID', flag: 'client-id', parse: text(), help: "the hub's Entra app (client) id (required)" }),
  clientSecret: setting({
    env: 'GATEHOUSE_CLIENT_SECRET',
    flag: 'client-secret',
    parse: text(),
    help: "the hub's Entra app secret (used for On-Behalf-Of; also GATEHOUSE_CLIENT_SECRET_FILE)",
  }),
  clientCertificate: setting({
    env: 'GATEHOUSE_CLIENT_CERTIFICATE',
    flag: 'client-certificate',
    parse: text(),
    help: 'PEM file with private key and certificate, used instead of a client secret',
  }),
  appIdUri: setting({ env: 'GATEHOUSE_APP_ID_URI', flag: 'app-id-uri', shownDefault: 'api://{client id}', parse: text(), help: 'second accepted audience' }),
  scope: setting({ env: 'GATEHOUSE_SCOPE', flag: 'scope', default: 'user_impersonation', parse: text(), help: 'delegated scope callers need in scp' }),
  appRole: setting({
    env: 'GATEHOUSE_APP_ROLE',
    flag: 'app-role',
    default: 'Gatehouse.Invoke',
    parse: refine(text(), (v) => (/^[A-Za-z0-9._-]{1,120}$/.test(v) ? undefined : 'an app role value like Gatehouse.Invoke')),
    help: 'app role an app-only token (a service principal, a managed identity) needs in its roles claim to be let in; it then acts as its service principal (not on EntraAuth connections)',
  }),
  cloud: setting({
    env: 'GATEHOUSE_CLOUD',
    flag: 'cloud',
    default: 'AzurePublic',
    parse: oneOf(Object.keys(CLOUDS) as Cloud[]),
    help: 'AzurePublic | AzureUSGovernment | AzureUSGovernmentDoD | AzureChina',
  }),
  authorityHost: setting({
    env: 'GATEHOUSE_AUTHORITY_HOST',
    flag: 'authority-host',
    shownDefault: "the cloud's",
    parse: text(),
    help: 'sign-in host override (https only)',
  }),
  allowedTenants: setting({
    env: 'GATEHOUSE_ALLOWED_TENANTS',
    flag: 'allowed-tenants',
    default: 'common',
    parse: list(text(), { min: 1, expected: 'common or tenant ids' }),
    help: 'common, or tenant ids separated by commas',
  }),
  entraAllowNetworks: setting({
    env: 'GATEHOUSE_ENTRA_ALLOW_NETWORKS',
    flag: 'entra-allow-networks',
    default: '',
    shownDefault: '',
    parse: networks,
    help: 'private networks EntraAuth calls may reach, CIDR, comma-separated (e.g. 10.20.0.0/16); loopback, link-local and private addresses are refused otherwise',
  }),
  jwksCooldownMs: setting({
    env: 'GATEHOUSE_JWKS_COOLDOWN',
    flag: 'jwks-cooldown',
    default: '30s',
    parse: duration({ expected: 'a duration like 30s' }),
    help: 'least time between signing-key refetches caused by unknown key ids',
  }),
  throttle: setting({
    env: 'GATEHOUSE_THROTTLE',
    flag: 'throttle',
    default: '100/60s',
    parse: perPeriod({ expected: 'N/period, like 100/60s' }),
    help: 'calls per period per connection, e.g. 100/60s, 1000/1h',
  }),
  apiRate: setting({
    env: 'GATEHOUSE_API_RATE',
    flag: 'api-rate',
    default: '1200/60s',
    parse: perPeriod({ expected: 'N/period, like 1200/60s' }),
    help: 'management API requests (every route but invoke and the raw route) per period per caller (tenant, object id), a quarter of them at once at most; over it 429 TooManyRequests with Retry-After',
  }),
  apiTenantRate: setting({
    env: 'GATEHOUSE_API_TENANT_RATE',
    flag: 'api-tenant-rate',
    default: '6000/60s',
    parse: perPeriod({ expected: 'N/period, like 6000/60s' }),
    help: 'the same for all callers of one tenant together; over it 429 TooManyRequests with Retry-After',
  }),
  maxBodyBytes: setting({
    env: 'GATEHOUSE_MAX_BODY',
    flag: 'max-body',
    default: '100MiB',
    parse: size({ min: 1, expected: 'a size like 100MiB' }),
    help: 'largest invoke body, each way (B, KiB, MiB, GiB)',
  }),
  maxHeldBodyBytes: setting({
    env: 'GATEHOUSE_MAX_HELD_BODIES',
    flag: 'max-held-bodies',
    default: '512MiB',
    parse: size({ min: 1, expected: 'a size like 512MiB' }),
    help: 'all invoke bodies and answers the hub reads whole (up to 1 MiB each, or a request with body before method/url/headers), held at once across calls; over it 503 for the latter, the rest stream instead',
  }),
  maxHeldBodyShare: setting({
    env: 'GATEHOUSE_MAX_HELD_BODIES_SHARE',
    flag: 'max-held-bodies-share',
    default: '25%',
    parse: share,
    help: 'the most of GATEHOUSE_MAX_HELD_BODIES one tenant, one caller (tenant, object id), one gateway or one connection may hold: a percentage of it or a size; over it that caller gets 503 (or its answers stream) while others are still served',
  }),
  heldBodyTimeoutMs: setting({
    env: 'GATEHOUSE_HELD_BODY_TIMEOUT',
    flag: 'held-body-timeout',
    default: '60s',
    parse: duration({ min: 1000, expected: 'a duration of at least 1s, like 60s' }),
    help: 'a request body the hub reads whole (held in memory: an invoke body up to 1 MiB or one before method/url/headers, an API route body) must arrive within this; over it 408 RequestTimeout, the connection closed and its held bytes freed',
  }),
  maxRawBodyBytes: setting({
    env: 'GATEHOUSE_MAX_RAW_BODY',
    flag: 'max-raw-body',
    default: '1GiB',
    parse: size({ min: 1, expected: 'a size like 1GiB' }),
    help: 'largest body on the raw proxy route, each way (streamed)',
  }),
  maxUrlLength: setting({
    env: 'GATEHOUSE_MAX_URL_LENGTH',
    flag: 'max-url-length',
    default: '2048',
    parse: integer({ min: 256, expected: 'an integer >= 256' }),
    help: 'longest request URL and invoke target URL, in characters',
  }),
  maxHeaderBytes: setting({
    env: 'GATEHOUSE_MAX_HEADER_BYTES',
    flag: 'max-header-bytes',
    default: '32KiB',
    parse: size({ min: 4096, expected: 'a size of at least 4KiB' }),
    help: 'largest request line + headers (over it: 431)',
  }),
  headTimeoutMs: setting({
    env: 'GATEHOUSE_HEAD_TIMEOUT',
    flag: 'head-timeout',
    default: '10s',
    parse: duration({ min: 1000, expected: 'a duration of at least 1s, like 10s' }),
    help: 'the request line and headers must arrive within this; over it 408 RequestTimeout and the connection closed',
  }),
  keepAliveTimeoutMs: setting({
    env: 'GATEHOUSE_KEEP_ALIVE_TIMEOUT',
    flag: 'keep-alive-timeout',
    default: '75s',
    parse: duration({ min: 1000, max: 3_600_000, expected: 'a duration from 1s to 1h, like 75s' }),
    help: "how long an idle caller connection is kept open for its next request (keep it over a load balancer's idle timeout)",
  }),
  minBodyRate: setting({
    env: 'GATEHOUSE_MIN_BODY_RATE',
    flag: 'min-body-rate',
    default: '1KiB',
    parse: size({ expected: 'a size per second like 1KiB (0 turns the floor off)' }),
    help: 'least request body rate per second, averaged over 10 s after the grace, while the hub waits for the caller (0: off); under it 408 RequestTimeout',
  }),
  bodyRateGraceMs: setting({
    env: 'GATEHOUSE_BODY_RATE_GRACE',
    flag: 'body-rate-grace',
    default: '10s',
    parse: duration({ expected: 'a duration like 10s' }),
    help: 'how long a request runs before GATEHOUSE_MIN_BODY_RATE applies',
  }),
  maxConnectionsPerAddress: setting({
    env: 'GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS',
    flag: 'max-connections-per-address',
    default: '1000',
    parse: integer({ min: 0 }),
    help: 'connections open at once from one client address (an IPv6 /64), until they close or upgrade to an agent tunnel; over it 429 TooManyRequests and closed; GATEHOUSE_TRUSTED_PROXIES are not counted; 0: off',
  }),
  maxCallsPerConnection: setting({
    env: 'GATEHOUSE_MAX_CALLS_PER_CONNECTION',
    flag: 'max-calls-per-connection',
    default: '100',
    parse: integer({ min: 1 }),
    help: 'invoke and raw route calls in progress at once on one connection; over it 429 TooManyRequests',
  }),
  maxCallsPerCaller: setting({
    env: 'GATEHOUSE_MAX_CALLS_PER_CALLER',
    flag: 'max-calls-per-caller',
    default: '200',
    parse: integer({ min: 1 }),
    help: 'invoke and raw route calls in progress at once for one caller (tenant, object id); over it 429 TooManyRequests',
  }),
  maxGatewaysPerCaller: setting({
    env: 'GATEHOUSE_MAX_GATEWAYS_PER_CALLER',
    flag: 'max-gateways-per-caller',
    default: '200',
    parse: integer({ min: 1 }),
    help: 'gateways one caller (tenant, object id) may create and own; over it 400 InvalidRequest',
  }),
  maxGatewaysPerTenant: setting({
    env: 'GATEHOUSE_MAX_GATEWAYS_PER_TENANT',
    flag: 'max-gateways-per-tenant',
    default: '2000',
    parse: integer({ min: 1 }),
    help: "gateways one tenant's callers may own together; over it 400 InvalidRequest",
  }),
  maxConnectionsPerCaller: setting({
    env: 'GATEHOUSE_MAX_CONNECTIONS_PER_CALLER',
    flag: 'max-connections-per-caller',
    default: '1000',
    parse: integer({ min: 1 }),
    help: 'connections one caller (tenant, object id) may create and own; over it 400 InvalidRequest',
  }),
  maxConnectionsPerTenant: setting({
    env: 'GATEHOUSE_MAX_CONNECTIONS_PER_TENANT',
    flag: 'max-connections-per-tenant',
    default: '10000',
    parse: integer({ min: 1 }),
    help: "connections one tenant's callers may own together; over it 400 InvalidRequest",
  }),
  maxCallsPerGateway: setting({
    env: 'GATEHOUSE_MAX_CALLS_PER_GATEWAY',
    flag: 'max-calls-per-gateway',
    default: '500',
    parse: integer({ min: 1 }),
    help: 'calls in progress at once through one gateway; over it 503 ServiceUnavailable',
  }),
  idleTimeoutMs: setting({
    env: 'GATEHOUSE_IDLE_TIMEOUT',
    flag: 'idle-timeout',
    default: '60s',
    parse: duration({ min: 1, expected: 'a duration like 60s' }),
    help: 'raw route: cancel a call when no body bytes move for this long; other routes: refuse a request body that stalls this long',
  }),
  // The agent takes a call's timeout up to 24 h (the relay protocol's bound).
  maxTimeoutMs: setting({
    env: 'GATEHOUSE_MAX_TIMEOUT',
    flag: 'max-timeout',
    default: '600s',
    parse: duration({ min: 1, max: 86_400_000, expected: 'a duration from 1s to 24h, like 600s' }),
    help: 'largest per-connection timeout, at most 24h (default per connection: 120s)',
  }),
  databaseWaitMs: setting({
    env: 'GATEHOUSE_DATABASE_WAIT',
    flag: 'database-wait',
    default: '60s',
    parse: duration({ expected: 'a duration like 60s' }),
    help: 'at start: how long to wait for an unreachable PostgreSQL before giving up (0s: no wait)',
  }),
  drainTimeoutMs: setting({
    env: 'GATEHOUSE_DRAIN_TIMEOUT',
    flag: 'drain-timeout',
    default: '30s',
    parse: duration({ expected: 'a duration like 30s' }),
    help: 'on SIGTERM: how long calls in flight may take to finish before the hub exits (0s: no wait)',
  }),
  agentQueueMaxBytes: setting({
    // Below 2 MiB, the 1 MiB write high-water mark plus one chunk would already pass the limit on a busy connection.
    env: 'GATEHOUSE_AGENT_QUEUE_MAX',
    flag: 'agent-queue-max',
    default: formatSize(AgentBounds.queueBytes),
    parse: size({ min: 2 * 1024 * 1024, expected: 'a size of at least 2MiB' }),
    help: 'bytes of frames queued toward one agent (every type; at least 2MiB); over it the agent is closed with 4011 (not reading) and its calls fail with 502',
  }),
  agentReadTimeoutMs: setting({
    env: 'GATEHOUSE_AGENT_READ_TIMEOUT',
    flag: 'agent-read-timeout',
    default: formatDuration(AgentBounds.readTimeoutMs),
    parse: duration({ min: 1000, expected: 'a duration of at least 1s' }),
    help: 'the hub pings each agent; one that leaves a ping unanswered this long is closed with 4011 and its calls fail with 502',
  }),
  agentMaxStreams: setting({
    env: 'GATEHOUSE_AGENT_MAX_STREAMS',
    flag: 'agent-max-streams',
    default: String(AgentBounds.maxStreams),
    parse: integer({ min: 1 }),
    help: 'calls in progress on one agent connection; one more gets 503 (the member takes no more until one ends)',
  }),
  agentFrameRate: setting({
    env: 'GATEHOUSE_AGENT_FRAME_RATE',
    flag: 'agent-frame-rate',
    default: `${AgentBounds.frameRate.limit}/${formatDuration(AgentBounds.frameRate.periodMs)}`,
    parse: perPeriod({ expected: 'N/period, like 50000/1s' }),
    help: 'WebSocket frames of every kind (continuations, pings, pongs) one agent connection may send within any period (sliding); past it the agent is closed with 4013 (frame flood); a busy real agent sends a few thousand a second',
  }),
  agentTenantFrameRate: setting({
    env: 'GATEHOUSE_AGENT_TENANT_FRAME_RATE',
    flag: 'agent-tenant-frame-rate',
    default: `${AgentBounds.tenantFrameRate.limit}/${formatDuration(AgentBounds.tenantFrameRate.periodMs)}`,
    parse: perPeriod({ expected: 'N/period, like 50000/1s' }),
    help: "WebSocket frames all agent connections of one tenant (its gateways' owner) may send per period, however many it opens (a frame's JSON past its first KiB counts one more per 128 bytes); past it the hub stops reading the connection that overspent until the budget refills",
  }),
  agentHubFrameRate: setting({
    env: 'GATEHOUSE_AGENT_HUB_FRAME_RATE',
    flag: 'agent-hub-frame-rate',
    default: `${AgentBounds.hubFrameRate.limit}/${formatDuration(AgentBounds.hubFrameRate.periodMs)}`,
    parse: perPeriod({ expected: 'N/period, like 100000/1s' }),
    help: 'WebSocket frames all agent connections on the hub may send per period; while short, each tenant wanting more gets an equal share, by backpressure',
  }),
  agentHelloTimeoutMs: setting({
    env: 'GATEHOUSE_AGENT_HELLO_TIMEOUT',
    flag: 'agent-hello-timeout',
    default: formatDuration(AgentBounds.helloTimeoutMs),
    parse: duration({ min: 1, max: 60_000, expected: 'a duration from 1ms to 60s' }),
    help: 'time an authenticated agent connection has to send HELLO (else close 4005)',
  }),
  agentPendingMax: setting({
    env: 'GATEHOUSE_AGENT_PENDING_MAX',
    flag: 'agent-pending-max',
    default: `${AgentBounds.pendingPerMember}/${AgentBounds.pendingTotal}`,
    parse: pair({ expected: 'N/M, like 4/256 (per member/whole hub, at least 1)' }),
    help: "agent connections waiting for HELLO, per member/on the whole hub (at the hub's cap a tenant over a quarter of it, at least a member's, loses its longest-waiting place to another tenant's newcomer, 4012); at the hub's cap a new upgrade gets 503 (a reconnect storm) unless the longest-waiting has had its chance, which is then closed with 4012",
  }),
  maxTunnelsPerTenant: setting({
    env: 'GATEHOUSE_MAX_TUNNELS_PER_TENANT',
    flag: 'max-tunnels-per-tenant',
    default: '1000',
    parse: integer({ min: 0 }),
    help: "agent tunnels (open or waiting for HELLO) the members of one tenant's gateways may hold on this hub; over it the upgrade gets 429 TooManyRequests (Retry-After: 30); 0: off",
  }),
  agentAuthFailures: setting({
    env: 'GATEHOUSE_AGENT_AUTH_FAILURES',
    flag: 'agent-auth-failures',
    default: '10/60s',
    parse: perPeriod({ expected: 'N/period, like 10/60s' }),
    help: 'failed agent authentications per member id (registration: per gateway id) from one source address, per period; beyond it 429 before any lookup (a credential matching the hash the hub holds for its member is still let through)',
  }),
  agentAuthFailuresPerAddress: setting({
    env: 'GATEHOUSE_AGENT_AUTH_FAILURES_PER_ADDRESS',
    flag: 'agent-auth-failures-per-address',
    default: '100/60s',
    parse: perPeriod({ expected: 'N/period, like 100/60s' }),
    help: 'failed agent authentications per source address per period; beyond it 429 before any lookup (a credential matching the hash the hub holds for its member is still let through)',
  }),
  trustedProxies: setting({
    env: 'GATEHOUSE_TRUSTED_PROXIES',
    flag: 'trusted-proxies',
    default: '',
    shownDefault: '',
    parse: proxies,
    help: "reverse proxies (addresses or CIDR, comma-separated) whose X-Forwarded-For the hub believes for the agent authentication limits: the rightmost hop that is not one of them is the agent's address; unset: every connection is named by its peer address",
  }),
  auditDays: setting({
    env: 'GATEHOUSE_AUDIT_DAYS',
    flag: 'audit-days',
    default: '90',
    parse: days,
    help: 'days the audit log keeps each record (decimals allowed); older records are deleted at start and then every tenth of it (at least every hour)',
  }),
  logLevel: setting({
    env: 'GATEHOUSE_LOG_LEVEL',
    flag: 'log-level',
    default: 'info',
    parse: text(),
    help: 'fatal | error | warn | info | debug | trace | silent',
  }),
  consoleDir: setting({
    env: 'GATEHOUSE_CONSOLE_DIR',
    flag: 'console-dir',
    shownDefault: 'the built console beside the hub',
    parse: text(),
    help: 'folder of the web console served at /console/ (npm run build makes it); none: no console',
  }),
} satisfies SettingTable;

/** Every hub setting may also be read from a file (`NAME_FILE`, `--name-file`), as secrets are. */
function withFiles<S extends SettingTable>(table: S): S {
  return Object.fromEntries(Object.entries(table).map(([k, s]) => [k, Object.freeze({ ...s, secret: true }) as Setting<unknown>])) as unknown as S;
}

export const HUB_SETTINGS = withFiles(SETTINGS);
