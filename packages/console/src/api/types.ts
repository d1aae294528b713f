// The hub's JSON shapes the console reads (SPEC sections 3 and 6).
export interface Member {
  id: string;
  name: string;
  hostname?: string;
  version?: string;
  status: 'online' | 'offline';
  enabled?: boolean;
  hubs?: number;
  connectedAt?: string | null;
  lastSeenAt?: string | null;
  roundTripMs?: number;
  inFlight?: number;
  /** Its last error as the hub answering saw it (packages/hub/src/agents/member-errors.ts). */
  lastError?: { code: string; message: string; at: string };
}

export interface Gateway {
  id: string;
  name: string;
  status: 'online' | 'offline';
  routing: 'primary' | 'distribute';
  members: Member[];
  /** The caller's role on it (absent from a hub older than roles: its creator, who is its Admin). */
  role?: GatewayRole;
}

export type AuthType = 'EntraAuth' | 'AnonymousGateway' | 'BasicGateway' | 'WindowsGateway';

export interface Connection {
  id: string;
  authType: AuthType;
  displayName: string;
  baseResourceUrl: string;
  resourceUri?: string;
  gatewayId?: string;
  access?: 'Owner' | 'User';
}

/** The invoke route's answer: the backend's status, headers and base64 body. */
export interface Envelope {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: string;
}

export type GatewayRole = 'Admin' | 'ConnectionCreator' | 'ConnectionCreatorWithSharing';
export type PrincipalType = 'User' | 'Group' | 'ServicePrincipal';

/** `GET /v1/gateways/{id}/roles`: one principal's role on the gateway. */
export interface RoleEntry {
  principalId: string;
  principalType: PrincipalType;
  role: GatewayRole;
}

/** `GET /v1/connections/{id}/shares`: one principal the connection is shared with. */
export interface ShareEntry {
  principalId: string;
  principalType: PrincipalType;
}

/** One audit record (docs/operations.md, "Audit log"). */
export interface AuditEntry {
  time: string;
  actor: { type: 'User' | 'ServicePrincipal'; tid: string; oid: string } | { type: 'Agent'; memberId: string };
  action: string;
  target: { type: string; id: string };
  details: Record<string, string | number | boolean | null | string[]>;
}

/** A page of an audit list, newest first; `nextLink` names the next (older) page. */
export interface AuditPage {
  value: AuditEntry[];
  nextLink?: string;
}
