// A gateway's members as the hub sees them; for the gateway's Admins (`manage`) each with enable/disable and remove.
import type { Api } from '../api/client.js';
import type { Member } from '../api/types.js';
import { ColumnHeads } from '../components/column-heads.js';

function since(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

function orDash(v: unknown, unit = ''): string {
  return v === undefined || v === null || v === '' ? '—' : `${String(v)}${unit}`;
}

export function MembersTable({
  api,
  gatewayId,
  members,
  manage,
  onChange,
}: {
  api: Api;
  gatewayId: string;
  members: Member[];
  manage: boolean;
  onChange(err?: unknown): void;
}) {
  if (members.length === 0) return <p class="note">{manage ? 'No members: add one below.' : 'No members.'}</p>;
  const columns = ['Name', 'Status', 'Connected since', 'Agent version', 'Round trip', 'Calls in flight', 'Last error', 'Hubs'];
  const act = (method: string, m: Member, body?: unknown) => () => {
    api.call(method, `/v1/gateways/${gatewayId}/members/${m.id}`, body).then(
      () => onChange(),
      (err: unknown) => onChange(err),
    );
  };
  return (
    <table class="members">
      <caption>Members</caption>
      <ColumnHeads names={manage ? [...columns, 'Actions'] : columns} />
      <tbody>
        {members.map((m) => (
          <tr key={m.id} data-member={m.name}>
            <th scope="row">
              {m.name}
              {m.hostname && m.hostname !== m.name ? <span class="note"> ({m.hostname})</span> : null}
            </th>
            <td>
              <span class={`status ${m.status}`}>{m.status}</span>
              {m.enabled === false ? <span class="note"> (disabled)</span> : null}
            </td>
            <td>{m.status === 'online' ? since(m.connectedAt) : `last seen ${since(m.lastSeenAt)}`}</td>
            <td>{orDash(m.version)}</td>
            <td>{orDash(m.roundTripMs, ' ms')}</td>
            <td>{orDash(m.inFlight)}</td>
            <td class="last-error">
              {m.lastError ? (
                <>
                  <strong>{m.lastError.code}</strong> <span class="note">at {since(m.lastError.at)}</span>
                  <br />
                  {m.lastError.message}
                </>
              ) : (
                '—'
              )}
            </td>
            <td>{orDash(m.hubs)}</td>
            {manage && (
              <td>
                <button
                  type="button"
                  onClick={act('PATCH', m, { enabled: m.enabled === false })}
                  aria-label={`${m.enabled === false ? 'Enable' : 'Disable'} ${m.name}`}
                >
                  {m.enabled === false ? 'Enable' : 'Disable'}
                </button>{' '}
                <button type="button" onClick={act('DELETE', m)} aria-label={`Remove ${m.name}`}>
                  Remove
                </button>
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
