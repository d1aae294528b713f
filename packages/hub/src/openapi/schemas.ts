// The JSON shapes of the callers' API (SPEC sections 3, 4, 6, 8) as JSON Schema 2020-12, the dialect of OpenAPI
// 3.1, each with an example; routes name them in their descriptions (http/route-doc.ts). test/suites/openapi.test.ts
// validates every example against its schema, and real answers against these schemas.
import { ErrorCodes } from '@gatehouse/shared';

type Schema = Record<string, unknown>;

const CONNECTION_ID = '5d7c1e0a-3f2b-4c8e-9a61-0b2f4d6e8a10';
const GATEWAY_ID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const MEMBER_ID = '7e57ab1e-0000-4000-8000-00000000abcd';
const WHEN = '2026-12-07T09:30:00.000Z';
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, more: Schema = {}): Schema => ({ type: [type, 'null'], ...more });
const AUTH_TYPES = ['EntraAuth', 'AnonymousGateway', 'BasicGateway', 'WindowsGateway'];

const PRINCIPAL_ID = '0000aaaa-1111-4111-8111-000000000002';
const TENANT_ID = 'aaaaaaaa-0000-4000-8000-000000000001';
const principalId = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'An Entra ID object id.' };
const principalType = { type: 'string', enum: ['User', 'Group', 'ServicePrincipal'] };
const ROLES = ['Admin', 'ConnectionCreator', 'ConnectionCreatorWithSharing'];

const connectionBase = {
  id: CONNECTION_ID,
  authType: 'BasicGateway',
  displayName: 'Intranet orders',
  baseResourceUrl: 'http://orders.corp.example/api',
  gatewayId: GATEWAY_ID,
  hasCredentials: true,
  bodyEncoding: 'raw',
  timeoutSeconds: 120,
  createdAt: WHEN,
  updatedAt: WHEN,
};
const connectionExample = { ...connectionBase, access: 'Owner' };

const memberExample = {
  id: MEMBER_ID,
  name: 'agent-01',
  hostname: 'srv-gw-01',
  version: '0.1.0',
  status: 'online',
  enabled: true,
  hubs: 1,
  connectedAt: WHEN,
  lastSeenAt: WHEN,
  inFlight: 2,
  roundTripMs: 4,
  lastError: {
    code: 'BackendUnreachable',
    message: 'agent -> service: the agent reported: could not reach http://orders.corp.example/api/orders (ECONNREFUSED)',
    at: WHEN,
  },
};
const gatewayExample = { id: GATEWAY_ID, name: 'Head office', status: 'online', routing: 'primary', members: [memberExample], createdAt: WHEN, role: 'Admin' };
const gatewayConnectionExample = { ...connectionBase, owner: { tenantId: TENANT_ID, objectId: PRINCIPAL_ID } };
const roleExample = { principalId: PRINCIPAL_ID, principalType: 'User', role: 'ConnectionCreator' };
const shareExample = { principalId: PRINCIPAL_ID, principalType: 'ServicePrincipal' };
const auditExample = {
  time: WHEN,
  actor: { type: 'User', tid: TENANT_ID, oid: PRINCIPAL_ID },
  action: 'connection.update',
  target: { type: 'connection', id: CONNECTION_ID },
  details: { changed: ['displayName', 'password'] },
};

const SCHEMAS_RAW = {
  ErrorBody: {
    type: 'object',
    description: 'Every hub-side failure (SPEC section 8). The code is stable (docs/errors.md); the message says which link failed.',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'requestId'],
        additionalProperties: false,
        properties: {
          code: { type: 'string', enum: Object.keys(ErrorCodes) },
          message: { type: 'string' },
          requestId: { type: 'string', description: 'Also in the x-request-id header; it finds the call in the logs.' },
        },
      },
    },
    examples: [{ error: { code: 'NotFound', message: 'caller -> hub: no such connection', requestId: '3f1d2c4b-8a7e-4f60-b1c2-d3e4f5a6b7c8' } }],
  },
  Connection: {
    type: 'object',
    description: 'A connection as the hub shows it: never its credentials (hasCredentials says whether it holds some).',
    required: ['id', 'authType', 'displayName', 'baseResourceUrl', 'hasCredentials', 'bodyEncoding', 'timeoutSeconds', 'createdAt', 'updatedAt'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      access: { type: 'string', enum: ['Owner', 'User'], description: "Owner: the caller's own; User: shared with the caller (use only)." },
      authType: { type: 'string', enum: AUTH_TYPES },
      displayName: nullable('string'),
      baseResourceUrl: { type: 'string', format: 'uri', description: 'Every call goes to a URL under this one.' },
      resourceUri: { type: 'string', description: 'EntraAuth: the resource the hub gets an On-Behalf-Of token for.' },
      gatewayId: { type: 'string', description: 'Gateway connections: the gateway whose agent runs the calls.' },
      hasCredentials: { type: 'boolean' },
      bodyEncoding: { type: 'string', enum: ['raw', 'base64'] },
      timeoutSeconds: { type: 'number', minimum: 1 },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
    },
    examples: [connectionExample],
  },
  ConnectionList: {
    type: 'object',
    description: 'Oldest first, a page at a time. nextLink, when there are more: the next page, to be followed as it is.',
    required: ['value'],
    properties: { value: { type: 'array', items: ref('Connection') }, nextLink: { type: 'string' } },
    examples: [{ value: [connectionExample] }],
  },
  ConnectionCreate: {
    type: 'object',
    description:
      "authType and the fields it needs (SPEC section 3), or the reference connector's single form (authenticationType Anonymous, Basic or Windows with gatewayId; resourceUri alone for EntraAuth). Credentials are write-only: username and password, or sealedCredentials sealed by the client to the gateway's public key (not both).",
    properties: {
      authType: { type: 'string', enum: AUTH_TYPES },
      authenticationType: { type: 'string', enum: ['Anonymous', 'Basic', 'Windows'] },
      displayName: { type: 'string', maxLength: 256 },
      baseResourceUrl: { type: 'string', format: 'uri' },
      resourceUri: { type: 'string', maxLength: 2048 },
      gatewayId: { type: 'string', maxLength: 64 },
      username: { type: 'string', maxLength: 256 },
      password: { type: 'string', maxLength: 1024, writeOnly: true },
      sealedCredentials: ref('SealedCredentials'),
      bodyEncoding: { type: 'string', enum: ['raw', 'base64'], default: 'raw' },
      timeoutSeconds: { type: 'integer', minimum: 1, description: "Default 120; at most the hub's maximum." },
    },
    required: ['baseResourceUrl'],
    examples: [
      {
        authType: 'BasicGateway',
        displayName: 'Intranet orders',
        baseResourceUrl: 'http://orders.corp.example/api',
        gatewayId: GATEWAY_ID,
        username: 'svc-orders',
        password: 'example-password',
      },
      { authType: 'EntraAuth', baseResourceUrl: 'https://graph.microsoft.com/v1.0', resourceUri: 'https://graph.microsoft.com' },
    ],
  },
  ConnectionPatch: {
    type: 'object',
    description: 'What may change; authType, gatewayId and resourceUri may not (create a new connection).',
    properties: {
      displayName: { type: 'string', maxLength: 256 },
      baseResourceUrl: { type: 'string', format: 'uri' },
      username: { type: 'string', maxLength: 256 },
      password: { type: 'string', maxLength: 1024, writeOnly: true },
      sealedCredentials: ref('SealedCredentials'),
      bodyEncoding: { type: 'string', enum: ['raw', 'base64'] },
      timeoutSeconds: { type: 'integer', minimum: 1 },
    },
    examples: [{ displayName: 'Orders (new host)', timeoutSeconds: 60 }],
  },
  InvokeRequest: {
    type: 'object',
    description: "Invoke an HTTP request (SPEC section 4): a relative url is appended to the connection's baseResourceUrl.",
    required: ['method', 'url'],
    properties: {
      method: { type: 'string', enum: ['GET', 'DELETE', 'PATCH', 'POST', 'PUT'] },
      url: { type: 'string', minLength: 1, description: "Absolute or relative; it must lie under the connection's baseResourceUrl." },
      headers: { type: 'object', maxProperties: 1000, additionalProperties: { type: 'string' } },
      body: { type: 'string', format: 'byte', description: 'The request body, base64.' },
    },
    // The hub refuses any other member (red team B4), and everything but body over 256 KiB.
    additionalProperties: false,
    examples: [{ method: 'POST', url: 'orders', headers: { 'content-type': 'application/json' }, body: 'eyJpdGVtIjoiYm9sdHMiLCJxdHkiOjR9' }],
  },
  InvokeResponse: {
    type: 'object',
    description: "The service's answer whatever its status (a service's 403 or 500 is still a 200 here).",
    required: ['statusCode', 'headers', 'body'],
    properties: {
      statusCode: { type: 'integer', minimum: 100, maximum: 599 },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: { type: 'string', format: 'byte', description: 'The answer body, base64.' },
    },
    examples: [{ statusCode: 201, headers: { 'content-type': 'application/json' }, body: 'eyJpZCI6NDJ9' }],
  },
  Member: {
    type: 'object',
    description: 'An agent of the gateway (a cluster has up to 10).',
    required: ['id', 'name', 'hostname', 'version', 'status', 'enabled', 'hubs', 'connectedAt', 'lastSeenAt'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      hostname: { type: 'string' },
      version: { type: 'string' },
      status: { type: 'string', enum: ['online', 'offline'] },
      enabled: { type: 'boolean' },
      hubs: { type: 'integer', minimum: 0, description: 'How many hubs it is connected to now.' },
      connectedAt: nullable('string', { format: 'date-time' }),
      lastSeenAt: nullable('string', { format: 'date-time' }),
      inFlight: { type: 'integer', minimum: 0, description: 'Its calls in progress on the hub answering; only while it is connected to that hub.' },
      roundTripMs: {
        type: 'integer',
        minimum: 0,
        description: "Its last heartbeat's round trip (ms) on the hub answering; only while it is connected to that hub.",
      },
      lastError: {
        type: 'object',
        description:
          "The member's last error as the hub answering saw it (kept in that hub's memory, also after the member went offline; absent when none): a call the agent failed (its FAILURE code) or cancelled, an answer of the agent the hub refused, or its connection closed for an error (a protocol violation, a heartbeat timeout, not reading, a frame flood, a connection lost; BadGateway, the message naming the close code). Never the caller going away, throttling, or a normal stop.",
        required: ['code', 'message', 'at'],
        properties: {
          code: { type: 'string', enum: Object.keys(ErrorCodes) },
          message: { type: 'string', maxLength: 603, description: "The hub's coded message; the agent's own text in it is quoted, filtered and bounded." },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
    examples: [memberExample],
  },
  Gateway: {
    type: 'object',
    required: ['id', 'name', 'status', 'routing', 'members', 'createdAt'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      status: { type: 'string', enum: ['online', 'offline'], description: 'online while any member is.' },
      routing: { type: 'string', enum: ['primary', 'distribute'] },
      members: { type: 'array', items: ref('Member') },
      createdAt: { type: 'string', format: 'date-time' },
      role: { type: 'string', enum: ROLES, description: "The caller's role on the gateway." },
    },
    examples: [gatewayExample],
  },
  GatewayConnectionList: {
    type: 'object',
    description:
      "Every connection on the gateway (its Admins'): metadata and owner, never credentials. Oldest first, a page at a time. nextLink, when there are more: the next page, to be followed as it is.",
    required: ['value'],
    properties: {
      value: {
        type: 'array',
        items: {
          type: 'object',
          allOf: [ref('Connection')],
          required: ['owner'],
          properties: {
            owner: {
              type: 'object',
              required: ['tenantId', 'objectId'],
              properties: { tenantId: { type: 'string' }, objectId: { type: 'string' } },
            },
          },
        },
      },
      nextLink: { type: 'string' },
    },
    examples: [{ value: [gatewayConnectionExample] }],
  },
  Role: {
    type: 'object',
    required: ['principalId', 'principalType', 'role'],
    properties: { principalId, principalType, role: { type: 'string', enum: ROLES } },
    examples: [roleExample],
  },
  RoleList: { type: 'object', required: ['value'], properties: { value: { type: 'array', items: ref('Role') } }, examples: [{ value: [roleExample] }] },
  RolePut: {
    type: 'object',
    required: ['principalType', 'role'],
    properties: { principalType, role: { type: 'string', enum: ROLES } },
    examples: [{ principalType: 'Group', role: 'ConnectionCreatorWithSharing' }],
  },
  Share: { type: 'object', required: ['principalId', 'principalType'], properties: { principalId, principalType }, examples: [shareExample] },
  ShareList: { type: 'object', required: ['value'], properties: { value: { type: 'array', items: ref('Share') } }, examples: [{ value: [shareExample] }] },
  SharePut: { type: 'object', required: ['principalType'], properties: { principalType }, examples: [{ principalType: 'User' }] },
  AuditRecord: {
    type: 'object',
    description: 'One change: when, who, what, on what; details never hold a secret.',
    required: ['time', 'actor', 'action', 'target', 'details'],
    properties: {
      time: { type: 'string', format: 'date-time' },
      actor: {
        oneOf: [
          {
            type: 'object',
            required: ['type', 'tid', 'oid'],
            properties: { type: { type: 'string', enum: ['User', 'ServicePrincipal'] }, tid: { type: 'string' }, oid: { type: 'string' } },
          },
          {
            type: 'object',
            required: ['type', 'memberId'],
            properties: { type: { const: 'Agent' }, memberId: { type: 'string' } },
          },
        ],
      },
      action: { type: 'string', examples: ['gateway.create', 'connection.update', 'member.register'] },
      target: { type: 'object', required: ['type', 'id'], properties: { type: { type: 'string' }, id: { type: 'string' } } },
      details: {
        type: 'object',
        additionalProperties: {
          anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }, { type: 'array', items: { type: 'string' } }],
        },
      },
    },
    examples: [auditExample],
  },
  AuditPage: {
    type: 'object',
    description: 'Newest first. nextLink, when there are older records: the next page, to be followed as it is.',
    required: ['value'],
    properties: { value: { type: 'array', items: ref('AuditRecord') }, nextLink: { type: 'string' } },
    examples: [{ value: [auditExample], nextLink: `/v1/connections/${CONNECTION_ID}/audit?top=50&skipToken=MTc2NTEwMDIwMDAwMDAwMDAwMTAwMDAwMDAx` }],
  },
  GatewayList: {
    type: 'object',
    description: 'Oldest first, a page at a time. nextLink, when there are more: the next page, to be followed as it is.',
    required: ['value'],
    properties: { value: { type: 'array', items: ref('Gateway') }, nextLink: { type: 'string' } },
    examples: [{ value: [gatewayExample] }],
  },
  GatewayCreate: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 128 } },
    examples: [{ name: 'Head office' }],
  },
  GatewayCreated: {
    type: 'object',
    required: ['id', 'name', 'registrationKey'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      registrationKey: { type: 'string', pattern: '^ghr_', description: 'Shown once; `gatehouse-agent register` spends it (valid 24 hours).' },
    },
    examples: [{ id: GATEWAY_ID, name: 'Head office', registrationKey: 'ghr_3q2-7wEXAMPLEkeyEXAMPLEkeyEXAMPLEkeyEXAMPLEk' }],
  },
  GatewayPatch: {
    type: 'object',
    required: ['routing'],
    properties: { routing: { type: 'string', enum: ['primary', 'distribute'] } },
    examples: [{ routing: 'distribute' }],
  },
  MemberPatch: {
    type: 'object',
    required: ['enabled'],
    properties: { enabled: { type: 'boolean' } },
    examples: [{ enabled: false }],
  },
  RegistrationKey: {
    type: 'object',
    required: ['registrationKey'],
    properties: {
      registrationKey: { type: 'string', pattern: '^ghr_', description: 'One-time; `gatehouse-agent join` spends it (valid 24 hours).' },
    },
    examples: [{ registrationKey: 'ghr_3q2-7wEXAMPLEkeyEXAMPLEkeyEXAMPLEkeyEXAMPLEk' }],
  },
  SealedCredentials: {
    type: 'object',
    description:
      "Credentials the client sealed itself to the gateway's current public key (GET /v1/gateways/{id}/public-key; docs/sealed-credentials.md), so the hub never holds the password.",
    required: ['keyId', 'sealed'],
    properties: {
      keyId: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'The key sealed to (base64url SHA-256 of its SPKI).' },
      sealed: { type: 'string', writeOnly: true },
    },
    examples: [{ keyId: 'HDcpE5s2_Uuvjjp0pv1u9R2fcAst2GjXdOnzehGplTA', sealed: 'AQAB…' }],
  },
  GatewayPublicKey: {
    type: 'object',
    required: ['gatewayId', 'keyId', 'publicKeyPem', 'algorithm'],
    properties: {
      gatewayId: { type: 'string' },
      keyId: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
      publicKeyPem: { type: 'string', description: "The gateway's current key, SPKI PEM (RSA 3072)." },
      algorithm: { type: 'string', const: 'RSA-OAEP-256+A256GCM' },
    },
    examples: [
      {
        gatewayId: GATEWAY_ID,
        keyId: 'HDcpE5s2_Uuvjjp0pv1u9R2fcAst2GjXdOnzehGplTA',
        publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEA…\n-----END PUBLIC KEY-----\n',
        algorithm: 'RSA-OAEP-256+A256GCM',
      },
    ],
  },
  OpenApiDocument: {
    type: 'object',
    description: 'This document.',
    required: ['openapi', 'info', 'paths'],
    properties: { openapi: { type: 'string', const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' } },
    examples: [{ openapi: '3.1.0', info: { title: 'Gatehouse hub API', version: '0.1.0' }, paths: {} }],
  },
} satisfies Record<string, Schema>;

export type SchemaName = keyof typeof SCHEMAS_RAW;
export const SCHEMAS: Readonly<Record<SchemaName, Schema>> = SCHEMAS_RAW;
