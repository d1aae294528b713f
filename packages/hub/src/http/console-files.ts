// The web console's built files (packages/console, `npm run build` writes them into the hub's dist/console), read
// once when the hub starts into a table keyed by the exact URL path that serves each one. A request is answered
// only when its path is a key of that table: nothing a caller sends is ever joined onto a file path, so no
// dot-segment, escape or backslash can reach another file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ConsoleFile {
  body: Buffer;
  type: string;
  /** Vite's hashed assets (their names change with their content): cached for a year. */
  immutable: boolean;
}

/** The largest console the hub loads (all files together); a bigger folder is refused at start. */
export const MAX_CONSOLE_BYTES = 32 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Where `npm run build` puts the console: dist/console beside this file's dist/http (in the repository and in
 *  an installed package alike). */
export function builtConsoleDir(): string {
  return fileURLToPath(new URL('../console/', import.meta.url));
}

/** The files of `dir` by URL path (`/console/…`), or a one-line reason why there is no console. */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> | string {
  const files = new Map<string, ConsoleFile>();
  let total = 0;
  const walk = (d: string): string | undefined => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        const why = walk(full);
        if (why) return why;
        continue;
      }
      const type = TYPES[extname(entry.name).toLowerCase()];
      if (!entry.isFile() || type === undefined) continue;
      const rel = relative(dir, full).split(sep).join('/');
      // Only plain names make a key: a file whose name needs escaping in a URL is not served.
      if (!/^[A-Za-z0-9._/-]+$/.test(rel)) continue;
      total += statSync(full).size;
      if (total > MAX_CONSOLE_BYTES) return `the console folder holds over ${MAX_CONSOLE_BYTES} bytes`;
      files.set(`/console/${rel}`, { body: readFileSync(full), type, immutable: rel.startsWith('assets/') });
    }
    return undefined;
  };
  try {
    const why = walk(dir);
    if (why) return why;
  } catch {
    return `the console is not built (no folder ${dir}; npm run build makes it)`;
  }
  const index = files.get('/console/index.html');
  if (!index) return `the console is not built (no index.html in ${dir}; npm run build makes it)`;
  files.set('/console/', index);
  return files;
}
