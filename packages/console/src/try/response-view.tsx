// The answer of a tried call: status, time taken, headers, and the body shown as JSON, text or hex, with a download.
import { useEffect, useMemo } from 'preact/hooks';
import type { Envelope } from '../api/types.js';
import { fromBase64, show } from './body-bytes.js';

export function ResponseView({ envelope, ms }: { envelope: Envelope; ms: number }) {
  const bytes = useMemo(() => fromBase64(envelope.body ?? ''), [envelope]);
  const type = String(Object.entries(envelope.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '');
  const shown = useMemo(() => show(bytes, type), [bytes, type]);
  const href = useMemo(() => URL.createObjectURL(new Blob([bytes as BlobPart], { type: type || 'application/octet-stream' })), [bytes, type]);
  useEffect(() => () => URL.revokeObjectURL(href), [href]);
  return (
    <section class="response" aria-labelledby="response-title">
      <h3 id="response-title">
        Status <output class="status-code">{envelope.statusCode}</output> in {Math.round(ms)} ms
      </h3>
      <table>
        <caption>Response headers</caption>
        <tbody>
          {Object.entries(envelope.headers).map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td>{Array.isArray(v) ? v.join(', ') : v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h4>
        Body ({bytes.length} bytes, shown as {shown.kind})
      </h4>
      <label>
        Response body
        <textarea class="body" readOnly rows={16} value={shown.text} />
      </label>
      <a href={href} download="response-body">
        Download the body
      </a>
    </section>
  );
}
