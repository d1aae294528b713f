// Audit routes (SPEC section 6): a gateway's audit list for its Admins, a connection's for its owner; newest
// first, paged with `top` and an opaque `skipToken`. Records of a deleted gateway or connection stay in the
// database until retention removes them, but these routes answer 404 for them (the object is gone).
import type { HubDeps } from '../deps.js';
import type { AuditRecord, AuditScope } from '../store/audit-store.js';
import { ownGateway } from './gateways.js';
import { ownConnection } from './connections.js';
import { invalid, sendJson } from './respond.js';
import { route, type Ctx, type Route } from './router.js';
import { CONNECTION_DOCS } from './connection-docs.js';
import { GATEWAY_DOCS } from './gateway-docs.js';

/** Records per page: `top` defaults to this… */
export const AUDIT_PAGE_DEFAULT = 50;
/** …and may be at most this. */
export const AUDIT_PAGE_MAX = 200;

const ID = /^\d{29}$/;

/** `?top=&skipToken=`: the page size and the id the page starts below. */
export function auditPageQuery(url: string): { top: number; before: string | undefined } {
  const q = new URL(url, 'http://hub').searchParams;
  const rawTop = q.get('top');
  let top = AUDIT_PAGE_DEFAULT;
  if (rawTop !== null) {
    if (!/^\d{1,4}$/.test(rawTop) || Number(rawTop) < 1 || Number(rawTop) > AUDIT_PAGE_MAX) throw invalid(`top must be an integer from 1 to ${AUDIT_PAGE_MAX}`);
    top = Number(rawTop);
  }
  const token = q.get('skipToken');
  if (token === null) return { top, before: undefined };
  const before = /^[A-Za-z0-9_-]{1,64}$/.test(token) ? Buffer.from(token, 'base64url').toString('latin1') : '';
  if (!ID.test(before)) throw invalid('skipToken is not one this hub gave: use the nextLink of the previous page as it is');
  return { top, before };
}

/** A record as the API shows it. */
export function auditView(r: AuditRecord) {
  return { time: r.time, actor: r.actor, action: r.action, target: r.target, details: r.details };
}

async function sendPage(deps: HubDeps, ctx: Ctx, path: string, scope: AuditScope): Promise<void> {
  const { top, before } = auditPageQuery(ctx.req.url ?? '');
  // One more than asked: whether there is a next page, without a count.
  const rows = await deps.store.audit.page(scope, before, top + 1);
  const page = rows.slice(0, top);
  const next = rows.length > top ? `${path}?top=${top}&skipToken=${Buffer.from(page.at(-1)!.id, 'latin1').toString('base64url')}` : undefined;
  sendJson(ctx.res, 200, { value: page.map(auditView), ...(next ? { nextLink: next } : {}) });
}

export function auditRoutes(deps: HubDeps): Route[] {
  return [
    route('GET', '/v1/gateways/{id}/audit', GATEWAY_DOCS.audit, async (ctx) => {
      const g = await ownGateway(deps, ctx, ctx.params[0]!);
      await sendPage(deps, ctx, `/v1/gateways/${g.id}/audit`, { gatewayId: g.id });
    }),
    route('GET', '/v1/connections/{id}/audit', CONNECTION_DOCS.audit, async (ctx) => {
      const c = await ownConnection(deps, ctx, ctx.params[0]!);
      await sendPage(deps, ctx, `/v1/connections/${c.id}/audit`, { connectionId: c.id });
    }),
  ];
}
