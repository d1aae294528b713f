// PostgreSQL store (pg) for several hubs: the same schema and migrations as SQLite, applied under an advisory
// lock so hubs starting together migrate once. A database that cannot be reached is a coded 503.
import pg from 'pg';
import { GatehouseError } from '@gatehouse/shared';
import { MIGRATIONS } from './migrations.js';
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
import type { ConnectionRecord, GatewayRecord, MemberRecord, Store } from './store.js';
import { postgresAuditStore } from './audit-postgres.js';

const MIGRATION_LOCK = 0x6761_7465; // "gate": the advisory lock every hub takes to migrate

/** Connection-level failures (and the server starting or shutting down): the database is unreachable. */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|57P0[123]|08\w\w)$/.test(code) ||
    /Connection terminated|connect|timeout/i.test((err as Error).message ?? '')
  );
}

function unavailable(err: unknown): never {
  if (isUnreachable(err)) throw new GatehouseError('ServiceUnavailable', 'hub -> database: PostgreSQL is unreachable');
  throw err;
}

export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  pool.on('error', () => {
    /* a dropped idle client; the next query reconnects or reports 503 */
  });
  const q = async (text: string, values: unknown[] = []): Promise<Row[]> => {
    try {
      return (await pool.query(text, values)).rows as Row[];
    } catch (err) {
      return unavailable(err);
    }
  };
  /** Runs `work` in one transaction on one client: committed when it returns, rolled back when it throws. */
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      return unavailable(err);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      return unavailable(err);
    } finally {
      client.release();
    }
  };
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const conn = (c: ConnectionRecord) => [
    c.id,
    c.ownerTid,
    c.ownerOid,
    c.displayName,
    c.authType,
    c.baseResourceUrl,
    c.resourceUri,
    c.gatewayId,
    c.sealedCredentials,
    c.bodyEncoding,
    c.timeoutMs,
    c.createdAt,
    c.updatedAt,
    JSON.stringify(c.ownerGroups),
  ];
  return {
    async countOwned(kind, tid, oid) {
      const table = kind === 'gateways' ? 'gateways' : 'connections';
      const row = (
        await pool.query(`SELECT count(*) AS tenant, count(*) FILTER (WHERE owner_oid = $1) AS caller FROM ${table} WHERE owner_tid = $2`, [oid, tid])
      ).rows[0];
      return { caller: Number(row.caller), tenant: Number(row.tenant) };
    },
    async createGateway(g: GatewayRecord, creatorType) {
      await transaction(async (client) => {
        await client.query(
          'INSERT INTO gateways (id, name, owner_tid, owner_oid, public_key_pem, sealed_private_key, routing, created_at, key_handoff, previous_public_key_pem) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)',
          [g.id, g.name, g.ownerTid, g.ownerOid, g.publicKeyPem, g.sealedPrivateKey, g.routing, g.createdAt, g.keyHandoff, g.previousPublicKeyPem],
        );
        await client.query(
          "INSERT INTO gateway_roles (gateway_id, principal_tid, principal_id, principal_type, role, created_at) VALUES ($1, $2, $3, $4, 'Admin', $5)",
          [g.id, g.ownerTid, g.ownerOid, creatorType, g.createdAt],
        );
      });
    },
    async getGateway(id) {
      const r = await q('SELECT * FROM gateways WHERE id = $1', [id]);
      return r[0] && gatewayFrom(r[0]);
    },
    async listGatewaysFor(tid, ids, w) {
      return (
        await q(
          `SELECT * FROM gateways WHERE id IN (SELECT gateway_id FROM gateway_roles WHERE principal_tid = $1 AND principal_id = ANY($2)) AND ${AFTER_SQL('$3', '$4')} ORDER BY created_at, id LIMIT $5`,
          [tid, ids, w.after?.createdAt ?? '', w.after?.id ?? '', w.limit],
        )
      ).map(gatewayFrom);
    },
    async listGatewayRoles(gatewayId) {
      return (await q('SELECT * FROM gateway_roles WHERE gateway_id = $1 ORDER BY created_at, principal_id', [gatewayId])).map(roleFrom);
    },
    async setGatewayRole(r) {
      return transaction(async (client) => {
        // The gateway's row locked: concurrent role changes for it, on any hub, count its Admins one at a time.
        await client.query('SELECT 1 FROM gateways WHERE id = $1 FOR UPDATE', [r.gatewayId]);
        const done = await client.query(
          "INSERT INTO gateway_roles (gateway_id, principal_tid, principal_id, principal_type, role, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (gateway_id, principal_tid, principal_id) DO UPDATE SET principal_type = excluded.principal_type, role = excluded.role WHERE excluded.role = 'Admin' OR gateway_roles.role <> 'Admin' OR (SELECT count(*) FROM gateway_roles WHERE gateway_id = excluded.gateway_id AND role = 'Admin') > 1 RETURNING 1",
          [r.gatewayId, r.principalTid, r.principalId, r.principalType, r.role, r.createdAt],
        );
        return done.rows.length === 1;
      });
    },
    async deleteGatewayRole(g, t, p) {
      return transaction(async (client) => {
        await client.query('SELECT 1 FROM gateways WHERE id = $1 FOR UPDATE', [g]);
        const done = await client.query(
          "DELETE FROM gateway_roles WHERE gateway_id = $1 AND principal_tid = $2 AND principal_id = $3 AND (role <> 'Admin' OR (SELECT count(*) FROM gateway_roles WHERE gateway_id = $1 AND role = 'Admin') > 1) RETURNING 1",
          [g, t, p],
        );
        if (done.rows.length === 1) return 'deleted' as const;
        const left = await client.query('SELECT 1 FROM gateway_roles WHERE gateway_id = $1 AND principal_tid = $2 AND principal_id = $3', [g, t, p]);
        return left.rows.length === 0 ? ('absent' as const) : ('last-admin' as const);
      });
    },
    async listShares(connectionId) {
      return (await q('SELECT * FROM connection_shares WHERE connection_id = $1 ORDER BY created_at, principal_id', [connectionId])).map(shareFrom);
    },
    async putShare(sh) {
      await q(
        'INSERT INTO connection_shares (connection_id, principal_tid, principal_id, principal_type, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (connection_id, principal_tid, principal_id) DO UPDATE SET principal_type = excluded.principal_type',
        [sh.connectionId, sh.principalTid, sh.principalId, sh.principalType, sh.createdAt],
      );
    },
    async deleteShare(c, t, p) {
      return (
        (await q('DELETE FROM connection_shares WHERE connection_id = $1 AND principal_tid = $2 AND principal_id = $3 RETURNING 1', [c, t, p])).length === 1
      );
    },
    async listSharedConnections(tid, ids, w) {
      return (
        await q(
          `SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE id IN (SELECT connection_id FROM connection_shares WHERE principal_tid = $1 AND principal_id = ANY($2)) AND ${AFTER_SQL('$3', '$4')} ORDER BY created_at, id LIMIT $5`,
          [tid, ids, w.after?.createdAt ?? '', w.after?.id ?? '', w.limit],
        )
      ).map(connectionSummaryFrom);
    },
    async claimGatewayKeys(id, pub, sealed) {
      return (
        (await q('UPDATE gateways SET public_key_pem = $1, sealed_private_key = $2 WHERE id = $3 AND public_key_pem IS NULL RETURNING id', [pub, sealed, id]))
          .length === 1
      );
    },
    async setGatewayRouting(id, routing) {
      await q('UPDATE gateways SET routing = $1 WHERE id = $2', [routing, id]);
    },
    async deleteGateway(id) {
      return (await q('DELETE FROM gateways WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM connections WHERE gateway_id = $1) RETURNING id', [id])).length === 1;
    },
    async rotateGatewayKey(id, k, resealed) {
      await transaction(async (client) => {
        await client.query('UPDATE gateways SET public_key_pem = $1, sealed_private_key = $2, key_handoff = $3, previous_public_key_pem = $4 WHERE id = $5', [
          k.publicKeyPem,
          k.sealedPrivateKey,
          k.keyHandoff,
          k.previousPublicKeyPem,
          id,
        ]);
        for (const r of resealed)
          await client.query('UPDATE connections SET sealed_credentials = $1 WHERE id = $2 AND gateway_id = $3', [r.sealed, r.connectionId, id]);
      });
    },
    async listGatewayConnections(gatewayId, w) {
      return (
        await q(`SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE gateway_id = $1 AND ${AFTER_SQL('$2', '$3')} ORDER BY created_at, id LIMIT $4`, [
          gatewayId,
          w.after?.createdAt ?? '',
          w.after?.id ?? '',
          w.limit,
        ])
      ).map(connectionSummaryFrom);
    },
    async listGatewaySealedIds(gatewayId) {
      return (await q('SELECT id FROM connections WHERE gateway_id = $1 AND sealed_credentials IS NOT NULL ORDER BY created_at, id', [gatewayId])).map(
        (r) => r.id as string,
      );
    },
    async countGatewayConnections(gatewayId) {
      return Number((await q('SELECT count(*) AS n FROM connections WHERE gateway_id = $1', [gatewayId]))[0]!.n);
    },
    async listGatewaySealedCredentials(gatewayId) {
      return (
        await q('SELECT id, sealed_credentials FROM connections WHERE gateway_id = $1 AND sealed_credentials IS NOT NULL ORDER BY created_at, id', [gatewayId])
      ).map(sealedCredentialsFrom);
    },
    async addRegistrationKey(hash, gatewayId, expiresAt, keep, now) {
      await q('INSERT INTO registration_keys (key_hash, gateway_id, expires_at) VALUES ($1, $2, $3)', [hash, gatewayId, expiresAt]);
      await q(VOID_OLD_KEYS_SQL, [gatewayId, now, gatewayId, keep]);
    },
    async consumeRegistrationKey(hash, now) {
      const r = await q('UPDATE registration_keys SET used_at = $1 WHERE key_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING gateway_id', [
        now,
        hash,
      ]);
      return r[0]?.gateway_id as string | undefined;
    },
    async registrationKeyValid(hash, gatewayId, now) {
      return (
        (await q('SELECT 1 FROM registration_keys WHERE key_hash = $1 AND gateway_id = $2 AND used_at IS NULL AND expires_at > $3', [hash, gatewayId, now]))
          .length > 0
      );
    },
    async addMember(m: MemberRecord, maxMembers) {
      return transaction(async (client) => {
        // The gateway's row locked: concurrent registrations for it, on any hub, count and add one at a time.
        await client.query('SELECT 1 FROM gateways WHERE id = $1 FOR UPDATE', [m.gatewayId]);
        const count = Number((await client.query('SELECT count(*) AS n FROM members WHERE gateway_id = $1', [m.gatewayId])).rows[0].n);
        if (count >= maxMembers) return false;
        await client.query(
          'INSERT INTO members (id, gateway_id, name, hostname, version, credential_hash, enabled, created_at, last_seen_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)',
          [m.id, m.gatewayId, m.name, m.hostname, m.version, m.credentialHash, m.enabled ? 1 : 0, m.createdAt, m.lastSeenAt],
        );
        return true;
      });
    },
    async getMember(id) {
      const r = await q('SELECT * FROM members WHERE id = $1', [id]);
      return r[0] && memberFrom(r[0]);
    },
    async agentSecretHashes(limit, since, expiringAfter) {
      const members = (await q(AGENT_SECRET_SQL.members, [limit, since])).map((r) => ({ id: r.id as string, credentialHash: r.credential_hash as string }));
      const keys = await q(AGENT_SECRET_SQL.registrationKeys, [limit, expiringAfter]);
      return { members, registrationKeys: keys.map((r) => ({ gatewayId: r.gateway_id as string, keyHash: r.key_hash as string })) };
    },
    async getMembers(ids) {
      return ids.length === 0 ? [] : (await q('SELECT * FROM members WHERE id = ANY($1)', [ids])).map(memberFrom);
    },
    async listMembersOf(gatewayIds) {
      const rows =
        gatewayIds.length === 0 ? [] : (await q('SELECT * FROM members WHERE gateway_id = ANY($1) ORDER BY created_at, id', [[...gatewayIds]])).map(memberFrom);
      return byGateway(gatewayIds, rows);
    },
    async listMembers(gatewayId) {
      return (await q('SELECT * FROM members WHERE gateway_id = $1 ORDER BY created_at, id', [gatewayId])).map(memberFrom);
    },
    async touchMember(id, f) {
      await q('UPDATE members SET hostname = COALESCE($1, hostname), version = COALESCE($2, version), last_seen_at = $3 WHERE id = $4', [
        f.hostname ?? null,
        f.version ?? null,
        f.lastSeenAt,
        id,
      ]);
    },
    async touchMembersSeen(seen) {
      if (seen.length === 0) return;
      await q('UPDATE members AS m SET last_seen_at = v.t FROM unnest($1::text[], $2::text[]) AS v(id, t) WHERE m.id = v.id', [
        seen.map((m) => m.id),
        seen.map((m) => m.lastSeenAt),
      ]);
    },
    async setMemberEnabled(id, enabled) {
      await q('UPDATE members SET enabled = $1 WHERE id = $2', [enabled ? 1 : 0, id]);
    },
    async deleteMember(id) {
      await q('DELETE FROM members WHERE id = $1', [id]);
    },
    async createConnection(c) {
      await q(
        'INSERT INTO connections (id, owner_tid, owner_oid, display_name, auth_type, base_resource_url, resource_uri, gateway_id, sealed_credentials, body_encoding, timeout_ms, created_at, updated_at, owner_groups) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)',
        conn(c),
      );
    },
    async getConnection(id) {
      const r = await q('SELECT * FROM connections WHERE id = $1', [id]);
      return r[0] && connectionFrom(r[0]);
    },
    async listConnections(o, w) {
      return (
        await q(
          `SELECT ${CONNECTION_SUMMARY_COLUMNS} FROM connections WHERE owner_tid = $1 AND owner_oid = $2 AND ${AFTER_SQL('$3', '$4')} ORDER BY created_at, id LIMIT $5`,
          [o.tid, o.oid, w.after?.createdAt ?? '', w.after?.id ?? '', w.limit],
        )
      ).map(connectionSummaryFrom);
    },
    async updateConnection(c) {
      await q(
        'UPDATE connections SET display_name = $1, base_resource_url = $2, resource_uri = $3, gateway_id = $4, sealed_credentials = $5, body_encoding = $6, timeout_ms = $7, updated_at = $8, owner_groups = $10 WHERE id = $9',
        [
          c.displayName,
          c.baseResourceUrl,
          c.resourceUri,
          c.gatewayId,
          c.sealedCredentials,
          c.bodyEncoding,
          c.timeoutMs,
          c.updatedAt,
          c.id,
          JSON.stringify(c.ownerGroups),
        ],
      );
    },
    async deleteConnection(id) {
      await q('DELETE FROM connections WHERE id = $1', [id]);
    },
    audit: postgresAuditStore(q),
    async ping() {
      await q('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((await client.query('SELECT version FROM schema_migrations')).rows.map((r: { version: number }) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      await client.query('COMMIT');
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
