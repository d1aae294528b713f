// Try a call: method, URL relative to the connection's base, headers, a body typed or read from a file; sent
// through the invoke route, answered with the service's status, headers and body.
import { useState } from 'preact/hooks';
import { readAllPages } from '../api/all-pages.js';
import type { Api } from '../api/client.js';
import type { Connection, Envelope } from '../api/types.js';
import { ErrorMessage } from '../components/error-message.js';
import { ListCut } from '../components/list-cut.js';
import { usePoll } from '../use-poll.js';
import { MAX_FILE_BYTES, toBase64 } from './body-bytes.js';
import { ResponseView } from './response-view.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const at = line.indexOf(':');
    if (at < 1) throw new Error(`a header line must read "Name: value" (line "${line.slice(0, 40)}")`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

export function TryCallPage({ api }: { api: Api }) {
  const list = usePoll(() => readAllPages<Connection>(api, '/v1/connections'), 30_000);
  const [f, setF] = useState({ connection: '', method: 'GET', url: '', headers: '', body: '' });
  const [file, setFile] = useState<File>();
  // A new key empties the file input when the file is given up.
  const [fileInput, setFileInput] = useState(0);
  const [answer, setAnswer] = useState<{ envelope: Envelope; ms: number }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const connection = f.connection || list.data?.value[0]?.id || '';
  const send = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setAnswer(undefined);
    setBusy(true);
    try {
      if (file && file.size > MAX_FILE_BYTES) throw new Error(`the console sends files up to ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
      const bytes = file ? new Uint8Array(await file.arrayBuffer()) : new TextEncoder().encode(f.body);
      const req: Record<string, unknown> = { method: f.method, url: f.url, headers: parseHeaders(f.headers) };
      if (bytes.length > 0) req.body = toBase64(bytes);
      const t0 = performance.now();
      const envelope = await api.call<Envelope>('POST', `/v1/connections/${connection}/invoke`, req);
      setAnswer({ envelope, ms: performance.now() - t0 });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="try-title">
      <h2 id="try-title">Try a call</h2>
      <ErrorMessage error={list.error} />
      <ListCut list={list.data} what="connections" />
      <form class="stack" onSubmit={send}>
        <div class="field">
          <label for="try-connection">Connection</label>
          <select id="try-connection" required value={connection} onChange={set('connection')}>
            {list.data?.value.map((c) => (
              <option key={c.id} value={c.id}>
                {c.displayName} ({c.baseResourceUrl})
              </option>
            ))}
          </select>
        </div>
        <div class="row">
          <div class="field">
            <label for="try-method">Method</label>
            <select id="try-method" value={f.method} onChange={set('method')}>
              {METHODS.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </div>
          <label class="grow">
            URL (relative to the connection's base URL)
            <input type="text" value={f.url} onInput={set('url')} placeholder="items/42?expand=all" />
          </label>
        </div>
        <label>
          Headers (one "Name: value" a line)
          <textarea rows={3} value={f.headers} onInput={set('headers')} />
        </label>
        <label>
          Body text
          <textarea rows={5} value={f.body} onInput={set('body')} disabled={file !== undefined} />
        </label>
        <label>
          Or a file as the body
          <input key={fileInput} type="file" onChange={(e) => setFile(e.currentTarget.files?.[0])} />
        </label>
        {file && (
          <button
            type="button"
            onClick={() => {
              setFile(undefined);
              setFileInput((n) => n + 1);
            }}
          >
            Use the body text instead of {file.name}
          </button>
        )}
        <button type="submit" disabled={busy || !connection}>
          Send
        </button>
      </form>
      <ErrorMessage error={error} />
      {answer && <ResponseView envelope={answer.envelope} ms={answer.ms} />}
    </section>
  );
}
