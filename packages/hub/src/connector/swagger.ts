// apiDefinition.swagger.json of the Power Platform custom connector (OpenAPI 2.0, which Power Platform imports):
// the connector's two actions, Invoke an HTTP request and List connections, the first picking its connection from
// a dynamic list the second fills. The hub's own description of these routes is GET /openapi.json (OpenAPI 3.1).
import { authorizationUrl, delegatedScope, tokenUrl, type SignIn } from '../openapi/sign-in.js';

type Json = Record<string, unknown>;

/** The name of the security definition, in the document and in Power Platform's editor. */
export const SECURITY = 'oauth2-auth';

const str = (summary: string, description: string, more: Json = {}): Json => ({ type: 'string', 'x-ms-summary': summary, description, ...more });
const headerMap = (summary: string, description: string): Json => ({
  type: 'object',
  'x-ms-summary': summary,
  description,
  additionalProperties: { type: 'string' },
});

const ERROR: Json = {
  type: 'object',
  description: "The hub's error (docs/errors.md).",
  properties: {
    error: {
      type: 'object',
      properties: {
        code: str('Code', 'Stable error code, such as NotFound or GatewayOffline.'),
        message: str('Message', 'Which link failed, and why.'),
        requestId: str('Request id', 'Finds the call in the logs.'),
      },
    },
  },
};

const DEFINITIONS: Json = {
  InvokeRequest: {
    type: 'object',
    required: ['method', 'url'],
    properties: {
      method: str('Method', 'The HTTP method.', { enum: ['GET', 'DELETE', 'PATCH', 'POST', 'PUT'], default: 'GET' }),
      url: str('Url', "Absolute, or relative to the connection's base resource URL, under which it must lie.", { 'x-ms-visibility': 'important' }),
      headers: headerMap('Headers', 'Request headers.'),
      body: str('Body', 'The request body.', { format: 'byte' }),
    },
  },
  InvokeResponse: {
    type: 'object',
    properties: {
      statusCode: { type: 'integer', format: 'int32', 'x-ms-summary': 'Status code', description: "The service's status code." },
      headers: headerMap('Headers', "The service's response headers."),
      body: str('Body', "The service's response body.", { format: 'byte' }),
    },
  },
  Connection: {
    type: 'object',
    properties: {
      id: str('Connection id', 'The connection.'),
      displayName: str('Name', "The connection's display name."),
      authType: str('Authentication type', 'EntraAuth, AnonymousGateway, BasicGateway or WindowsGateway.'),
      baseResourceUrl: str('Base resource URL', 'Every call of the connection goes under this URL.'),
      gatewayId: str('Gateway id', 'Gateway connections: the gateway that runs the calls.'),
    },
  },
  ConnectionList: {
    type: 'object',
    properties: {
      value: { type: 'array', 'x-ms-summary': 'Connections', description: "The caller's connections.", items: { $ref: '#/definitions/Connection' } },
    },
  },
  Error: ERROR,
};

const errorResponse: Json = { description: "The hub's error.", schema: { $ref: '#/definitions/Error' } };

/** `hub`: the hub's public https URL (its path, if any, is the API's base path). */
export function connectorSwagger(hub: URL, signIn: SignIn, version: string): Json {
  const basePath = hub.pathname.replace(/\/+$/, '') || '/';
  return {
    swagger: '2.0',
    info: {
      title: 'Gatehouse',
      description:
        'Invoke HTTP requests on services protected by Microsoft Entra ID and on intranet services behind a Gatehouse gateway, through a self-hosted Gatehouse hub.',
      version,
    },
    host: hub.host,
    basePath,
    schemes: ['https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    paths: {
      '/v1/connections/{connectionId}/invoke': {
        post: {
          operationId: 'InvokeHttp',
          summary: 'Invoke an HTTP request',
          description: "Calls the service through one of your Gatehouse connections and returns the service's status, headers and body.",
          'x-ms-visibility': 'important',
          parameters: [
            {
              name: 'connectionId',
              in: 'path',
              required: true,
              type: 'string',
              'x-ms-summary': 'Connection',
              description: 'The Gatehouse connection to call through.',
              'x-ms-url-encoding': 'single',
              'x-ms-dynamic-values': { operationId: 'ListConnections', 'value-collection': 'value', 'value-path': 'id', 'value-title': 'displayName' },
            },
            {
              name: 'request',
              in: 'body',
              required: true,
              'x-ms-summary': 'Request',
              description: 'The HTTP request.',
              schema: { $ref: '#/definitions/InvokeRequest' },
            },
          ],
          responses: { '200': { description: "The service's answer.", schema: { $ref: '#/definitions/InvokeResponse' } }, default: errorResponse },
        },
      },
      '/v1/connections': {
        get: {
          operationId: 'ListConnections',
          summary: 'List connections',
          description: 'Lists the Gatehouse connections you own or that are shared with you.',
          'x-ms-visibility': 'advanced',
          parameters: [],
          responses: { '200': { description: 'The connections.', schema: { $ref: '#/definitions/ConnectionList' } }, default: errorResponse },
        },
      },
    },
    definitions: DEFINITIONS,
    parameters: {},
    responses: {},
    securityDefinitions: {
      [SECURITY]: {
        type: 'oauth2',
        flow: 'accessCode',
        authorizationUrl: authorizationUrl(signIn),
        tokenUrl: tokenUrl(signIn),
        scopes: { [delegatedScope(signIn)]: 'Call the Gatehouse hub as the signed-in user' },
      },
    },
    security: [{ [SECURITY]: [delegatedScope(signIn)] }],
    tags: [],
  };
}
