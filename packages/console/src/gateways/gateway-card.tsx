// One gateway: status, routing, members, removal, "add a member", and its roles and audit where the hub has them.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { Gateway } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { OptionalTable } from '../components/optional-table.js';
import { AddMember } from './add-member.js';
import { MembersTable } from './members-table.js';

export function GatewayCard({ api, gateway: g, freshKey, onChange }: { api: Api; gateway: Gateway; freshKey?: string; onChange(): void }) {
  const [error, setError] = useState<unknown>();
  const done = (err?: unknown) => {
    setError(err);
    onChange();
  };
  const setRouting = (routing: string) => api.call('PATCH', `/v1/gateways/${g.id}`, { routing }).then(() => done(), done);
  const remove = () => {
    if (confirm(`Remove the gateway ${g.name}?`)) api.call('DELETE', `/v1/gateways/${g.id}`).then(() => done(), done);
  };
  return (
    <article class="card" aria-labelledby={`gw-${g.id}`} data-gateway={g.name}>
      <header>
        <h3 id={`gw-${g.id}`}>
          {g.name} <span class={`status ${g.status}`}>{g.status}</span>
        </h3>
        <p class="note">id {g.id}</p>
      </header>
      <div class="row">
        <div class="field">
          <label for={`routing-${g.id}`}>Routing</label>
          <select id={`routing-${g.id}`} value={g.routing} onChange={(e) => void setRouting(e.currentTarget.value)}>
            <option value="primary">primary (first online member)</option>
            <option value="distribute">distribute (spread calls)</option>
          </select>
        </div>
        <button type="button" onClick={remove} aria-label={`Remove gateway ${g.name}`}>
          Remove gateway
        </button>
      </div>
      <ErrorMessage error={error} />
      <MembersTable api={api} gatewayId={g.id} members={g.members} onChange={done} />
      <AddMember api={api} gatewayId={g.id} members={g.members.length} freshKey={freshKey} />
      <OptionalTable api={api} path={`/v1/gateways/${g.id}/roles`} title="Roles" columns={['principalId', 'principalType', 'role']} />
      <OptionalTable api={api} path={`/v1/gateways/${g.id}/audit`} title="Audit" columns={['time', 'actor', 'action', 'target']} />
    </article>
  );
}
