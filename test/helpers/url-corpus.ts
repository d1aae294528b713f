// The URL rule's named corpus (test/fixtures/url-corpus.json) and a backend that records the paths it is sent.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

export interface CorpusCase {
  name: string;
  /** After the base, as an invoke `url` and after `/proxy/` on the raw route. */
  path: string;
  verdict: 'allow' | 'refuse';
  /** refuse: the reason the rule gives (in the UrlNotAllowed message). */
  rule?: string;
  /** allow: the path and query the service receives. */
  reaches?: string;
  /** Why, in a few words. */
  reason: string;
}

export const URL_CORPUS: CorpusCase[] = (JSON.parse(readFileSync(new URL('../fixtures/url-corpus.json', import.meta.url), 'utf8')) as { cases: CorpusCase[] })
  .cases;

/** How a client writes `path` on a request line, which cannot carry spaces, controls or raw UTF-8: every character
 *  outside printable ASCII as UTF-8 escapes (as WHATWG sends them for invoke), the rest byte for byte. */
export function onRequestLine(path: string): string {
  return path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

export interface PathRecorder {
  url: string;
  port: number;
  received: string[];
  close(): Promise<void>;
}

/** A service on 127.0.0.1 that records each request's target as it arrived. Everything outside /api/v1 is the
 *  "secret" (it answers `secret` there, `inside` under it), so a call that escaped would show in `received`. */
export async function startPathRecorder(): Promise<PathRecorder> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    const target = req.url ?? '';
    received.push(target);
    req.resume();
    const inside = target === '/api/v1' || target.startsWith('/api/v1/') || target.startsWith('/api/v1?');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(inside ? 'inside' : 'secret');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
