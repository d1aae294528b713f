// What a route says about itself for GET /openapi.json (openapi/document.ts builds the document from these). A
// leaf module: the route files import it, and the document builder reads it, without importing each other.
import type { ErrorCode } from '@gatehouse/shared';
import type { SchemaName } from '../openapi/schemas.js';

/** A caller-facing route's description, written beside the route (the last argument of `route()`). */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'Connections' | 'Relay' | 'Gateways' | 'API description';
  /** No bearer token needed (default: the caller's Entra ID token, SPEC section 2). */
  public?: true;
  /** Path parameters, by their name in the template: what each names. */
  params?: Record<string, string>;
  /** Query parameters, by name: what each means and its JSON Schema. */
  query?: Record<string, { description: string; schema: Record<string, unknown> }>;
  /** The request body: a schema of openapi/schemas.ts (its examples come with it). */
  body?: SchemaName;
  /** The success answer: a schema of openapi/schemas.ts, or none (an empty body, e.g. 204). */
  ok: { status: number; description: string; schema?: SchemaName };
  /** Hub error codes the route answers besides Unauthorized (docs/errors.md); grouped by status in the document. */
  errors: readonly ErrorCode[];
  /** The call is throttled (SPEC section 5): RateLimit-* headers on its answers, 429 with Retry-After. */
  throttled?: true;
  /** A route of method '*': the methods the document lists for it. */
  methods?: readonly string[];
}

/** A route that is not the callers' API (the agents' routes, the hubs' relay): left out of the document, on purpose. */
export interface InternalRoute {
  internal: string;
}

export type RouteDoc = OperationDoc | InternalRoute;

export function internal(why: string): InternalRoute {
  return { internal: why };
}

export function isInternal(doc: RouteDoc | undefined): doc is InternalRoute {
  return doc !== undefined && 'internal' in doc;
}
