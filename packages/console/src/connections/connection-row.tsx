// One connection in the list: "test" (a GET of its base URL through it, showing the coded error and the link that
// failed) and delete.
import { useState } from 'preact/hooks';
import { describe, type Api } from '../api/client.js';
import type { Connection, Envelope } from '../api/types.js';

export function ConnectionRow({ api, c, gatewayName, onChange }: { api: Api; c: Connection; gatewayName?: string; onChange(): void }) {
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
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
      api.call('DELETE', `/v1/connections/${c.id}`).then(onChange, (err: unknown) => setResult({ ok: false, text: describe(err).message }));
  };
  return (
    <tr data-connection={c.displayName}>
      <th scope="row">{c.displayName}</th>
      <td>{c.authType}</td>
      <td>{c.baseResourceUrl}</td>
      <td>{c.gatewayId ? (gatewayName ?? c.gatewayId) : '—'}</td>
      <td>{c.access ?? 'Owner'}</td>
      <td>
        <button type="button" onClick={test} aria-label={`Test ${c.displayName}`}>
          Test
        </button>{' '}
        {c.access !== 'User' && (
          <button type="button" onClick={remove} aria-label={`Delete ${c.displayName}`}>
            Delete
          </button>
        )}
        <output class={result?.ok === false ? 'error' : 'note'} aria-live="polite">
          {result?.text ?? ''}
        </output>
      </td>
    </tr>
  );
}
