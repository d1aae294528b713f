// One gateway, as the caller's role on it allows: everyone with a role sees its status, routing and members; its
// Admins also change routing, manage members, add one, remove the gateway, and see its roles and audit list.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { Gateway } from '../api/types.js';
import { Disclosure } from '../components/disclosure.js';
import { ErrorMessage } from '../components/error-message.js';
import { AuditList } from '../teams/audit-list.js';
import { ROLES, RolesEditor } from '../teams/roles-editor.js';
import { AddMember } from './add-member.js';
import { MembersTable } from './members-table.js';

export function GatewayCard({ api, gateway: g, freshKey, onChange }: { api: Api; gateway: Gateway; freshKey?: string; onChange(): void }) {
  const [error, setError] = useState<unknown>();
  // Bumped by each change made on this card: the audit list, when open, loads its first page again.
  const [changes, setChanges] = useState(0);
  const done = (err?: unknown) => {
    setError(err);
    if (!err) setChanges((n) => n + 1);
    onChange();
  };
  // A hub older than roles names none: the caller is then the gateway's creator, its Admin.
  const admin = (g.role ?? 'Admin') === 'Admin';
  const setRouting = (routing: string) => api.call('PATCH', `/v1/gateways/${g.id}`, { routing }).then(() => done(), done);
  const remove = () => {
    if (confirm(`Remove the gateway ${g.name}?`)) api.call('DELETE', `/v1/gateways/${g.id}`).then(() => done(), done);
  };
  const memberNames = new Map(g.members.map((m) => [m.id, m.name]));
  return (
    <article class="card" aria-labelledby={`gw-${g.id}`} data-gateway={g.name}>
      <header>
        <h3 id={`gw-${g.id}`}>
          {g.name} <span class={`status ${g.status}`}>{g.status}</span>
        </h3>
        <p class="note">
          id {g.id} · your role: {ROLES.find((r) => r.value === (g.role ?? 'Admin'))?.label}
        </p>
      </header>
      {admin ? (
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
      ) : (
        <p>Routing: {g.routing}</p>
      )}
      <ErrorMessage error={error} />
      <MembersTable api={api} gatewayId={g.id} members={g.members} manage={admin} onChange={done} />
      {admin && (
        <>
          <AddMember api={api} gatewayId={g.id} members={g.members.length} freshKey={freshKey} onIssued={() => setChanges((n) => n + 1)} />
          <Disclosure summary="Roles">{() => <RolesEditor api={api} gatewayId={g.id} gatewayName={g.name} onChanged={() => done()} />}</Disclosure>
          <Disclosure summary="Audit">
            {() => <AuditList api={api} path={`/v1/gateways/${g.id}/audit`} caption={`Changes to ${g.name}`} refresh={changes} memberNames={memberNames} />}
          </Disclosure>
        </>
      )}
    </article>
  );
}
