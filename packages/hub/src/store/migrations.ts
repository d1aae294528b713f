// Versioned schema. Append a migration, never edit one that has shipped.
export const MIGRATIONS: ReadonlyArray<{ version: number; name: string; sql: string }> = [
  {
    version: 1,
    name: 'gateways, members, registration keys, connections',
    sql: `
      CREATE TABLE gateways (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_tid TEXT NOT NULL, owner_oid TEXT NOT NULL,
        public_key_pem TEXT, sealed_private_key TEXT, routing TEXT NOT NULL DEFAULT 'primary', created_at TEXT NOT NULL
      );
      CREATE INDEX gateways_owner ON gateways (owner_tid, owner_oid);
      CREATE TABLE registration_keys (
        key_hash TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
        expires_at BIGINT NOT NULL, used_at BIGINT
      );
      CREATE TABLE members (
        id TEXT PRIMARY KEY, gateway_id TEXT NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
        name TEXT NOT NULL, hostname TEXT NOT NULL, version TEXT NOT NULL, credential_hash TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, last_seen_at TEXT
      );
      CREATE INDEX members_gateway ON members (gateway_id);
      CREATE TABLE connections (
        id TEXT PRIMARY KEY, owner_tid TEXT NOT NULL, owner_oid TEXT NOT NULL, display_name TEXT,
        auth_type TEXT NOT NULL, base_resource_url TEXT NOT NULL, resource_uri TEXT, gateway_id TEXT,
        sealed_credentials TEXT, body_encoding TEXT NOT NULL DEFAULT 'raw', timeout_ms INTEGER NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL
      );
      CREATE INDEX connections_owner ON connections (owner_tid, owner_oid);
    `,
  },
  {
    version: 2,
    name: 'gateway key rotation hand-off',
    sql: `
      ALTER TABLE gateways ADD COLUMN key_handoff TEXT;
      ALTER TABLE gateways ADD COLUMN previous_public_key_pem TEXT;
    `,
  },
  {
    version: 3,
    name: 'gateway roles, connection shares',
    // Every existing gateway's creator becomes its first Admin (gateways had one user each until now).
    sql: `
      CREATE TABLE gateway_roles (
        gateway_id TEXT NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
        principal_tid TEXT NOT NULL, principal_id TEXT NOT NULL, principal_type TEXT NOT NULL, role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (gateway_id, principal_tid, principal_id)
      );
      CREATE INDEX gateway_roles_principal ON gateway_roles (principal_tid, principal_id);
      INSERT INTO gateway_roles (gateway_id, principal_tid, principal_id, principal_type, role, created_at)
        SELECT id, owner_tid, owner_oid, 'User', 'Admin', created_at FROM gateways;
      CREATE TABLE connection_shares (
        connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
        principal_tid TEXT NOT NULL, principal_id TEXT NOT NULL, principal_type TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (connection_id, principal_tid, principal_id)
      );
      CREATE INDEX connection_shares_principal ON connection_shares (principal_tid, principal_id);
      ALTER TABLE connections ADD COLUMN owner_groups TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 4,
    name: 'audit log',
    // id: sortable, all digits (store/audit-store.ts); time: ISO 8601, what retention deletes by.
    sql: `
      CREATE TABLE audit_log (
        id TEXT PRIMARY KEY, time TEXT NOT NULL, actor_type TEXT NOT NULL, actor_tid TEXT, actor_oid TEXT, actor_member TEXT,
        action TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, gateway_id TEXT, connection_id TEXT,
        details TEXT NOT NULL
      );
      CREATE INDEX audit_log_gateway ON audit_log (gateway_id, id);
      CREATE INDEX audit_log_connection ON audit_log (connection_id, id);
      CREATE INDEX audit_log_time ON audit_log (time);
    `,
  },
  {
    version: 5,
    name: 'members by creation, registration keys by expiry',
    // What the agent authentication limiter's reload reads (Store.agentSecretHashes): the members made and the
    // keys issued lately, without a scan of every member.
    sql: `
      CREATE INDEX members_created ON members (created_at);
      CREATE INDEX registration_keys_expires ON registration_keys (expires_at);
    `,
  },
  {
    version: 6,
    name: 'connections by gateway and by owner, in creation order',
    // A page of GET /v1/gateways/{id}/connections (Store.listGatewayConnections: gateway_id, then the keyset on
    // (created_at, id)) read from the index in order, not by a scan of every tenant's connections; the per-gateway
    // count, the delete's "still used" check and a key rotation's reads find the gateway's rows by it too.
    // The owner's list (Store.listConnections) the same way: a page from the index in order, no sort of the owner's
    // up to 1,000 rows per GET.
    sql: `
      CREATE INDEX connections_gateway ON connections (gateway_id, created_at, id);
      CREATE INDEX connections_owner_created ON connections (owner_tid, owner_oid, created_at, id);
    `,
  },
];
