// Connections: the caller's own and those shared with them, a form to create one, and their shares where the hub
// has that route.
import type { Api } from '../api/client.js';
import type { Connection, Gateway } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { OptionalTable } from '../components/optional-table.js';
import { usePoll } from '../use-poll.js';
import { ConnectionForm } from './connection-form.js';
import { ConnectionRow } from './connection-row.js';

export function ConnectionsPage({ api }: { api: Api }) {
  const list = usePoll(() => api.call<{ value: Connection[] }>('GET', '/v1/connections'), 10_000);
  const gateways = usePoll(() => api.call<{ value: Gateway[] }>('GET', '/v1/gateways'), 10_000);
  const names = new Map((gateways.data?.value ?? []).map((g) => [g.id, g.name]));
  const own = (list.data?.value ?? []).filter((c) => c.access !== 'User');
  return (
    <section aria-labelledby="connections-title">
      <h2 id="connections-title">Connections</h2>
      <ErrorMessage error={list.error} />
      {list.data?.value.length === 0 ? (
        <p class="note">No connections yet.</p>
      ) : (
        <table class="connections">
          <caption>Your connections and those shared with you</caption>
          <thead>
            <tr>
              {['Name', 'Type', 'Base URL', 'Gateway', 'Access', 'Actions'].map((h) => (
                <th scope="col" key={h}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {list.data?.value.map((c) => (
              <ConnectionRow key={c.id} api={api} c={c} gatewayName={c.gatewayId ? names.get(c.gatewayId) : undefined} onChange={list.reload} />
            ))}
          </tbody>
        </table>
      )}
      {own.slice(0, 20).map((c) => (
        <OptionalTable
          key={c.id}
          api={api}
          path={`/v1/connections/${c.id}/shares`}
          title={`Shares of ${c.displayName}`}
          columns={['principalId', 'principalType']}
        />
      ))}
      <ConnectionForm api={api} gateways={gateways.data?.value ?? []} onCreated={list.reload} />
    </section>
  );
}
