// How GET /openapi.json describes the connections routes (http/connections.ts passes each to its route()).
import type { OperationDoc } from './route-doc.js';

const ID = { id: 'The connection.' };

export const CONNECTION_DOCS = {
  create: {
    operationId: 'createConnection',
    summary: 'Create a connection',
    description:
      'Credentials are sealed to the gateway key at once and never shown again. An EntraAuth connection gets a token once to prove consent (403 ConsentRequired with the admin-consent URL otherwise).',
    tag: 'Connections',
    body: 'ConnectionCreate',
    ok: { status: 201, description: 'Created.', schema: 'Connection' },
    errors: ['InvalidRequest', 'UrlNotAllowed', 'Forbidden', 'ConsentRequired', 'PayloadTooLarge', 'UriTooLong'],
  },
  list: {
    operationId: 'listConnections',
    summary: "List the caller's connections",
    tag: 'Connections',
    ok: { status: 200, description: 'The connections.', schema: 'ConnectionList' },
    errors: [],
  },
  get: {
    operationId: 'getConnection',
    summary: 'Get a connection',
    tag: 'Connections',
    params: ID,
    ok: { status: 200, description: 'The connection.', schema: 'Connection' },
    errors: ['NotFound'],
  },
  update: {
    operationId: 'updateConnection',
    summary: 'Change a connection',
    tag: 'Connections',
    params: ID,
    body: 'ConnectionPatch',
    ok: { status: 200, description: 'The connection as changed.', schema: 'Connection' },
    errors: ['InvalidRequest', 'UrlNotAllowed', 'NotFound', 'PayloadTooLarge', 'UriTooLong'],
  },
  remove: {
    operationId: 'deleteConnection',
    summary: 'Delete a connection',
    tag: 'Connections',
    params: ID,
    ok: { status: 204, description: 'Deleted.' },
    errors: ['NotFound'],
  },
} satisfies Record<string, OperationDoc>;
