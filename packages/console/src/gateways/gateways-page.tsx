// Gateways: the caller's gateways (every page of the list, api/all-pages.ts) with their members, refreshed every few
// seconds, and a form to create one.
import { useState } from 'preact/hooks';
import { readAllPages } from '../api/all-pages.js';
import type { Api } from '../api/client.js';
import type { Gateway } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { ListCut } from '../components/list-cut.js';
import { usePoll } from '../use-poll.js';
import { GatewayCard } from './gateway-card.js';

/** How often member status is fetched again. */
const REFRESH_MS = 3000;

export function GatewaysPage({ api }: { api: Api }) {
  const list = usePoll(() => readAllPages<Gateway>(api, '/v1/gateways'), REFRESH_MS);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ id: string; registrationKey: string }>();
  const [error, setError] = useState<unknown>();
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      setCreated(await api.call<{ id: string; registrationKey: string }>('POST', '/v1/gateways', { name }));
      setName('');
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="gateways-title">
      <h2 id="gateways-title">Gateways</h2>
      <form class="row" onSubmit={create}>
        <label>
          Gateway name
          <input type="text" required maxLength={128} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">Create gateway</button>
      </form>
      <ErrorMessage error={error} />
      <ErrorMessage error={list.error} />
      {list.data?.value.length === 0 && <p class="note">No gateways yet.</p>}
      {list.data?.value.map((g) => (
        <GatewayCard key={g.id} api={api} gateway={g} freshKey={created?.id === g.id ? created.registrationKey : undefined} onChange={list.reload} />
      ))}
      <ListCut list={list.data} what="gateways" />
    </section>
  );
}
