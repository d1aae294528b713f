// CPU the hub spends reading one invoke object, fed in 64 KiB chunks as a socket gives them: ms per object, best
// of ROUNDS, until the parser is done or refuses it (red team B4). Build with `tsc -p bench`.
//
//   node bench/dist/bench/invoke-parse.js                         this checkout's packages/hub build
//   PARSER=/other/packages/hub/dist/relay/invoke-parser.js SKELETON=1048576 node bench/dist/bench/invoke-parse.js
//                                                                 another build, with its skeleton limit
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** The skeleton limit the parser is given (the hub passes MAX_SKELETON_CHARS: 1 MiB before B4, 256 KiB since). */
const SKELETON = Number(process.env.SKELETON ?? 256 * 1024);
const here = resolve(import.meta.dirname, '../../../packages/hub/dist/relay/invoke-parser.js');
const mod = (await import(pathToFileURL(process.env.PARSER ?? here).href)) as {
  InvokeParser: new (maxSkeleton: number, maxBody: number) => { feed(b: Buffer): unknown[]; end(): unknown[] };
};

function junkObjects(): string {
  const parts: string[] = [];
  for (let len = 40, i = 0; len < 1_000_000; i++) {
    const s = `"k${i}":{}`;
    parts.push(s);
    len += s.length + 1;
  }
  return `{"method":"GET","url":"echo/x","junk":{${parts.join(',')}}}`;
}
const b64 = Buffer.alloc(750_000, 7).toString('base64');
const SHAPES: Array<[string, string]> = [
  ['1 MB of {"k0":{},…} in an unknown member', junkObjects()],
  ['1 MB string in an unknown member', `{"method":"GET","url":"echo/x","junk":"${'a'.repeat(999_000)}"}`],
  ['1 MB url', `{"method":"GET","url":"echo/${'a'.repeat(999_000)}"}`],
  [
    '1,000 headers of 200 characters',
    `{"method":"GET","url":"echo/x","headers":{${Array.from({ length: 1000 }, (_, i) => `"x-h${i}":"${'v'.repeat(200)}"`).join(',')}}}`,
  ],
  ['1 MB base64 body', `{"method":"POST","url":"echo/x","headers":{},"body":"${b64}"}`],
  [
    '1 MB base64 body, \\/ escapes every 4th character',
    `{"method":"POST","url":"echo/x","headers":{},"body":"${b64.replace(/(.{3})/g, '$1\\/').slice(0, 1_000_000)}"}`,
  ],
];

for (const [name, text] of SHAPES) {
  const bytes = Buffer.from(text);
  let best = Number.POSITIVE_INFINITY;
  let outcome = 'parsed';
  for (let r = 0; r < ROUNDS; r++) {
    const p = new mod.InvokeParser(SKELETON, 100 * 1024 * 1024);
    const t0 = performance.now();
    try {
      for (let o = 0; o < bytes.length; o += 65536) p.feed(bytes.subarray(o, o + 65536));
      p.end();
      outcome = 'parsed';
    } catch (err) {
      outcome = `refused: ${(err as Error).message.slice(0, 60)}`;
    }
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${name.padEnd(52)} ${best.toFixed(2).padStart(8)} ms  (${outcome})`);
}
