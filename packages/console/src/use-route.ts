// The page shown, from the location's hash (#/gateways, #/connections, #/try): no server routes needed.
import { useEffect, useState } from 'preact/hooks';

export type Page = 'gateways' | 'connections' | 'try';

function current(): Page {
  const h = location.hash.replace(/^#\/?/, '');
  return h === 'connections' || h === 'try' ? h : 'gateways';
}

export function useRoute(): Page {
  const [page, setPage] = useState<Page>(current);
  useEffect(() => {
    const on = () => setPage(current());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return page;
}
