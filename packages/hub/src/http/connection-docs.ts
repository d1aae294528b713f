// How GET /openapi.json describes the connections routes (http/connections.ts passes each to its route()).
import type { OperationDoc } from './route-doc.js';

const ID = { id: 'The connection.' };
const PRINCIPAL = { id: 'The connection.', principalId: "The principal's Entra ID object id (a user, a group or a service principal of the caller's tenant)." };

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
    summary: "List the caller's connections and those shared with the caller",
    tag: 'Connections',
    query: {
      top: { description: 'Items per page (default 100), oldest first.', schema: { type: 'integer', minimum: 1, maximum: 500 } },
      skipToken: { description: "Where the page starts: from the previous page's nextLink.", schema: { type: 'string' } },
    },
    ok: { status: 200, description: 'The connections.', schema: 'ConnectionList' },
    errors: ['InvalidRequest'],
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
    errors: ['InvalidRequest', 'UrlNotAllowed', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'UriTooLong'],
  },
  remove: {
    operationId: 'deleteConnection',
    summary: 'Delete a connection',
    tag: 'Connections',
    params: ID,
    ok: { status: 204, description: 'Deleted.' },
    errors: ['Forbidden', 'NotFound'],
  },
  shares: {
    operationId: 'listConnectionShares',
    summary: "List whom a connection is shared with (its owner's)",
    tag: 'Connections',
    params: ID,
    ok: { status: 200, description: 'The shares.', schema: 'ShareList' },
    errors: ['Forbidden', 'NotFound'],
  },
  share: {
    operationId: 'shareConnection',
    summary: 'Share a connection with a principal',
    description:
      'A share grants use (invoke, the raw route, its metadata), never change, delete or credentials. On a gateway the owner needs ConnectionCreatorWithSharing or Admin there. At most 100 shares per connection.',
    tag: 'Connections',
    params: PRINCIPAL,
    body: 'SharePut',
    ok: { status: 200, description: 'The share.', schema: 'Share' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound', 'PayloadTooLarge'],
  },
  unshare: {
    operationId: 'unshareConnection',
    summary: 'Stop sharing a connection with a principal',
    tag: 'Connections',
    params: PRINCIPAL,
    ok: { status: 204, description: 'No longer shared.' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
  audit: {
    operationId: 'listConnectionAudit',
    summary: "A connection's audit log (its owner's)",
    description: 'Every change to the connection; newest first, paged.',
    tag: 'Connections',
    params: ID,
    query: {
      top: { description: 'Records per page (default 50).', schema: { type: 'integer', minimum: 1, maximum: 200 } },
      skipToken: { description: "Where the page starts: from the previous page's nextLink.", schema: { type: 'string' } },
    },
    ok: { status: 200, description: 'A page of records.', schema: 'AuditPage' },
    errors: ['InvalidRequest', 'Forbidden', 'NotFound'],
  },
} satisfies Record<string, OperationDoc>;
