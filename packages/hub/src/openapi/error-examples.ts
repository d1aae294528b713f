// One example message per hub error code, as the hub writes them (docs/errors.md has what each code means), for the
// examples of GET /openapi.json's error answers.
import type { ErrorCode } from '@gatehouse/shared';

export const ERROR_EXAMPLES: Readonly<Record<ErrorCode, string>> = {
  InvalidRequest: 'caller -> hub: method must be GET, DELETE, PATCH, POST or PUT',
  UrlNotAllowed: "caller -> hub: url is not under the connection's baseResourceUrl (the path leaves the base path)",
  Unauthorized: 'caller -> hub: the access token is missing or invalid',
  Forbidden: 'caller -> hub: this needs the Admin role (or a higher one) on the gateway; you hold ConnectionCreator',
  ConsentRequired: 'hub -> Entra ID: consent is missing for the resource; an administrator can grant it at https://login.microsoftonline.com/…',
  NotFound: 'caller -> hub: no such connection',
  RequestTimeout: 'caller -> hub: the request body came too slowly',
  PayloadTooLarge: 'caller -> hub: the body is over the 104857600-byte limit',
  UriTooLong: 'caller -> hub: url is over 2048 characters',
  TooManyRequests: 'Rate limit is exceeded. Try again in 12 seconds.',
  GatewayOffline: 'hub -> agent: the gateway has no online member',
  BackendUnreachable: 'agent -> service: connection refused',
  BadGateway: 'hub -> agent: the agent disconnected during the call',
  ServiceUnavailable: 'hub: shutting down',
  GatewayTimeout: 'hub -> agent: the call did not complete within 120 s',
  InternalError: 'hub: unexpected fault',
};
