// Recording a change a caller made through the API: the actor is the request's caller (audit/audit.ts).
import type { HubDeps } from '../deps.js';
import { callerActor, type AuditEntry } from '../audit/audit.js';
import type { Ctx } from './router.js';

export async function recordByCaller(deps: HubDeps, ctx: Ctx, entry: Omit<AuditEntry, 'actor'>): Promise<void> {
  await deps.audit.record({ ...entry, actor: callerActor(await deps.caller(ctx)) }, ctx.log);
}
