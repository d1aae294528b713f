// A principal as a route names it: its object id in the path, its type in the body (roles and shares alike).
import type { PrincipalType } from '../store/store.js';
import { invalid, type JsonObject } from './respond.js';

const TYPES: readonly PrincipalType[] = ['User', 'Group', 'ServicePrincipal'];
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The path's principal id: an Entra ID object id (a GUID), lower case. */
export function principalIdOf(raw: string): string {
  const id = raw.toLowerCase();
  if (!OBJECT_ID.test(id)) throw invalid('the principal id must be an Entra ID object id (a GUID)');
  return id;
}

export function principalTypeOf(body: JsonObject): PrincipalType {
  const t = body.principalType;
  if (typeof t !== 'string' || !(TYPES as readonly string[]).includes(t)) throw invalid(`principalType must be one of ${TYPES.join(', ')}`);
  return t as PrincipalType;
}
