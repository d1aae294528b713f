// What the hub keeps. One interface, async so a networked store (PostgreSQL) fits the same shape.
import type { AuditStore } from './audit-store.js';

export interface Owner {
  tid: string;
  oid: string;
}

export interface GatewayRecord {
  id: string;
  name: string;
  ownerTid: string;
  ownerOid: string;
  /** Set when the first member registers (the agent generates the key pair). */
  publicKeyPem: string | null;
  /** The private key sealed under the recovery key: the hub cannot open it. */
  sealedPrivateKey: string | null;
  routing: 'primary' | 'distribute';
  createdAt: string;
  /** After a key rotation: the new private key sealed to the previous public key, for the other members. */
  keyHandoff: string | null;
  previousPublicKeyPem: string | null;
}

export interface MemberRecord {
  id: string;
  gatewayId: string;
  name: string;
  hostname: string;
  version: string;
  credentialHash: string;
  enabled: boolean;
  createdAt: string;
  lastSeenAt: string | null;
}

/** What a principal id names (SPEC section 6): a user, an Entra ID group, or an app's service principal. */
export type PrincipalType = 'User' | 'Group' | 'ServicePrincipal';
export type GatewayRole = 'Admin' | 'ConnectionCreator' | 'ConnectionCreatorWithSharing';

/** A principal's role on a gateway. Principals are of one tenant (`principalTid`); the id is an object id. */
export interface GatewayRoleRecord {
  gatewayId: string;
  principalTid: string;
  principalId: string;
  principalType: PrincipalType;
  role: GatewayRole;
  createdAt: string;
}

/** A connection shared with a principal: its use, never its change. */
export interface ShareRecord {
  connectionId: string;
  principalTid: string;
  principalId: string;
  principalType: PrincipalType;
  createdAt: string;
}

export type AuthType = 'EntraAuth' | 'AnonymousGateway' | 'BasicGateway' | 'WindowsGateway';

export interface ConnectionRecord {
  id: string;
  ownerTid: string;
  ownerOid: string;
  displayName: string | null;
  authType: AuthType;
  baseResourceUrl: string;
  resourceUri: string | null;
  gatewayId: string | null;
  /** Username and password sealed to the gateway's public key; never readable by the hub. */
  sealedCredentials: string | null;
  bodyEncoding: 'raw' | 'base64';
  timeoutMs: number;
  createdAt: string;
  updatedAt: string;
  /** The owner's groups as their token listed them when they last created, changed or shared the connection: whether
   *  the owner still holds a role on the gateway is judged with these when someone it is shared with calls. */
  ownerGroups: readonly string[];
}

/** Part of a list in (createdAt, id) order: the items after `after` (from the start when undefined), at most `limit`. */
export interface ListWindow {
  after: { createdAt: string; id: string } | undefined;
  limit: number;
}

/** A connection as the lists read it: every field but the sealed credentials, whose presence the database reports
 *  (`sealed_credentials IS NOT NULL`) without handing over the blob (up to about 11.6 KB each, and a caller may own
 *  1,000 connections: red team session 17 F4). Code holding a summary cannot reach for the blob: it has no such field. */
export interface ConnectionSummary extends Omit<ConnectionRecord, 'sealedCredentials'> {
  hasCredentials: boolean;
}

/** A connection's sealed credentials alone (a key rotation reseals them). */
export interface SealedCredentials {
  id: string;
  sealed: string;
}

/** What the agent authentication limiter knows a valid agent secret by (agents/known-credentials.ts): hashes only. */
export interface AgentSecretHashes {
  /** Members, most recently seen (or, never seen, created) first. */
  members: Array<{ id: string; credentialHash: string }>;
  /** Each gateway's newest unused, unexpired registration key, newest first. */
  registrationKeys: Array<{ gatewayId: string; keyHash: string }>;
}

export interface Store {
  /** Creates a gateway with its creator as its first Admin, in one transaction. */
  createGateway(g: GatewayRecord, creatorType: PrincipalType): Promise<void>;
  /** How many gateways or connections the caller (tid, oid) owns, and its whole tenant. */
  countOwned(kind: 'gateways' | 'connections', tid: string, oid: string): Promise<{ caller: number; tenant: number }>;
  getGateway(id: string): Promise<GatewayRecord | undefined>;
  /** The gateways on which any of `principalIds` (of tenant `tid`) holds a role, in (createdAt, id) order from
   *  `window`: a page is read, not every gateway the caller may see (up to 2,000 a tenant). */
  listGatewaysFor(tid: string, principalIds: readonly string[], window: ListWindow): Promise<GatewayRecord[]>;
  listGatewayRoles(gatewayId: string): Promise<GatewayRoleRecord[]>;
  /** Gives (or changes) a principal's role, unless that would leave the gateway without an Admin (checked in the
   *  same transaction, whichever hub takes concurrent changes); false when it would. */
  setGatewayRole(r: GatewayRoleRecord): Promise<boolean>;
  /** Removes a principal's role unless it is the gateway's last Admin (checked in the same transaction). */
  deleteGatewayRole(gatewayId: string, principalTid: string, principalId: string): Promise<'deleted' | 'absent' | 'last-admin'>;
  listShares(connectionId: string): Promise<ShareRecord[]>;
  /** Adds or updates a share. */
  putShare(s: ShareRecord): Promise<void>;
  deleteShare(connectionId: string, principalTid: string, principalId: string): Promise<boolean>;
  /** Connections shared with any of `principalIds` (of tenant `tid`), without their sealed credentials, in
   *  (createdAt, id) order from `window` (a page is read, not the whole list: red team session 17). */
  listSharedConnections(tid: string, principalIds: readonly string[], window: ListWindow): Promise<ConnectionSummary[]>;
  /** Gives a gateway its key pair if it has none yet (first registration); false if another registration
   *  gave it one first (checked in the same statement, so concurrent registrations on any hub cannot both win). */
  claimGatewayKeys(id: string, publicKeyPem: string, sealedPrivateKey: string): Promise<boolean>;
  setGatewayRouting(id: string, routing: GatewayRecord['routing']): Promise<void>;
  /** Deletes a gateway with its members and registration keys, unless a connection still uses it (checked in
   *  the same statement); false when one does. */
  deleteGateway(id: string): Promise<boolean>;
  /** Key rotation: the new key and every connection's credentials re-sealed to it, in one transaction. */
  rotateGatewayKey(
    id: string,
    keys: { publicKeyPem: string; sealedPrivateKey: string; keyHandoff: string; previousPublicKeyPem: string },
    resealed: Array<{ connectionId: string; sealed: string }>,
  ): Promise<void>;
  /** The gateway's connections, without their sealed credentials, in (createdAt, id) order from `window` (read
   *  with the index connections_gateway, migration 6). */
  listGatewayConnections(gatewayId: string, window: ListWindow): Promise<ConnectionSummary[]>;
  /** The ids of the gateway's connections that have sealed credentials, in (createdAt, id) order: all of them (a key
   *  rotation's commit must name each), at most MAX_CONNECTIONS_PER_GATEWAY (256) as POST /v1/connections allows. */
  listGatewaySealedIds(gatewayId: string): Promise<string[]>;
  /** How many connections use the gateway (one COUNT). */
  countGatewayConnections(gatewayId: string): Promise<number>;
  /** The id and sealed credentials of each of the gateway's connections that has them, and nothing else: what a
   *  key rotation reseals. */
  listGatewaySealedCredentials(gatewayId: string): Promise<SealedCredentials[]>;
  /** Adds a key; the gateway's unused keys past its newest `keep` (and its expired unused ones) are voided, so a
   *  caller issuing keys in a loop cannot grow the table (red team, session 17: 47,620 keys in 40 s). */
  addRegistrationKey(hash: string, gatewayId: string, expiresAt: number, keep: number, now: number): Promise<void>;
  /** Marks the key used and returns its gateway, atomically; undefined when unknown, used or expired. */
  consumeRegistrationKey(hash: string, now: number): Promise<string | undefined>;
  /** Whether the key is unused, unexpired and for this gateway, without using it up. */
  registrationKeyValid(hash: string, gatewayId: string, now: number): Promise<boolean>;
  /** Adds a member unless its gateway already has `maxMembers` (counted and added atomically, whichever hub
   *  takes concurrent registrations); false when it has. */
  addMember(m: MemberRecord, maxMembers: number): Promise<boolean>;
  getMember(id: string): Promise<MemberRecord | undefined>;
  /** The credential hashes of at most `limit` members created at `membersCreatedSince` (ISO 8601; '' for all) or
   *  later, most recently seen first, and each gateway's newest unused registration key among those expiring after
   *  `keysExpiringAfter` (ms), for at most `limit` gateways: two reads (agents/known-credentials.ts). */
  agentSecretHashes(limit: number, membersCreatedSince: string, keysExpiringAfter: number): Promise<AgentSecretHashes>;
  listMembers(gatewayId: string): Promise<MemberRecord[]>;
  /** The members of several gateways in one query (a page of GET /v1/gateways), each gateway's in listMembers' order. */
  listMembersOf(gatewayIds: readonly string[]): Promise<Map<string, MemberRecord[]>>;
  /** The members with these ids that exist (any gateway), in one read. */
  getMembers(ids: readonly string[]): Promise<MemberRecord[]>;
  touchMember(id: string, fields: { hostname?: string; version?: string; lastSeenAt: string }): Promise<void>;
  /** Many members' lastSeenAt in one write (the hub's stop closes every session at once). */
  touchMembersSeen(seen: ReadonlyArray<{ id: string; lastSeenAt: string }>): Promise<void>;
  setMemberEnabled(id: string, enabled: boolean): Promise<void>;
  deleteMember(id: string): Promise<void>;
  createConnection(c: ConnectionRecord): Promise<void>;
  getConnection(id: string): Promise<ConnectionRecord | undefined>;
  /** The owner's connections, without their sealed credentials, in (createdAt, id) order from `window`. */
  listConnections(owner: Owner, window: ListWindow): Promise<ConnectionSummary[]>;
  updateConnection(c: ConnectionRecord): Promise<void>;
  deleteConnection(id: string): Promise<void>;
  /** The audit log (store/audit-store.ts). */
  audit: AuditStore;
  ping(): Promise<void>;
  close(): Promise<void>;
}
