// Attacker spellings of two values the cluster passes around (issue 23 review): the `Retry-After` of a refused
// agent upgrade (read by the agent, tunnel/backoff.ts) and GATEHOUSE_AGENT_ADVERTISE_URL (checked by the hub at
// startup, cluster/agent-url.ts, then sent to every agent in HUBS). Generated strings (fast-check) and a corpus
// of the spellings that break parsers: whatever comes, a bounded wait, or a URL every agent reads, or a refusal
// that names the setting.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AGENT_RECEIVES, FrameType, HUBS_VERSION, decodeFrame, encodeFrame } from '@gatehouse/shared';
import { MAX_BACKOFF_MS, MIN_RETRY_AFTER_MS, reconnectDelay, retryAfterMs } from '../../packages/agent/dist/tunnel/backoff.js';
import { ConfigError, loadConfig } from '../../packages/hub/dist/config.js';
import { HUB_MAIN, startProc } from '../helpers/stack.js';

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

const ADVERTISE_CORPUS = [
  'http://user:pw@hub.example.com:8080',
  'http://hub.example.com@evil.example',
  'http://:pw@hub',
  'ftp://hub.example.com',
  'ws://hub.example.com',
  'wss://hub.example.com',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'data:text/plain,hub',
  'HTTP://hub.example.com',
  'http:hub.example.com',
  'http:/hub.example.com',
  'http:///hub.example.com',
  'http://hub.example.com#frag',
  'http://hub.example.com?x=1',
  'http://hub.example.com/agents',
  'http://hub.example.com\\evil',
  'http://hub.example.com\\',
  ' http://hub.example.com',
  'http://hub.example.com ',
  'http://hub .example.com',
  'http://hub.example.com\t',
  'http://hub.example.com\n',
  'http://\u00a0hub.example.com',
  'http://hub\u2028.example.com',
  'http://hub\u0000.example.com',
  'http://hub\u007f.example.com',
  'http://hub%2e.example.com',
  'http://%2f%2fevil',
  'http://hub.example.com:0',
  'http://hub.example.com:65536',
  'http://hub.example.com:99999999999',
  'http://hub.example.com:-1',
  'http://hub.example.com:8080:9090',
  'http://[::1',
  'http://[::1]]',
  'http://',
  'https://',
  '',
  'none ',
  'NONE',
  `http://${'a'.repeat(3000)}`,
  `http://${'/'.repeat(5000)}`,
  `http://hub.example.com${'/'.repeat(100_000)}`,
  // accepted, as written or as the URL parser writes them
  'http://hub.example.com:8080',
  'https://hub.example.com:443',
  'http://HUB.Example.COM',
  'http://127.0.0.1:8080/',
  'http://[::1]:8080',
  'http://ëxample.com',
  'http://hub.example.com.',
];

/** The hub's startup configuration with only this setting given (no client id needed for the check). */
function advertised(value: string): { url: string | undefined } | { refused: string } {
  try {
    return { url: loadConfig({ GATEHOUSE_AGENT_ADVERTISE_URL: value }, {}, { requireClientId: false }).agentAdvertiseUrl };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { refused: err.message };
  }
}

/** What an agent makes of a HUBS frame listing `url` (the shared codec, as the agent decodes it). */
const agentReads = (url: string) =>
  decodeFrame(encodeFrame({ type: FrameType.Hubs, stream: 0, msg: { hubId: 'h1', hubs: [{ id: 'h2', url }] } }, HUBS_VERSION), AGENT_RECEIVES, HUBS_VERSION);

describe('GATEHOUSE_AGENT_ADVERTISE_URL at startup', () => {
  it('any spelling (generated and corpus): refused naming the setting, never quoting the value; or an http(s) origin every agent reads', () => {
    const value = fc.oneof(
      fc.constantFrom(...ADVERTISE_CORPUS),
      fc.string({ maxLength: 30 }).map((s) => `http://${s}`),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `https://${s}`),
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.string({ maxLength: 40 }),
    );
    fc.assert(
      fc.property(value, (v) => {
        const got = advertised(v);
        if ('refused' in got) {
          expect(got.refused).toMatch(/GATEHOUSE_AGENT_ADVERTISE_URL (must be http\(s\):\/\/host:port|is over 2048 characters)/);
          if (v.length > 12) expect(got.refused).not.toContain(v);
          return;
        }
        // none, or nothing (the setting unset: a single hub without an advertise URL lists nothing)
        if (got.url === undefined) {
          expect(v === 'none' || v.trim() === '').toBe(true);
          return;
        }
        const url = got.url;
        const u = new URL(url);
        expect(['http:', 'https:']).toContain(u.protocol);
        expect([u.username, u.password, u.search, u.hash, u.pathname]).toEqual(['', '', '', '', '/']);
        expect(u.origin).toBe(url);
        expect(url.length).toBeLessThanOrEqual(2048);
        expect(agentReads(url)).toMatchObject({ msg: { hubs: [{ id: 'h2', url }] } });
      }),
      { numRuns: 3000 },
    );
  });

  it('the corpus: each hostile spelling refused, the plain ones listed as their origin', () => {
    const accepted = Object.fromEntries(
      ADVERTISE_CORPUS.map((v) => [v.slice(0, 60), advertised(v)] as const)
        .filter(([v, r]) => v !== '' && 'url' in r)
        .map(([v, r]) => [v, (r as { url: string }).url]),
    );
    expect(accepted).toEqual({
      'http://hub.example.com:8080': 'http://hub.example.com:8080',
      'https://hub.example.com:443': 'https://hub.example.com',
      'http://HUB.Example.COM': 'http://hub.example.com',
      'http://127.0.0.1:8080/': 'http://127.0.0.1:8080',
      'http://[::1]:8080': 'http://[::1]:8080',
      'http://ëxample.com': 'http://xn--xample-ova.com',
      'http://hub.example.com.': 'http://hub.example.com.',
    });
    expect(advertised('none')).toEqual({ url: undefined });
    expect(advertised('')).toEqual({ url: undefined });
  });

  it('a URL over 2048 characters (every agent would refuse the HUBS frame listing it) stops the hub at startup with the reason, not the value', async () => {
    const huge = `http://${'a'.repeat(3000)}.example.com`;
    // Before: listed as it was, and each agent's codec refused HUBS (`a hub url` over 2048 characters).
    expect(() => agentReads(huge)).toThrow();
    const hub = startProc([HUB_MAIN, 'serve'], { GATEHOUSE_LISTEN: '127.0.0.1:0', GATEHOUSE_CLIENT_ID: 'x', GATEHOUSE_AGENT_ADVERTISE_URL: huge });
    expect(await hub.exited).toBe(2);
    const out = hub.lines.join('\n');
    expect(out).toContain('GATEHOUSE_AGENT_ADVERTISE_URL is over 2048 characters, the longest agents take');
    expect(out).not.toContain('a'.repeat(100));
  });
});
