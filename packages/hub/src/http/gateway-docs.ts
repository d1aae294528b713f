// How GET /openapi.json describes the gateways routes (http/gateways.ts passes each to its route()).
import type { OperationDoc } from './route-doc.js';

const ID = { id: 'The gateway.' };
const MEMBER = { id: 'The gateway.', memberId: 'The member (an agent of the gateway).' };

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
    tag: 'Gateways',
    ok: { status: 200, description: 'The gateways, with their members.', schema: 'GatewayList' },
    errors: [],
  },
  get: {
    operationId: 'getGateway',
    summary: 'Get a gateway and its members',
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
    errors: ['InvalidRequest', 'NotFound', 'PayloadTooLarge'],
  },
  remove: {
    operationId: 'deleteGateway',
    summary: 'Delete a gateway',
    description: 'Refused (400) while connections use it. Its agents are told their credential is gone.',
    tag: 'Gateways',
    params: ID,
    ok: { status: 204, description: 'Deleted.' },
    errors: ['InvalidRequest', 'NotFound'],
  },
  registrationKey: {
    operationId: 'createRegistrationKey',
    summary: 'Issue a registration key for another member',
    description: 'One-time, valid 24 hours: `gatehouse-agent join` spends it.',
    tag: 'Gateways',
    params: ID,
    ok: { status: 201, description: 'The key (shown once).', schema: 'RegistrationKey' },
    errors: ['NotFound'],
  },
  updateMember: {
    operationId: 'updateMember',
    summary: 'Enable or disable a member',
    description: 'A disabled member stays connected but runs no calls.',
    tag: 'Gateways',
    params: MEMBER,
    body: 'MemberPatch',
    ok: { status: 200, description: 'The gateway, with the member changed.', schema: 'Gateway' },
    errors: ['InvalidRequest', 'NotFound', 'PayloadTooLarge'],
  },
  removeMember: {
    operationId: 'deleteMember',
    summary: 'Remove a member',
    description: 'Its agent is disconnected and its credential revoked.',
    tag: 'Gateways',
    params: MEMBER,
    ok: { status: 204, description: 'Removed.' },
    errors: ['NotFound'],
  },
} satisfies Record<string, OperationDoc>;
