// Paging for the gateway and connection lists (red team B7: 3,000 of each in one answer took 0.2 s of the hub's
// event loop per GET): `?top=&skipToken=` and a `nextLink`, with the rules of the audit lists (http/audit-routes.ts).
// A list is ordered by creation time then id; the token is the last item's (createdAt, id), so a page stays right
// when items before it are deleted. The store reads the page itself (Store ListWindow, keyset AFTER_SQL in
// store/rows.ts): `top + 1` rows from the token on, never the whole list (GET /v1/gateways, GET /v1/connections and
// GET /v1/gateways/{id}/connections).
import { invalid } from './respond.js';

/** Items per page: `top` defaults to this… */
export const LIST_PAGE_DEFAULT = 100;
/** …and may be at most this. */
export const LIST_PAGE_MAX = 500;

export interface Listed {
  id: string;
  createdAt: string;
}

const KEY = /^[0-9A-Za-z:.+-]{1,40}\n[0-9A-Za-z-]{1,64}$/;

/** What `?top=&skipToken=` in `url` asks for: the page size and the (createdAt, id) the page starts after. */
export function listWindow(url: string): { top: number; after: Listed | undefined } {
  const q = new URL(url, 'http://hub').searchParams;
  const rawTop = q.get('top');
  let top = LIST_PAGE_DEFAULT;
  if (rawTop !== null) {
    if (!/^\d{1,4}$/.test(rawTop) || Number(rawTop) < 1 || Number(rawTop) > LIST_PAGE_MAX) throw invalid(`top must be an integer from 1 to ${LIST_PAGE_MAX}`);
    top = Number(rawTop);
  }
  const token = q.get('skipToken');
  if (token === null) return { top, after: undefined };
  const key = /^[A-Za-z0-9_-]{1,160}$/.test(token) ? Buffer.from(token, 'base64url').toString('latin1') : '';
  if (!KEY.test(key)) throw invalid('skipToken is not one this hub gave: use the nextLink of the previous page as it is');
  const [createdAt, id] = key.split('\n') as [string, string];
  return { top, after: { createdAt, id } };
}

/** A page from the items after the window's start, in order, of which at most `top + 1` are given (the store read
 *  them so: one more than the page tells whether a next page exists). */
export function pageOf<T extends Listed>(path: string, top: number, following: readonly T[]): { page: T[]; nextLink: string | undefined } {
  const page = following.slice(0, top);
  const last = page.at(-1);
  const more = following.length > top && last !== undefined;
  return { page, nextLink: more ? `${path}?top=${top}&skipToken=${Buffer.from(`${last.createdAt}\n${last.id}`, 'latin1').toString('base64url')}` : undefined };
}

export function byCreation(a: Listed, b: Listed): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
