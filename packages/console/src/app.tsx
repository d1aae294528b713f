// The signed-in console: header, navigation and the page the location's hash names.
import { useMemo } from 'preact/hooks';
import { createApi } from './api/client.js';
import type { Session } from './auth/session.js';
import { ConnectionsPage } from './connections/connections-page.js';
import { GatewaysPage } from './gateways/gateways-page.js';
import { TryCallPage } from './try/try-call-page.js';
import { useRoute, type Page } from './use-route.js';

const PAGES: Array<{ page: Page; label: string }> = [
  { page: 'gateways', label: 'Gateways' },
  { page: 'connections', label: 'Connections' },
  { page: 'try', label: 'Try a call' },
];

export function App({ session }: { session: Session }) {
  const api = useMemo(() => createApi(session), [session]);
  const page = useRoute();
  return (
    <>
      <header class="top">
        <h1>Gatehouse</h1>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a key={p.page} href={`#/${p.page}`} aria-current={p.page === page ? 'page' : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <p class="who">
          Signed in as <strong>{session.who}</strong>{' '}
          {session.signOut && (
            <button type="button" onClick={() => void session.signOut?.()}>
              Sign out
            </button>
          )}
        </p>
      </header>
      <main>
        {page === 'gateways' && <GatewaysPage api={api} />}
        {page === 'connections' && <ConnectionsPage api={api} />}
        {page === 'try' && <TryCallPage api={api} />}
      </main>
    </>
  );
}
