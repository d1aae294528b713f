// One connection in the list: "test" (a GET of its base URL through it, showing the coded error and the link that
// failed), and for its owner delete and "Shares and audit" (a row below: connection-panel.tsx). A principal it is
// shared with (access User) may only use it: neither button is offered.
import { useState } from 'preact/hooks';
import { describe, type Api } from '../api/client.js';
import type { Connection, Envelope, GatewayRole } from '../api/types.js';
import { ConnectionPanel } from './connection-panel.js';

/** The table's columns (connections-page.tsx), so the panel's row spans them all. */
export const CONNECTION_COLUMNS = ['Name', 'Type', 'Base URL', 'Gateway', 'Access', 'Actions'];

export function ConnectionRow({
  api,
  c,
  gatewayName,
  gatewayRole,
  onChange,
}: {
  api: Api;
  c: Connection;
  gatewayName?: string;
  gatewayRole?: GatewayRole;
  onChange(): void;
}) {
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const [open, setOpen] = useState(false);
  const owner = c.access !== 'User';
  const test = async () => {
    setResult({ ok: true, text: 'Testing…' });
    try {
      const r = await api.call<Envelope>('POST', `/v1/connections/${c.id}/invoke`, { method: 'GET', url: '/' });
      setResult({ ok: r.statusCode < 400, text: `The service answered ${r.statusCode}` });
    } catch (err) {
      const { code, message } = describe(err);
      setResult({ ok: false, text: `${code}: ${message}` });
    }
  };
  const remove = () => {
    if (confirm(`Delete the connection ${c.displayName}?`))
      api.call('DELETE', `/v1/connections/${c.id}`).then(onChange, (err: unknown) => {
        const { code, message } = describe(err);
        setResult({ ok: false, text: `${code}: ${message}` });
      });
  };
  const panelId = `connection-panel-${c.id}`;
  return (
    <>
      <tr data-connection={c.displayName}>
        <th scope="row">{c.displayName}</th>
        <td>{c.authType}</td>
        <td>{c.baseResourceUrl}</td>
        <td>{c.gatewayId ? (gatewayName ?? c.gatewayId) : '—'}</td>
        <td>{owner ? 'Owner' : 'User (shared with you)'}</td>
        <td>
          <button type="button" onClick={test} aria-label={`Test ${c.displayName}`}>
            Test
          </button>{' '}
          {owner && (
            <>
              <button type="button" onClick={remove} aria-label={`Delete ${c.displayName}`}>
                Delete
              </button>{' '}
              <button
                type="button"
                aria-expanded={open}
                aria-controls={open ? panelId : undefined}
                onClick={() => setOpen(!open)}
                aria-label={`Shares and audit of ${c.displayName}`}
              >
                Shares and audit
              </button>
            </>
          )}
          <output class={result?.ok === false ? 'error' : 'note'} aria-live="polite">
            {result?.text ?? ''}
          </output>
        </td>
      </tr>
      {owner && open && (
        <tr class="panel" data-connection-panel={c.displayName}>
          <td colSpan={CONNECTION_COLUMNS.length} id={panelId}>
            <ConnectionPanel api={api} c={c} gatewayName={gatewayName} gatewayRole={gatewayRole} />
          </td>
        </tr>
      )}
    </>
  );
}
