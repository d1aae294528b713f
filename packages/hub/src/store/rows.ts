// Database rows -> records, shared by the SQLite and PostgreSQL stores.
import type { ConnectionRecord, ConnectionSummary, GatewayRecord, GatewayRoleRecord, MemberRecord, SealedCredentials, ShareRecord } from './store.js';

export type Row = Record<string, unknown>;

export const gatewayFrom = (r: Row): GatewayRecord => ({
  id: r.id as string,
  name: r.name as string,
  ownerTid: r.owner_tid as string,
  ownerOid: r.owner_oid as string,
  publicKeyPem: (r.public_key_pem as string | null) ?? null,
  sealedPrivateKey: (r.sealed_private_key as string | null) ?? null,
  routing: r.routing as GatewayRecord['routing'],
  createdAt: r.created_at as string,
  keyHandoff: (r.key_handoff as string | null) ?? null,
  previousPublicKeyPem: (r.previous_public_key_pem as string | null) ?? null,
});
export const memberFrom = (r: Row): MemberRecord => ({
  id: r.id as string,
  gatewayId: r.gateway_id as string,
  name: r.name as string,
  hostname: r.hostname as string,
  version: r.version as string,
  credentialHash: r.credential_hash as string,
  enabled: r.enabled === 1,
  createdAt: r.created_at as string,
  lastSeenAt: (r.last_seen_at as string | null) ?? null,
});
/** A connection's columns but its sealed credentials, with whether it has them (true/false from PostgreSQL, 1/0 from
 *  SQLite): what the lists select instead of `*` (red team session 17 F4), the same SQL for both stores. */
export const CONNECTION_SUMMARY_COLUMNS =
  'id, owner_tid, owner_oid, display_name, auth_type, base_resource_url, resource_uri, gateway_id, sealed_credentials IS NOT NULL AS has_credentials, body_encoding, timeout_ms, created_at, updated_at, owner_groups';

const connectionFields = (r: Row): Omit<ConnectionRecord, 'sealedCredentials'> => ({
  id: r.id as string,
  ownerTid: r.owner_tid as string,
  ownerOid: r.owner_oid as string,
  displayName: (r.display_name as string | null) ?? null,
  authType: r.auth_type as ConnectionRecord['authType'],
  baseResourceUrl: r.base_resource_url as string,
  resourceUri: (r.resource_uri as string | null) ?? null,
  gatewayId: (r.gateway_id as string | null) ?? null,
  bodyEncoding: r.body_encoding as ConnectionRecord['bodyEncoding'],
  timeoutMs: r.timeout_ms as number,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
  ownerGroups: groupsFrom(r.owner_groups),
});
/** A whole connection row (`SELECT *`): one connection, or one whose credentials are used. */
export const connectionFrom = (r: Row): ConnectionRecord => ({ ...connectionFields(r), sealedCredentials: sealedFrom(r, r.sealed_credentials) });
/** A row of CONNECTION_SUMMARY_COLUMNS. */
export const connectionSummaryFrom = (r: Row): ConnectionSummary => ({
  ...connectionFields(r),
  hasCredentials: r.has_credentials === true || r.has_credentials === 1,
});
/** A row of `id, sealed_credentials` (Store.listGatewaySealedCredentials). */
export const sealedCredentialsFrom = (r: Row): SealedCredentials => ({ id: r.id as string, sealed: sealedFrom(r, r.sealed_credentials) ?? '' });
/** Sealed credentials are base64 text the hub wrote; anything else (a BLOB written into the file by hand, a changed
 *  column type) is a fault of the database, refused here rather than handed to an agent. The value is never named. */
function sealedFrom(r: Row, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  throw new Error(`store: the sealed credentials of connection ${String(r.id)} are not text (${Buffer.isBuffer(v) ? 'binary' : typeof v})`);
}
function groupsFrom(v: unknown): readonly string[] {
  try {
    const list = JSON.parse(typeof v === 'string' ? v : '[]') as unknown;
    return Array.isArray(list) ? list.filter((g): g is string => typeof g === 'string') : [];
  } catch {
    return [];
  }
}
export const roleFrom = (r: Row): GatewayRoleRecord => ({
  gatewayId: r.gateway_id as string,
  principalTid: r.principal_tid as string,
  principalId: r.principal_id as string,
  principalType: r.principal_type as GatewayRoleRecord['principalType'],
  role: r.role as GatewayRoleRecord['role'],
  createdAt: r.created_at as string,
});
export const shareFrom = (r: Row): ShareRecord => ({
  connectionId: r.connection_id as string,
  principalTid: r.principal_tid as string,
  principalId: r.principal_id as string,
  principalType: r.principal_type as ShareRecord['principalType'],
  createdAt: r.created_at as string,
});

/** The agent secret hashes the limiter loads (Store.agentSecretHashes), the same SQL for SQLite and PostgreSQL with
 *  `$1` the limit and `$2` the creation time (ISO 8601) members must have at least, or the time (ms) keys must
 *  expire after: members by when they were last seen (else created; both ISO 8601 text, so they sort as text), each
 *  gateway's newest unused registration key (keys last 24 hours from issue, so the newest expires last). */
export const AGENT_SECRET_SQL = {
  members: 'SELECT id, credential_hash FROM members WHERE created_at >= $2 ORDER BY COALESCE(last_seen_at, created_at) DESC, id LIMIT $1',
  registrationKeys:
    'SELECT gateway_id, key_hash FROM (SELECT gateway_id, key_hash, expires_at, row_number() OVER (PARTITION BY gateway_id ORDER BY expires_at DESC, key_hash) AS n FROM registration_keys WHERE used_at IS NULL AND expires_at > $2) AS newest WHERE n = 1 ORDER BY expires_at DESC, gateway_id LIMIT $1',
};

/** Members grouped by their gateway, every one of `gatewayIds` present (an empty list for a gateway without any). */
export function byGateway(gatewayIds: readonly string[], members: readonly MemberRecord[]): Map<string, MemberRecord[]> {
  const out = new Map<string, MemberRecord[]>(gatewayIds.map((id) => [id, []]));
  for (const m of members) out.get(m.gatewayId)?.push(m);
  return out;
}

/** A gateway's unused registration keys that are expired, or older than its newest `keep` unused ones: deleted
 *  after each new key ($1 and $3 the gateway, $2 now, $4 keep; one SQL for both stores). */
export const VOID_OLD_KEYS_SQL =
  'DELETE FROM registration_keys WHERE gateway_id = $1 AND used_at IS NULL AND (expires_at <= $2 OR key_hash NOT IN (SELECT key_hash FROM registration_keys WHERE gateway_id = $3 AND used_at IS NULL ORDER BY expires_at DESC, key_hash LIMIT $4))';

/** The keyset condition of a ListWindow (store.ts) (both stores): `$a` the createdAt, `$b` the id it starts after ('' when
 *  it starts at the beginning: every real value sorts after ''). */
export const AFTER_SQL = (a: string, b: string) => `(created_at > ${a} OR (created_at = ${a} AND id > ${b}))`;
