// A list from a route that may not exist on this hub (roles, shares, audit: another issue builds them). Shown only
// when the hub answers it; a hub without the route shows nothing, not a broken page.
import { useEffect, useState } from 'preact/hooks';
import type { Api } from '../api/client.js';

export function OptionalTable({ api, path, title, columns }: { api: Api; path: string; title: string; columns: string[] }) {
  const [rows, setRows] = useState<Array<Record<string, unknown>> | undefined>(undefined);
  useEffect(() => {
    let live = true;
    api
      .call<{ value?: Array<Record<string, unknown>> }>('GET', path)
      .then((r) => live && Array.isArray(r.value) && setRows(r.value))
      .catch(() => live && setRows(undefined));
    return () => {
      live = false;
    };
  }, [api, path]);
  if (!rows) return null;
  return (
    <section>
      <h4>{title}</h4>
      {rows.length === 0 ? (
        <p class="note">None.</p>
      ) : (
        <table>
          <thead>
            <tr>
              {columns.map((c) => (
                <th scope="col" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {columns.map((c) => (
                  <td key={c}>{typeof r[c] === 'object' ? JSON.stringify(r[c]) : String(r[c] ?? '—')}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
