// A gateway's roles, for its Admins: list, give a principal a role, change it, remove it. The hub keeps the last
// Admin (it refuses with a coded message, shown as it is); every change is on the gateway's audit list.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { GatewayRole, PrincipalType, RoleEntry } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { PrincipalFields } from '../components/principal-fields.js';
import { useChanges, useList } from './use-list.js';
import { ColumnHeads } from '../components/column-heads.js';

export const ROLES: Array<{ value: GatewayRole; label: string }> = [
  { value: 'Admin', label: 'Admin' },
  { value: 'ConnectionCreatorWithSharing', label: 'Connection creator with sharing' },
  { value: 'ConnectionCreator', label: 'Connection creator' },
];

export function RolesEditor({ api, gatewayId, gatewayName, onChanged }: { api: Api; gatewayId: string; gatewayName: string; onChanged(): void }) {
  const base = `/v1/gateways/${gatewayId}/roles`;
  const list = useList(() => api.call<{ value: RoleEntry[] }>('GET', base), base);
  const { error, busy, change } = useChanges(api, base, list, onChanged);
  const [principalId, setPrincipalId] = useState('');
  const [principalType, setPrincipalType] = useState<PrincipalType>('User');
  const [role, setRole] = useState<GatewayRole>('ConnectionCreator');
  const add = async (e: Event) => {
    e.preventDefault();
    if (await change('PUT', principalId, { principalType, role })) setPrincipalId('');
  };
  const prefix = `roles-${gatewayId}`;
  return (
    <div class="roles">
      <ErrorMessage error={list.error} />
      {list.rows && (
        <table>
          <caption>Roles on {gatewayName}</caption>
          <ColumnHeads names={['Principal', 'Type', 'Role', 'Actions']} />
          <tbody>
            {list.rows.map((r) => (
              <tr key={r.principalId} data-principal={r.principalId}>
                <th scope="row" class="mono">
                  {r.principalId}
                </th>
                <td>{r.principalType}</td>
                <td>
                  <select
                    aria-label={`Role of ${r.principalId}`}
                    value={r.role}
                    disabled={busy}
                    onChange={(e) => void change('PUT', r.principalId, { principalType: r.principalType, role: e.currentTarget.value as GatewayRole })}
                  >
                    {ROLES.map((o) => (
                      <option key={o.value} value={o.value}>
                        {o.label}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <button type="button" disabled={busy} onClick={() => void change('DELETE', r.principalId)} aria-label={`Remove the role of ${r.principalId}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorMessage error={error} />
      <form class="row" onSubmit={add} aria-label={`Give a role on ${gatewayName}`}>
        <PrincipalFields idPrefix={prefix} principalId={principalId} principalType={principalType} onId={setPrincipalId} onType={setPrincipalType} />
        <div class="field">
          <label for={`${prefix}-role`}>Role</label>
          <select id={`${prefix}-role`} value={role} onChange={(e) => setRole(e.currentTarget.value as GatewayRole)}>
            {ROLES.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy}>
          Give the role
        </button>
      </form>
      <p class="note">
        Admin: everything on the gateway. Connection creator: sees it and its members, creates connections on it. With sharing: may also share them. A group's
        role holds for its members. The gateway always keeps one Admin.
      </p>
    </div>
  );
}
