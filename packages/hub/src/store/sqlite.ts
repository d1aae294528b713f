// SQLite store (better-sqlite3): the single-node default. Migrations run in one transaction at open.
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import type { ListWindow, MemberRecord, Store } from './store.js';
import type { Logger } from '../log.js';
import { narrowDatabaseFiles, prepareDatabaseFiles } from './private-files.js';
import {
  AGENT_SECRET_SQL,
  CONNECTION_SUMMARY_COLUMNS,
  byGateway,
  connectionFrom,
  connectionSummaryFrom,
  gatewayFrom,
  memberFrom,
  roleFrom,
  sealedCredentialsFrom,
  shareFrom,
  type Row,
  VOID_OLD_KEYS_SQL,
  AFTER_SQL,
} from './rows.js';
import { sqliteAuditStore } from './audit-sqlite.js';

/** The database file and its -wal/-shm are owner-only (0600): see private-files.ts. */
export function openSqliteStore(path: string, log?: Logger): Store {
  const onDisk = path !== ':memory:' && path !== '';
  if (onDisk) prepareDatabaseFiles(path, log);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // SQLite creates -wal and -shm with the database file's mode; checked once more now that they exist.
  if (onDisk) narrowDatabaseFiles(path, log);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);

  const q = {
    createGateway: db.prepare(
      'INSERT INTO gateways (id, name, owner_tid, owner_oid, public_key_pem, sealed_private_key, routing, created_at, key_handoff, previous_public_key_pem) VALUES (@id, @name, @ownerTid, @ownerOid, @publicKeyPem, @sealedPrivateKey, @routing, @createdAt, @keyHandoff, @previousPublicKeyPem)',
    ),
    getGateway: db.prepare('SELECT * FROM gateways WHERE id = ?'),
    addRole: db.prepare(
      'INSERT INTO gateway_roles (gateway_id, principal_tid, principal_id, principal_type, role, created_at) VALUES (@gatewayId, @principalTid, @principalId, @principalType, @role, @createdAt)',
    ),
    gatewaysFor: db.prepare(
      `SELECT * FROM gateways WHERE id IN (SELECT gateway_id FROM gateway_roles WHERE principal_tid = ? AND principal_id IN (SELECT value FROM json_each(?))) AND ${AFTER_SQL('@a', '@b')} ORDER BY created_at, id LIMIT @n`,
    ),
    listRoles: db.prepare('SELECT * FROM gateway_roles WHERE gateway_id = ? ORDER BY created_at, principal_id'),
    // One statement: the count of Admins cannot change between the check and the change.
    setRole: db.prepare(
      "INSERT INTO gateway_roles (gateway_id, principal_tid, principal_id, principal_type, role, created_at) VALUES (@gatewayId, @principalTid, @principalId, @principalType, @role, @createdAt) ON CONFLICT (gateway_id, principal_tid, principal_id) DO UPDATE SET principal_type = excluded.principal_type, role = excluded.role WHERE excluded.role = 'Admin' OR gateway_roles.role <> 'Admin' OR (SELECT count(*) FROM gateway_roles WHERE gateway_id = excluded.gateway_id AND role = 'Admin') > 1",
    ),
    deleteRole: db.prepare(
      "DELETE FROM gateway_roles WHERE gateway_id = @g AND principal_tid = @t AND principal_id = @p AND (role <> 'Admin' OR (SELECT count(*) FROM gateway_roles WHERE gateway_id = @g AND role = 'Admin') > 1)",
    ),
    roleExists: db.prepare('SELECT 1 FROM gateway_roles WHERE gateway_id = ? AND principal_tid = ? AND principal_id = ?'),
    listShares: db.prepare('SELECT * FROM connection_shares WHERE connection_id = ? ORDER BY created_at, principal_id'),
    putShare: db.prepare(
      'INSERT INTO connection_shares (connection_id, principal_tid, principal_id, principal_type, created_at) VALUES (@connectionId, @principalTid, @principalId, @principalType, @createdAt) ON CONFLICT (connection_id, principal_tid, principal_id) DO UPDATE SET principal_type = excluded.principal_type',
    ),
    deleteShare: db.prepare('DELETE FROM connection_shares WHERE connection_id = ? AND principal_tid = ? AND principal_id = ?'),
    sharedConnections: db.prepare(
      `SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE id IN (SELECT connection_id FROM connection_shares WHERE principal_tid = ? AND principal_id IN (SELECT value FROM json_each(?))) AND ${AFTER_SQL('@a', '@b')} ORDER BY created_at, id LIMIT @n`,
    ),
    claimGatewayKeys: db.prepare('UPDATE gateways SET public_key_pem = ?, sealed_private_key = ? WHERE id = ? AND public_key_pem IS NULL'),
    addKey: db.prepare('INSERT INTO registration_keys (key_hash, gateway_id, expires_at) VALUES (?, ?, ?)'),
    voidOldKeys: db.prepare(VOID_OLD_KEYS_SQL.replace(/\$\d/g, '?')),
    useKey: db.prepare('UPDATE registration_keys SET used_at = ? WHERE key_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING gateway_id'),
    keyValid: db.prepare('SELECT 1 FROM registration_keys WHERE key_hash = ? AND gateway_id = ? AND used_at IS NULL AND expires_at > ?'),
    // One statement: SQLite runs it alone, so the count cannot change between the check and the insert.
    addMember: db.prepare(
      'INSERT INTO members (id, gateway_id, name, hostname, version, credential_hash, enabled, created_at, last_seen_at) SELECT @id, @gatewayId, @name, @hostname, @version, @credentialHash, @enabled, @createdAt, @lastSeenAt WHERE (SELECT count(*) FROM members WHERE gateway_id = @gatewayId) < @maxMembers',
    ),
    getMember: db.prepare('SELECT * FROM members WHERE id = ?'),
    // SQLite takes `$1`, `$2` as named parameters `1`, `2`.
    memberSecrets: db.prepare(AGENT_SECRET_SQL.members),
    keySecrets: db.prepare(AGENT_SECRET_SQL.registrationKeys),
    listMembers: db.prepare('SELECT * FROM members WHERE gateway_id = ? ORDER BY created_at, id'),
    listMembersOf: db.prepare('SELECT * FROM members WHERE gateway_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id'),
    getMembers: db.prepare('SELECT * FROM members WHERE id IN (SELECT value FROM json_each(?))'),
    touchMember: db.prepare(
      'UPDATE members SET hostname = COALESCE(@hostname, hostname), version = COALESCE(@version, version), last_seen_at = @lastSeenAt WHERE id = @id',
    ),
    seen: db.prepare('UPDATE members SET last_seen_at = ? WHERE id = ?'),
    createConnection: db.prepare(
      'INSERT INTO connections (id, owner_tid, owner_oid, display_name, auth_type, base_resource_url, resource_uri, gateway_id, sealed_credentials, body_encoding, timeout_ms, created_at, updated_at, owner_groups) VALUES (@id, @ownerTid, @ownerOid, @displayName, @authType, @baseResourceUrl, @resourceUri, @gatewayId, @sealedCredentials, @bodyEncoding, @timeoutMs, @createdAt, @updatedAt, @ownerGroups)',
    ),
    getConnection: db.prepare('SELECT * FROM connections WHERE id = ?'),
    listConnections: db.prepare(
      `SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE owner_tid = @t AND owner_oid = @o AND ${AFTER_SQL('@a', '@b')} ORDER BY created_at, id LIMIT @n`,
    ),
    updateConnection: db.prepare(
      'UPDATE connections SET display_name = @displayName, base_resource_url = @baseResourceUrl, resource_uri = @resourceUri, gateway_id = @gatewayId, sealed_credentials = @sealedCredentials, body_encoding = @bodyEncoding, timeout_ms = @timeoutMs, updated_at = @updatedAt, owner_groups = @ownerGroups WHERE id = @id',
    ),
    deleteConnection: db.prepare('DELETE FROM connections WHERE id = ?'),
    setRouting: db.prepare('UPDATE gateways SET routing = ? WHERE id = ?'),
    deleteGateway: db.prepare('DELETE FROM gateways WHERE id = ? AND NOT EXISTS (SELECT 1 FROM connections WHERE gateway_id = ?)'),
    rotate: db.prepare('UPDATE gateways SET public_key_pem = ?, sealed_private_key = ?, key_handoff = ?, previous_public_key_pem = ? WHERE id = ?'),
    setEnabled: db.prepare('UPDATE members SET enabled = ? WHERE id = ?'),
    deleteMember: db.prepare('DELETE FROM members WHERE id = ?'),
    gatewayConnections: db.prepare(
      `SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE gateway_id = @g AND ${AFTER_SQL('@a', '@b')} ORDER BY created_at, id LIMIT @n`,
    ),
    gatewaySealedIds: db.prepare('SELECT id FROM connections WHERE gateway_id = ? AND sealed_credentials IS NOT NULL ORDER BY created_at, id'),
    countGatewayConnections: db.prepare('SELECT count(*) AS n FROM connections WHERE gateway_id = ?'),
    gatewaySealed: db.prepare('SELECT id, sealed_credentials FROM connections WHERE gateway_id = ? AND sealed_credentials IS NOT NULL ORDER BY created_at, id'),
    reseal: db.prepare('UPDATE connections SET sealed_credentials = ? WHERE id = ? AND gateway_id = ?'),
  };

  return {
    async countOwned(kind, tid, oid) {
      const table = kind === 'gateways' ? 'gateways' : 'connections';
      const row = db.prepare(`SELECT count(*) AS tenant, count(*) FILTER (WHERE owner_oid = ?) AS caller FROM ${table} WHERE owner_tid = ?`).get(oid, tid) as {
        tenant: number;
        caller: number;
      };
      return { caller: Number(row.caller), tenant: Number(row.tenant) };
    },
    async createGateway(g, creatorType) {
      db.transaction(() => {
        q.createGateway.run(g);
        q.addRole.run({
          gatewayId: g.id,
          principalTid: g.ownerTid,
          principalId: g.ownerOid,
          principalType: creatorType,
          role: 'Admin',
          createdAt: g.createdAt,
        });
      })();
    },
    async getGateway(id) {
      const r = q.getGateway.get(id) as Row | undefined;
      return r && gatewayFrom(r);
    },
    async listGatewaysFor(tid, ids, w) {
      return (q.gatewaysFor.all(tid, JSON.stringify(ids), windowParams(w)) as Row[]).map(gatewayFrom);
    },
    async listGatewayRoles(gatewayId) {
      return (q.listRoles.all(gatewayId) as Row[]).map(roleFrom);
    },
    async setGatewayRole(r) {
      return q.setRole.run(r).changes === 1;
    },
    async deleteGatewayRole(g, t, p) {
      return db.transaction(() => {
        if (q.deleteRole.run({ g, t, p }).changes === 1) return 'deleted' as const;
        return q.roleExists.get(g, t, p) === undefined ? ('absent' as const) : ('last-admin' as const);
      })();
    },
    async listShares(connectionId) {
      return (q.listShares.all(connectionId) as Row[]).map(shareFrom);
    },
    async putShare(share) {
      q.putShare.run(share);
    },
    async deleteShare(c, t, p) {
      return q.deleteShare.run(c, t, p).changes === 1;
    },
    async listSharedConnections(tid, ids, w) {
      return (q.sharedConnections.all(tid, JSON.stringify(ids), windowParams(w)) as Row[]).map(connectionSummaryFrom);
    },
    async claimGatewayKeys(id, pub, sealed) {
      return q.claimGatewayKeys.run(pub, sealed, id).changes === 1;
    },
    async addRegistrationKey(hash, gatewayId, expiresAt, keep, now) {
      db.transaction(() => {
        q.addKey.run(hash, gatewayId, expiresAt);
        q.voidOldKeys.run(gatewayId, now, gatewayId, keep);
      })();
    },
    async consumeRegistrationKey(hash, now) {
      const r = q.useKey.get(now, hash, now) as Row | undefined;
      return r?.gateway_id as string | undefined;
    },
    async registrationKeyValid(hash, gatewayId, now) {
      return q.keyValid.get(hash, gatewayId, now) !== undefined;
    },
    async addMember(m: MemberRecord, maxMembers) {
      return q.addMember.run({ ...m, enabled: m.enabled ? 1 : 0, maxMembers }).changes === 1;
    },
    async getMember(id) {
      const r = q.getMember.get(id) as Row | undefined;
      return r && memberFrom(r);
    },
    async agentSecretHashes(limit, since, expiringAfter) {
      const members = (q.memberSecrets.all({ 1: limit, 2: since }) as Row[]).map((r) => ({ id: r.id as string, credentialHash: r.credential_hash as string }));
      const keys = q.keySecrets.all({ 1: limit, 2: expiringAfter }) as Row[];
      return { members, registrationKeys: keys.map((r) => ({ gatewayId: r.gateway_id as string, keyHash: r.key_hash as string })) };
    },
    async getMembers(ids) {
      return (q.getMembers.all(JSON.stringify(ids)) as Row[]).map(memberFrom);
    },
    async listMembersOf(gatewayIds) {
      const rows = gatewayIds.length === 0 ? [] : (q.listMembersOf.all(JSON.stringify(gatewayIds)) as Row[]).map(memberFrom);
      return byGateway(gatewayIds, rows);
    },
    async listMembers(gatewayId) {
      return (q.listMembers.all(gatewayId) as Row[]).map(memberFrom);
    },
    async touchMember(id, f) {
      q.touchMember.run({ id, hostname: f.hostname ?? null, version: f.version ?? null, lastSeenAt: f.lastSeenAt });
    },
    async touchMembersSeen(seen) {
      db.transaction(() => {
        for (const m of seen) q.seen.run(m.lastSeenAt, m.id);
      })();
    },
    async createConnection(c) {
      q.createConnection.run({ ...c, ownerGroups: JSON.stringify(c.ownerGroups) });
    },
    async getConnection(id) {
      const r = q.getConnection.get(id) as Row | undefined;
      return r && connectionFrom(r);
    },
    async listConnections(o, w) {
      return (q.listConnections.all({ t: o.tid, o: o.oid, ...windowParams(w) }) as Row[]).map(connectionSummaryFrom);
    },
    async updateConnection(c) {
      q.updateConnection.run({ ...c, ownerGroups: JSON.stringify(c.ownerGroups) });
    },
    async deleteConnection(id) {
      q.deleteConnection.run(id);
    },
    async setGatewayRouting(id, routing) {
      q.setRouting.run(routing, id);
    },
    async deleteGateway(id) {
      return q.deleteGateway.run(id, id).changes === 1;
    },
    async rotateGatewayKey(id, k, resealed) {
      db.transaction(() => {
        q.rotate.run(k.publicKeyPem, k.sealedPrivateKey, k.keyHandoff, k.previousPublicKeyPem, id);
        for (const r of resealed) q.reseal.run(r.sealed, r.connectionId, id);
      }).immediate();
    },
    async listGatewayConnections(gatewayId, w) {
      return (q.gatewayConnections.all({ g: gatewayId, ...windowParams(w) }) as Row[]).map(connectionSummaryFrom);
    },
    async listGatewaySealedIds(gatewayId) {
      return (q.gatewaySealedIds.all(gatewayId) as Row[]).map((r) => r.id as string);
    },
    async countGatewayConnections(gatewayId) {
      return Number((q.countGatewayConnections.get(gatewayId) as Row).n);
    },
    async listGatewaySealedCredentials(gatewayId) {
      return (q.gatewaySealed.all(gatewayId) as Row[]).map(sealedCredentialsFrom);
    },
    async setMemberEnabled(id, enabled) {
      q.setEnabled.run(enabled ? 1 : 0, id);
    },
    async deleteMember(id) {
      q.deleteMember.run(id);
    },
    audit: sqliteAuditStore(db),
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      db.close();
    },
  };
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version));
  const apply = db.transaction(() => {
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }
  });
  apply.immediate();
}

/** A ListWindow as named SQLite parameters. */
function windowParams(w: ListWindow): { a: string; b: string; n: number } {
  return { a: w.after?.createdAt ?? '', b: w.after?.id ?? '', n: w.limit };
}
