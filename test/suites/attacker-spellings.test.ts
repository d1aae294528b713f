// Attacker spellings of values the cluster passes around (issue 23 review): the `Retry-After` of a refused agent
// upgrade (read by the agent, tunnel/backoff.ts). Generated strings (fast-check) and a corpus of the spellings
// that break parsers: whatever comes, a bounded wait.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_BACKOFF_MS, MIN_RETRY_AFTER_MS, reconnectDelay, retryAfterMs } from '../../packages/agent/dist/tunnel/backoff.js';

const RETRY_AFTER_CORPUS = [
  '0',
  '000000',
  '00000000',
  '-1',
  '-0',
  '+5',
  '1.5',
  '0.0001',
  '1e3',
  '1E9',
  '0x10',
  '999999',
  '9999999',
  `${'9'.repeat(400)}`,
  'Infinity',
  'NaN',
  '',
  ' ',
  ' 7 ',
  '\t7\r\n',
  '7, 8',
  '7;8',
  '7 8',
  '٣',
  '７',
  '\u00a07',
  '\ufeff7',
  'Wed, 21 Oct 2026 07:28:00 GMT',
  'Thu, 01 Jan 1970 00:00:00 GMT',
  'Sun, 06 Nov 1994 08:49:37 GMT, 3',
  'tomorrow',
  '\u0000',
  'x'.repeat(100_000),
];

describe("the agent's Retry-After", () => {
  it('a Retry-After of 0 made the agent dial again at once, every time it was refused: it now waits at least 1 s', () => {
    for (const spelled of ['0', '000000', ' 0 ']) {
      expect(retryAfterMs(spelled)).toBe(0);
      for (let attempt = 0; attempt < 8; attempt++) expect(reconnectDelay(attempt, retryAfterMs(spelled), () => 0)).toBe(MIN_RETRY_AFTER_MS);
    }
    // what the hub sends (1 to 30 s) is waited as before
    expect(reconnectDelay(5, retryAfterMs('4'), () => 0)).toBe(4000);
  });

  it('any header spelling (generated and corpus): not honoured, or whole seconds up to 30 s; the wait is a whole number of ms from 1 s to 30 s when honoured', () => {
    const header = fc.oneof(
      fc.constantFrom(...RETRY_AFTER_CORPUS),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.stringMatching(/^[\s+-]{0,2}\d{0,12}(\.\d{0,3})?[\s,]{0,2}$/),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(header, fc.nat({ max: 50 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (h, attempt, r) => {
        const ms = retryAfterMs(h);
        if (ms !== undefined) {
          expect(Number.isSafeInteger(ms) && ms % 1000 === 0 && ms >= 0 && ms <= MAX_BACKOFF_MS).toBe(true);
          // only a plain number of seconds is honoured
          const first = Array.isArray(h) ? h[0] : h;
          expect(first).toMatch(/^\s*\d+\s*$/);
        }
        const wait = reconnectDelay(attempt, ms, () => r);
        expect(Number.isSafeInteger(wait)).toBe(true);
        expect(wait).toBeGreaterThanOrEqual(ms === undefined ? 0 : Math.min(MAX_BACKOFF_MS, Math.max(MIN_RETRY_AFTER_MS, ms)));
        expect(wait).toBeLessThanOrEqual(MAX_BACKOFF_MS * 1.2);
        if (ms !== undefined) expect(wait).toBeLessThanOrEqual(MAX_BACKOFF_MS);
      }),
      { numRuns: 3000 },
    );
  });

  it("any number given as the hub's ask (negative, fractional, huge, NaN, infinite): a whole number of ms within the bounds", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, 0.4)),
        (asked) => {
          const wait = reconnectDelay(3, asked, () => 0.5);
          expect(Number.isSafeInteger(wait)).toBe(true);
          if (Number.isFinite(asked)) expect([wait >= MIN_RETRY_AFTER_MS, wait <= MAX_BACKOFF_MS]).toEqual([true, true]);
          else expect(wait).toBe(reconnectDelay(3, undefined, () => 0.5));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
