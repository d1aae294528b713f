// How GET /openapi.json describes the gateways routes (http/gateways.ts passes each to its route()).
import type { OperationDoc } from './route-doc.js';

const ID = { id: 'The gateway.' };
const MEMBER = { id: 'The gateway.', memberId: 'The member (an agent of the gateway).' };
const PRINCIPAL = { id: 'The gateway.', principalId: "The principal's Entra ID object id (a user, a group or a service principal of the caller's tenant)." };

const MEMBER_VIEW =
  "Each member's status as the hubs see it; from the hub answering, while the member is connected to it, its calls in flight (inFlight) and heartbeat round trip (roundTripMs), and its last error as that hub saw it (lastError: code, message, at; kept in that hub's memory after the member went offline).";

export const GATEWAY_DOCS = {
  create: {
    operationId: 'createGateway',
    summary: 'Create a gateway',
    description: 'The caller becomes its first Admin. The registration key is shown once: `gatehouse-agent register` spends it.',
    tag: 'Gateways',
    body: 'GatewayCreate',
    ok: { status: 201, description: 'Created, with a one-time registration key.', schema: 'GatewayCreated' },
    errors: ['InvalidRequest', 'PayloadTooLarge'],
  },
  list: {
    operationId: 'listGateways',
    summary: 'List the gateways the caller may see',
    description: `Paged, oldest first: follow nextLink as it is. ${MEMBER_VIEW}`,
    tag: 'Gateways',
    query: {
      top: { description: 'Items per page (default 100), oldest first.', schema: { type: 'integer', minimum: 1, maximum: 500 } },
      skipToken: { description: "Where the page starts: from the previous page's nextLink.", schema: { type: 'string' } },
    },
    ok: { status: 200, description: 'The gateways, with their members.', schema: 'GatewayList' },
    errors: ['InvalidRequest'],
  },
  get: {
    operationId: 'getGateway',
    summary: 'Get a gateway and its members',
    description: MEMBER_VIEW,
    tag: 'Gateways',
    params: ID,
    ok: { status: 200, description: 'The gateway.', schema: 'Gateway' },
    errors: ['NotFound'],
  },
  update: {
    operationId: 'updateGateway',
    summary: 'Change how a gateway routes calls',
    description: 'primary: the first online member, with failover; distribute: spread over the online members.',
    tag: 'Gateways',
    params: ID,
    body: 'GatewayPatch',
    ok: { status: 200, description: 'The gateway as changed.', schema: 'Gateway' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound', 'PayloadTooLarge'],
  },
  remove: {
    operationId: 'deleteGateway',
    summary: 'Delete a gateway',
    description: 'Refused (400) while connections use it. Its agents are told their credential is gone.',
    tag: 'Gateways',
    params: ID,
    ok: { status: 204, description: 'Deleted.' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
  registrationKey: {
    operationId: 'createRegistrationKey',
    summary: 'Issue a registration key for another member',
    description: 'One-time, valid 24 hours: `gatehouse-agent join` spends it.',
    tag: 'Gateways',
    params: ID,
    ok: { status: 201, description: 'The key (shown once).', schema: 'RegistrationKey' },
    errors: ['Forbidden', 'NotFound'],
  },
  updateMember: {
    operationId: 'updateMember',
    summary: 'Enable or disable a member',
    description: 'A disabled member stays connected but runs no calls.',
    tag: 'Gateways',
    params: MEMBER,
    body: 'MemberPatch',
    ok: { status: 200, description: 'The gateway, with the member changed.', schema: 'Gateway' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound', 'PayloadTooLarge'],
  },
  removeMember: {
    operationId: 'deleteMember',
    summary: 'Remove a member',
    description: 'Its agent is disconnected and its credential revoked.',
    tag: 'Gateways',
    params: MEMBER,
    ok: { status: 204, description: 'Removed.' },
    errors: ['Forbidden', 'NotFound'],
  },
  connections: {
    operationId: 'listGatewayConnections',
    summary: "List every connection on a gateway (its Admins')",
    description: 'Paged, oldest first: follow nextLink as it is. Metadata and owner only: never credentials, and seeing them grants no use.',
    tag: 'Gateways',
    params: ID,
    query: {
      top: { description: 'Items per page (default 100), oldest first.', schema: { type: 'integer', minimum: 1, maximum: 500 } },
      skipToken: { description: "Where the page starts: from the previous page's nextLink.", schema: { type: 'string' } },
    },
    ok: { status: 200, description: 'The connections on the gateway.', schema: 'GatewayConnectionList' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
  roles: {
    operationId: 'listGatewayRoles',
    summary: "List a gateway's roles",
    description: 'Admin: everything on the gateway; ConnectionCreator: sees it, creates connections on it; ConnectionCreatorWithSharing: may also share them.',
    tag: 'Gateways',
    params: ID,
    ok: { status: 200, description: 'The roles.', schema: 'RoleList' },
    errors: ['Forbidden', 'NotFound'],
  },
  setRole: {
    operationId: 'setGatewayRole',
    summary: 'Give a principal a role on a gateway',
    description: 'Replaces the role it held. The last Admin cannot be demoted (400); a gateway holds at most 100 roles.',
    tag: 'Gateways',
    params: PRINCIPAL,
    body: 'RolePut',
    ok: { status: 200, description: 'The role as set.', schema: 'Role' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound', 'PayloadTooLarge'],
  },
  removeRole: {
    operationId: 'deleteGatewayRole',
    summary: "Remove a principal's role on a gateway",
    description: "The last Admin stays (400). The principal's gateway connections stop working (403) until it holds a role again.",
    tag: 'Gateways',
    params: PRINCIPAL,
    ok: { status: 204, description: 'Removed.' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
  // For s16-seal's GET /v1/gateways/{id}/public-key (http/gateway-public-key.ts passes it to its route() once merged).
  publicKey: {
    operationId: 'getGatewayPublicKey',
    summary: "The gateway's current public key, to seal credentials to",
    description:
      "For a client that seals a connection's credentials itself (sealedCredentials), so the hub never holds them. 404 while no agent has registered.",
    tag: 'Gateways',
    params: ID,
    ok: { status: 200, description: 'The key.', schema: 'GatewayPublicKey' },
    errors: ['Forbidden', 'NotFound'],
  },
  audit: {
    operationId: 'listGatewayAudit',
    summary: "A gateway's audit log (its Admins')",
    description: 'Every change to the gateway, its members, keys, routing, and the connections on it; newest first, paged.',
    tag: 'Gateways',
    params: ID,
    query: {
      top: { description: 'Records per page (default 50).', schema: { type: 'integer', minimum: 1, maximum: 200 } },
      skipToken: { description: "Where the page starts: from the previous page's nextLink.", schema: { type: 'string' } },
    },
    ok: { status: 200, description: 'A page of records.', schema: 'AuditPage' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
} satisfies Record<string, OperationDoc>;
