// A connection's shares, for its owner: list, share with a principal, unshare. A share grants use (invoke, the raw
// route, its metadata), never change, delete or credentials. On a gateway, sharing needs the owner's
// ConnectionCreatorWithSharing or Admin role there: without it the form is not offered, and the page says why.
import { useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { GatewayRole, PrincipalType, ShareEntry } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { PrincipalFields } from '../components/principal-fields.js';
import { useChanges, useList } from './use-list.js';
import { ColumnHeads } from '../components/column-heads.js';

/** Whether the owner may share a connection: one without a gateway always; on a gateway, by their role there. */
export function maySharePer(gatewayId: string | undefined, role: GatewayRole | undefined): boolean {
  return !gatewayId || role === 'Admin' || role === 'ConnectionCreatorWithSharing';
}

export function SharesEditor({
  api,
  connectionId,
  connectionName,
  gatewayName,
  mayShare,
  gatewayRole,
  onChanged,
}: {
  api: Api;
  connectionId: string;
  connectionName: string;
  gatewayName?: string;
  mayShare: boolean;
  gatewayRole?: GatewayRole;
  onChanged(): void;
}) {
  const base = `/v1/connections/${connectionId}/shares`;
  const list = useList(() => api.call<{ value: ShareEntry[] }>('GET', base), base);
  const { error, busy, change } = useChanges(api, base, list, onChanged);
  const [principalId, setPrincipalId] = useState('');
  const [principalType, setPrincipalType] = useState<PrincipalType>('User');
  const share = async (e: Event) => {
    e.preventDefault();
    if (await change('PUT', principalId, { principalType })) setPrincipalId('');
  };
  const prefix = `shares-${connectionId}`;
  return (
    <div class="shares">
      <ErrorMessage error={list.error} />
      {list.rows?.length === 0 && <p class="note">Not shared with anyone.</p>}
      {list.rows && list.rows.length > 0 && (
        <table>
          <caption>Shared with</caption>
          <ColumnHeads names={['Principal', 'Type', 'Actions']} />
          <tbody>
            {list.rows.map((s) => (
              <tr key={s.principalId} data-principal={s.principalId}>
                <th scope="row" class="mono">
                  {s.principalId}
                </th>
                <td>{s.principalType}</td>
                <td>
                  <button type="button" disabled={busy} onClick={() => void change('DELETE', s.principalId)} aria-label={`Unshare with ${s.principalId}`}>
                    Unshare
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorMessage error={error} />
      {mayShare ? (
        <form class="row" onSubmit={share} aria-label={`Share ${connectionName}`}>
          <PrincipalFields idPrefix={prefix} principalId={principalId} principalType={principalType} onId={setPrincipalId} onType={setPrincipalType} />
          <button type="submit" disabled={busy}>
            Share
          </button>
        </form>
      ) : (
        <p class="note">
          Sharing a connection on the gateway {gatewayName ?? ''} needs the Connection creator with sharing or Admin role there; you hold{' '}
          {gatewayRole ?? 'none'}.
        </p>
      )}
      <p class="note">Whoever it is shared with may call it and read its settings, never change or delete it or see its credentials.</p>
    </div>
  );
}
