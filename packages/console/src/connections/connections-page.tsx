// Connections: the caller's own and those shared with them (each with the caller's access), a form to create one;
// an owner's row opens its shares and audit list. Both lists are read whole (api/all-pages.ts).
import { readAllPages } from '../api/all-pages.js';
import type { Api } from '../api/client.js';
import type { Connection, Gateway } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { ListCut } from '../components/list-cut.js';
import { usePoll } from '../use-poll.js';
import { ConnectionForm } from './connection-form.js';
import { CONNECTION_COLUMNS, ConnectionRow } from './connection-row.js';
import { ColumnHeads } from '../components/column-heads.js';

export function ConnectionsPage({ api }: { api: Api }) {
  const list = usePoll(() => readAllPages<Connection>(api, '/v1/connections'), 10_000);
  const gateways = usePoll(() => readAllPages<Gateway>(api, '/v1/gateways'), 10_000);
  const byId = new Map((gateways.data?.value ?? []).map((g) => [g.id, g]));
  return (
    <section aria-labelledby="connections-title">
      <h2 id="connections-title">Connections</h2>
      <ErrorMessage error={list.error} />
      <ErrorMessage error={gateways.error} />
      {list.data?.value.length === 0 ? (
        <p class="note">No connections yet.</p>
      ) : (
        <table class="connections">
          <caption>Your connections and those shared with you</caption>
          <ColumnHeads names={CONNECTION_COLUMNS} />
          <tbody>
            {list.data?.value.map((c) => (
              <ConnectionRow
                key={c.id}
                api={api}
                c={c}
                gatewayName={c.gatewayId ? byId.get(c.gatewayId)?.name : undefined}
                gatewayRole={c.gatewayId ? byId.get(c.gatewayId)?.role : undefined}
                onChange={list.reload}
              />
            ))}
          </tbody>
        </table>
      )}
      <ListCut list={list.data} what="connections" />
      <ListCut list={gateways.data} what="gateways (for the connections' gateway names and the form)" />
      <ConnectionForm api={api} gateways={gateways.data?.value ?? []} onCreated={list.reload} />
    </section>
  );
}
