// The paged lists (GET /v1/gateways, GET /v1/connections; docs/operations.md "The lists are paged"): the console
// reads every page, following the hub's nextLink as it is, up to MAX_LIST_PAGES pages. A list longer than that is
// shown as far as it was read, and the page says so (ListCut).
import type { Api } from './client.js';

/** Pages of one list the console reads at most: at the hub's default of 100 items a page, 2,000 items. */
export const MAX_LIST_PAGES = 20;

export interface AllPages<T> {
  value: T[];
  /** The list goes on past MAX_LIST_PAGES pages: `value` is its beginning only. */
  more: boolean;
}

export async function readAllPages<T>(api: Api, path: string): Promise<AllPages<T>> {
  const value: T[] = [];
  let next: string | undefined = path;
  for (let pages = 0; next !== undefined && pages < MAX_LIST_PAGES; pages++) {
    const page: { value: T[]; nextLink?: string } = await api.call('GET', next);
    value.push(...page.value);
    next = page.nextLink === undefined ? undefined : sameList(path, page.nextLink);
  }
  return { value, more: next !== undefined };
}

/** A nextLink is followed only when it names the same list on this hub: the caller's token goes with it. */
function sameList(path: string, link: string): string {
  const list = path.split('?')[0]!;
  if (!link.startsWith(`${list}?`)) throw new Error(`the hub's next page of ${list} is at another address; the console does not follow it`);
  return link;
}
