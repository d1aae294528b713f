// Said under a list the console read only the beginning of (api/all-pages.ts, MAX_LIST_PAGES).
import { MAX_LIST_PAGES, type AllPages } from '../api/all-pages.js';

export function ListCut({ list, what }: { list: AllPages<unknown> | undefined; what: string }) {
  if (!list?.more) return null;
  return (
    <p class="note list-cut" role="status">
      Showing the first {list.value.length} {what}: the console reads at most {MAX_LIST_PAGES} pages of a list, and there are more.
    </p>
  );
}
