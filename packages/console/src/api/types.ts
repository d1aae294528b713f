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
  lastError?: string | null;
}

export interface Gateway {
  id: string;
  name: string;
  status: 'online' | 'offline';
  routing: 'primary' | 'distribute';
  members: Member[];
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
