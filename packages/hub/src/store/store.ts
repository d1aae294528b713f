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
}

export interface Store {
  createGateway(g: GatewayRecord): Promise<void>;
  getGateway(id: string): Promise<GatewayRecord | undefined>;
  listGateways(owner: Owner): Promise<GatewayRecord[]>;
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
  listGatewayConnections(gatewayId: string): Promise<ConnectionRecord[]>;
  addRegistrationKey(hash: string, gatewayId: string, expiresAt: number): Promise<void>;
  /** Marks the key used and returns its gateway, atomically; undefined when unknown, used or expired. */
  consumeRegistrationKey(hash: string, now: number): Promise<string | undefined>;
  /** Whether the key is unused, unexpired and for this gateway, without using it up. */
  registrationKeyValid(hash: string, gatewayId: string, now: number): Promise<boolean>;
  /** Adds a member unless its gateway already has `maxMembers` (counted and added atomically, whichever hub
   *  takes concurrent registrations); false when it has. */
  addMember(m: MemberRecord, maxMembers: number): Promise<boolean>;
  getMember(id: string): Promise<MemberRecord | undefined>;
  listMembers(gatewayId: string): Promise<MemberRecord[]>;
  /** The members with these ids that exist (any gateway), in one read. */
  getMembers(ids: readonly string[]): Promise<MemberRecord[]>;
  touchMember(id: string, fields: { hostname?: string; version?: string; lastSeenAt: string }): Promise<void>;
  /** Many members' lastSeenAt in one write (the hub's stop closes every session at once). */
  touchMembersSeen(seen: ReadonlyArray<{ id: string; lastSeenAt: string }>): Promise<void>;
  setMemberEnabled(id: string, enabled: boolean): Promise<void>;
  deleteMember(id: string): Promise<void>;
  createConnection(c: ConnectionRecord): Promise<void>;
  getConnection(id: string): Promise<ConnectionRecord | undefined>;
  listConnections(owner: Owner): Promise<ConnectionRecord[]>;
  updateConnection(c: ConnectionRecord): Promise<void>;
  deleteConnection(id: string): Promise<void>;
  /** The audit log (store/audit-store.ts). */
  audit: AuditStore;
  ping(): Promise<void>;
  close(): Promise<void>;
}
