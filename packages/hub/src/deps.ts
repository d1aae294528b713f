// What route handlers get: built once per hub in hub-deps.ts, never read from globals.
import type { HubConfig } from './config.js';
import type { Logger } from './log.js';
import type { Store } from './store/store.js';
import type { AgentRegistry } from './agents/registry.js';
import type { Authenticate, Caller } from './auth/caller-auth.js';
import type { ApiRate } from './http/api-rate.js';
import type { Throttle } from './throttle/memory-throttle.js';
import type { Ctx } from './http/router.js';
import type { HubMetrics } from './metrics.js';
import type { OboClient } from './auth/obo.js';
import type { Presence } from './cluster/presence.js';
import type { HubDirectory } from './cluster/hubs.js';
import type { Dispatcher } from 'undici';
import type { HeldBodies } from './relay/invoke-body.js';
import type { DirectNetworks } from './relay/direct-networks.js';
import type { AgentAuthGuard } from './agents/auth-guard.js';
import type { CallCaps } from './http/call-caps.js';
import type { Audit } from './audit/audit.js';

export interface HubDeps {
  config: Readonly<HubConfig>;
  log: Logger;
  store: Store;
  registry: AgentRegistry;
  authenticate: Authenticate;
  throttle: Throttle;
  now: () => Date;
  metrics: HubMetrics;
  /** On-Behalf-Of tokens for EntraAuth connections. */
  obo: OboClient;
  /** Where each gateway member is connected (this hub, or another one of the cluster). */
  presence: Presence;
  /** Several hubs: the live hubs agents keep a tunnel to (cluster/hubs.ts); undefined on a single hub. */
  hubs?: HubDirectory;
  /** HTTP client pool for the services the hub calls itself (EntraAuth); takes response heads up to
   *  Limits.maxResponseHeadBytes, as agents do. */
  dispatcher: Dispatcher;
  /** HTTP client pool for relays to other hubs: their answer carries a service's head plus the relay's own
   *  headers, so it takes 1 KiB more. */
  hubDispatcher: Dispatcher;
  /** Which addresses the hub's own calls (EntraAuth) may connect to (`dispatcher` enforces it on resolved names). */
  directNetworks: DirectNetworks;
  /** The bound on invoke bodies held in memory across calls. */
  heldBodies: HeldBodies;
  /** Failed agent authentications: limited per address and member id, logged as a summary (agents/auth-guard.ts). */
  agentAuth: AgentAuthGuard;
  /** Calls in progress per connection, caller and gateway (GATEHOUSE_MAX_CALLS_PER_*). */
  callCaps: CallCaps;
  /** Records every change (audit/audit.ts). */
  audit: Audit;
  /** The management API's rate per caller and tenant (http/api-rate.ts); calls refused before they start count too. */
  apiRate: ApiRate;
  /** Resolves the caller or throws Unauthorized (logs the reason). */
  caller(ctx: Ctx): Promise<Caller>;
}
