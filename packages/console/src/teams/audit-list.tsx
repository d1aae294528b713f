// An audit list (a gateway's for its Admins, a connection's for its owner): newest first, AUDIT_PAGE records at a
// time, and "Older records" follows the hub's nextLink. Loaded again when `refresh` changes (a change made here).
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api/client.js';
import type { AuditEntry, AuditPage } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { ColumnHeads } from '../components/column-heads.js';

/** Records per page (the hub allows 1 to 200). */
export const AUDIT_PAGE = 20;

function actorText(a: AuditEntry['actor'], memberNames: ReadonlyMap<string, string>, selfOid: string | undefined): string {
  if (a.type === 'Agent') return `Agent ${memberNames.get(a.memberId) ?? a.memberId}`;
  return `${a.type === 'ServicePrincipal' ? 'Service principal' : 'User'} ${a.oid}${a.oid === selfOid ? ' (you)' : ''}`;
}

function detailsText(d: AuditEntry['details']): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v === null ? '—' : String(v)}`)
    .join('; ');
}

export function AuditList({
  api,
  path,
  caption,
  refresh,
  memberNames = new Map(),
}: {
  api: Api;
  path: string;
  caption: string;
  refresh: number;
  memberNames?: ReadonlyMap<string, string>;
}) {
  const [rows, setRows] = useState<AuditEntry[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    api.call<AuditPage>('GET', `${path}?top=${AUDIT_PAGE}`).then(
      (p) => {
        if (!live) return;
        setRows(p.value);
        setNext(p.nextLink);
      },
      (err: unknown) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [path, refresh, tick]);
  const older = async () => {
    if (!next) return;
    setBusy(true);
    setError(undefined);
    try {
      const p = await api.call<AuditPage>('GET', next);
      setRows([...(rows ?? []), ...p.value]);
      setNext(p.nextLink);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="audit">
      <ErrorMessage error={error} />
      {rows?.length === 0 && <p class="note">No changes recorded.</p>}
      {rows && rows.length > 0 && (
        <table>
          <caption>{caption} (newest first)</caption>
          <ColumnHeads names={['Time', 'Actor', 'Action', 'Target', 'Details']} />
          <tbody>
            {rows.map((r, i) => (
              <tr key={`${r.time}-${i}`} data-action={r.action}>
                <td>
                  <time dateTime={r.time}>{new Date(r.time).toLocaleString()}</time>
                </td>
                <td class="mono">{actorText(r.actor, memberNames, api.selfOid)}</td>
                <th scope="row">{r.action}</th>
                <td class="mono">
                  {r.target.type} {r.target.id}
                </td>
                <td>{detailsText(r.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="row">
        {next && (
          <button type="button" disabled={busy} onClick={older}>
            Older records
          </button>
        )}
        <button type="button" onClick={() => setTick((t) => t + 1)} aria-label={`Refresh: ${caption}`}>
          Refresh
        </button>
      </div>
    </div>
  );
}
