// How many gateways and connections one caller and one tenant may own (red team B7: one caller created 3,000
// gateways and 3,000 connections in 9 s, and nothing said no). Checked before each create; creates running at the
// same moment may each pass the check, so a caller can go over a cap by at most its creates in progress.
import type { HubDeps } from '../deps.js';
import { invalid } from './respond.js';

const NAMES = {
  gateways: { caller: 'GATEHOUSE_MAX_GATEWAYS_PER_CALLER', tenant: 'GATEHOUSE_MAX_GATEWAYS_PER_TENANT' },
  connections: { caller: 'GATEHOUSE_MAX_CONNECTIONS_PER_CALLER', tenant: 'GATEHOUSE_MAX_CONNECTIONS_PER_TENANT' },
} as const;

/** Throws 400 InvalidRequest naming the setting when the caller (tid, oid) or its tenant owns as many as it may. */
export async function checkOwnershipCap(deps: HubDeps, kind: 'gateways' | 'connections', caller: { tid: string; oid: string }): Promise<void> {
  const c = deps.config;
  const max =
    kind === 'gateways'
      ? { caller: c.maxGatewaysPerCaller, tenant: c.maxGatewaysPerTenant }
      : { caller: c.maxConnectionsPerCaller, tenant: c.maxConnectionsPerTenant };
  const n = await deps.store.countOwned(kind, caller.tid, caller.oid);
  if (n.caller >= max.caller)
    throw invalid(`this caller owns ${n.caller} ${kind}, the most one caller may (${NAMES[kind].caller}, ${max.caller}); delete one first`);
  if (n.tenant >= max.tenant)
    throw invalid(`this caller's tenant owns ${n.tenant} ${kind}, the most one tenant may (${NAMES[kind].tenant}, ${max.tenant}); delete one first`);
}
