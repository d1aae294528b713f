// Issue 22, red team second pass (R1, R3): every JSON body the hub reads whole is held to a shape (keys and values,
// nesting) by a byte scan before JSON.parse (packages/hub/src/http/respond.ts, jsonShapeProblem). The scan must
// count what the parse would build, whatever the spelling: whitespace anywhere, escapes and structural characters
// inside strings, any Unicode. Checked here against a count made on the parsed value, over generated documents
// and a corpus of hostile spellings, and through the real hub (a body one over the bound is refused with 400, one
// at it is read).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { API_BODY_SHAPE, jsonShapeProblem } from '../../packages/hub/dist/http/respond.js';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { api, startHub, type HubProc } from '../helpers/stack.js';

// FC_SEED=n replays a run (the seed is printed); FC_RUNS=n runs more.
const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env.FC_RUNS ?? 1000);
process.stdout.write(`json-shape property tests: FC_SEED=${seed} FC_RUNS=${numRuns}\n`);

/** What the scan counts, computed on the parsed value: each object and array, each key (its colon), and each
 *  separator between members (so n members cost about 2n, whatever they hold). */
function shapeOf(v: unknown): { tokens: number; depth: number } {
  if (Array.isArray(v)) {
    const kids = v.map(shapeOf);
    return { tokens: 1 + Math.max(0, v.length - 1) + kids.reduce((n, k) => n + k.tokens, 0), depth: 1 + Math.max(0, ...kids.map((k) => k.depth)) };
  }
  if (typeof v === 'object' && v !== null) {
    const kids = Object.values(v).map(shapeOf);
    const n = kids.length;
    return { tokens: 1 + n + Math.max(0, n - 1) + kids.reduce((s, k) => s + k.tokens, 0), depth: 1 + Math.max(0, ...kids.map((k) => k.depth)) };
  }
  return { tokens: 0, depth: 0 };
}

/** JSON.stringify's text with whitespace (the four JSON allows) put between tokens, never inside strings. */
function spaced(text: string, pads: string[]): string {
  let out = '';
  let inString = false;
  let k = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    out += c;
    if (inString) {
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    if (!inString && '{}[],:'.includes(c)) out += pads[k++ % pads.length] ?? '';
  }
  return (pads[pads.length - 1] ?? '') + out;
}

const pad = fc.array(fc.constantFrom('', ' ', '\t', '\n', '\r\n', '   '), { minLength: 1, maxLength: 8 });
// Strings that look like structure: quotes, backslashes, brackets, colons and commas, escapes, any code point.
const hostileString = fc.oneof(
  fc.string({ unit: fc.constantFrom('"', '\\', '{', '}', '[', ']', ':', ',', 'a', '\u2028', '\u00e9', '\ud83d\ude00') }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constantFrom(null, true, false, 0, -1.5e300), hostileString, tie('arr'), tie('obj')),
  arr: fc.array(tie('v'), { maxLength: 6 }),
  obj: fc.dictionary(hostileString, tie('v'), { maxKeys: 6 }),
})).v;

describe('the JSON shape scan counts what the parse builds', () => {
  it('for any document in any spelling: within a shape exactly when the parsed value is', () => {
    fc.assert(
      fc.property(value, pad, fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 8 }), (v, pads, tokens, depth) => {
        const text = spaced(JSON.stringify(v), pads);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
        const want = shapeOf(v);
        const problem = jsonShapeProblem(Buffer.from(text), { tokens, depth });
        const within = want.tokens <= tokens && want.depth <= depth;
        expect(problem === undefined, `${text} (${JSON.stringify(want)} against ${tokens}/${depth}): ${problem}`).toBe(within);
        if (!within) expect(problem).toMatch(want.tokens > tokens ? /more than \d+ keys and values|nested deeper/ : /nested deeper than/);
      }),
      { seed, numRuns },
    );
  });

  it('any bytes at all: an answer, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const problem = jsonShapeProblem(Buffer.from(bytes), API_BODY_SHAPE);
        expect(problem === undefined || typeof problem === 'string').toBe(true);
      }),
      { seed, numRuns },
    );
  });

  it('a corpus of hostile spellings', () => {
    const within = (text: string, tokens: number, depth: number) => {
      JSON.parse(text.replace(/^\ufeff/, '')); // every entry is valid JSON: the scan is never judged on what parse refuses
      return jsonShapeProblem(Buffer.from(text), { tokens, depth }) === undefined;
    };
    // Structure inside strings is not structure.
    expect(within('{"a":"{[{[{[,:,:,:]}]}]}"}', 2, 1)).toBe(true);
    // An escaped quote does not end the string; an escaped backslash before the quote does.
    expect(within('{"a":"\\",\\",\\",[[["}', 2, 1)).toBe(true);
    expect(within('{"a":"\\\\",  "b":[[1]]}', 6, 3)).toBe(true);
    expect(within('{"a":"\\\\",  "b":[[1]]}', 6, 2)).toBe(false);
    expect(within('{"a":"\\\\",  "b":[[1]]}', 5, 3)).toBe(false);
    // \u escapes of structural characters are text.
    expect(within('{"\\u007b\\u005b":"\\u003a\\u002c"}', 2, 1)).toBe(true);
    // Empty containers count (R1: a million empty arrays).
    expect(within(`[${'[],'.repeat(255)}[]]`, 512, 2)).toBe(true);
    expect(within(`[${'[],'.repeat(256)}[]]`, 512, 2)).toBe(false);
    // Tiny values count (R3: 64 KiB of 0,0,0).
    expect(within(`[${'0,'.repeat(511)}0]`, 512, 1)).toBe(true);
    expect(within(`[${'0,'.repeat(512)}0]`, 512, 1)).toBe(false);
    // Depth: closing brackets hidden in strings do not lower it.
    expect(within('[["]]]]",[[1]]]]', 5, 4)).toBe(true);
    expect(within('[["]]]]",[[1]]]]', 5, 3)).toBe(false);
    // A byte order mark and UTF-8 of every width are text to the scan.
    expect(within('\ufeff{"\u00e9\u4e2d\ud83d\ude00":"\u2028"}', 2, 1)).toBe(true);
  });
});

describe('the bound through the hub', () => {
  let entra: FakeEntra;
  let hub: HubProc;
  let token: string;
  beforeAll(async () => {
    entra = await startFakeEntra();
    hub = await startHub(entra);
    token = await entra.token();
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await entra?.close();
  });

  it(`a management body of ${API_BODY_SHAPE.tokens} keys and values is read, one more is refused with 400 naming the bound, and the hub keeps serving`, async () => {
    const body = (extra: number) => {
      const o: Record<string, unknown> = { name: 'shape' };
      for (let i = 0; i < extra; i++) o[`x${i}`] = 0;
      return o;
    };
    // The largest object within the bound: tokens = 1 + n + (n - 1) = 2n <= 512, so n = 256 members.
    const at = body(255);
    expect(shapeOf(at).tokens).toBe(API_BODY_SHAPE.tokens);
    const over = await api(hub.url, token, 'POST', '/v1/gateways', body(256));
    expect([over.status, over.json.error.code]).toEqual([400, 'InvalidRequest']);
    expect(over.json.error.message).toContain(`more than ${API_BODY_SHAPE.tokens} keys and values`);
    const fine = await api(hub.url, token, 'POST', '/v1/gateways', at);
    expect(fine.status, JSON.stringify(fine.json)).toBe(201);
    const deep = await api(hub.url, token, 'POST', '/v1/gateways', { name: 'deep', x: [[[[[[1]]]]]] });
    expect([deep.status, deep.json.error.message]).toEqual([400, expect.stringContaining(`nested deeper than ${API_BODY_SHAPE.depth}`)]);
    expect((await api(hub.url, token, 'POST', '/v1/gateways', { name: 'after' })).status).toBe(201);
  }, 60_000);
});
