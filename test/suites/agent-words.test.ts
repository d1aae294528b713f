// Issue 22, red-team finding B3: the hub quotes an agent's own text (FAILURE messages, CANCEL reasons) inside its
// coded errors, and `agentWords` decided what to strip from a list of code points: tag characters ("ASCII
// smuggling"), U+206A-206F, U+034F, U+115F/U+1160, U+3164, U+FFF9-FFFB and variation selectors went through, and
// its cut (`slice(0, 200)`) could leave half a surrogate pair. Now it strips by Unicode property and cuts by code
// points: checked with fast-check over all of Unicode, with the finding's corpus, and through the real hub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FrameType, MAX_AGENT_WORDS, agentWords } from '@gatehouse/shared';
import { startFakeEntra, type FakeEntra } from '../helpers/fake-entra.js';
import { startEchoServer, type EchoServer } from '../helpers/echo-server.js';
import { api, startHub, type HubProc } from '../helpers/stack.js';
import { startHostileAgent, type HostileAgent } from '../helpers/hostile-agent.js';
import { cleanupTempDirs } from '../helpers/tmp.js';

/** What the caller must never see of an agent's text: an independent statement of the rule, one class at a time. */
const FORBIDDEN = [/\p{Cc}/u, /\p{Cf}/u, /\p{Cs}/u, /\p{Zl}/u, /\p{Zp}/u, /\p{Default_Ignorable_Code_Point}/u];
const forbiddenIn = (s: string) => FORBIDDEN.some((r) => r.test(s));

/** Well-formed UTF-16: every high surrogate followed by a low one, every low one preceded by a high one. */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

/** The finding's characters, each of which passed the old list. */
const CORPUS: Array<[string, string]> = [
  ['tag characters (ASCII smuggling)', '\u{E0001}\u{E0068}\u{E0075}\u{E0062}\u{E007F}'],
  ['the last tag-block code points', '\u{E0080}\u{E0FFF}'],
  ['deprecated format characters U+206A-206F', '\u206a\u206b\u206c\u206d\u206e\u206f'],
  ['combining grapheme joiner U+034F', '\u034f'],
  ['Hangul fillers U+115F, U+1160, U+3164, U+FFA0', '\u115f\u1160\u3164\uffa0'],
  ['interlinear annotations U+FFF9-FFFB', '\ufff9\ufffa\ufffb'],
  ['variation selectors', '\ufe00\ufe0f\u{E0100}\u{E01EF}\u180b\u180f'],
  ['a lone low and a lone high surrogate', '\udfff\ud800'],
  ['line and paragraph separators', '\u2028\u2029'],
  ['the old list: C0, DEL, C1, bidi, zero-width, U+FEFF, soft hyphen', '\u0000\u001b\u007f\u0085\u202e\u2066\u200b\u200d\u2060\ufeff\u00ad'],
];

describe('B3, agentWords is a denylist: it strips by Unicode property and cuts by code points', () => {
  it('B3: for any string (all of Unicode, lone surrogates included) the result has no character of the stripped classes, at most MAX_AGENT_WORDS code points and "...", and is well-formed UTF-16', () => {
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400 }),
      // Mostly the characters that matter, so long runs of them and cuts next to them are common.
      fc.string({
        unit: fc.oneof(
          fc.constantFrom(...CORPUS.flatMap(([, s]) => [...s]), '\ud83d', '\ude00', '😀', 'a', ' ', 'é'),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        ),
        maxLength: 600,
      }),
    );
    fc.assert(
      fc.property(text, (s) => {
        const out = agentWords(s);
        const body = out.endsWith('...') && Array.from(out).length > MAX_AGENT_WORDS ? out.slice(0, -3) : out;
        expect(forbiddenIn(out)).toBe(false);
        expect(Array.from(body).length).toBeLessThanOrEqual(MAX_AGENT_WORDS);
        expect(wellFormed(out)).toBe(true);
        expect(out).toBe(out.trim());
      }),
      { numRuns: 2_000 },
    );
  });

  it.each(CORPUS)('B3: %s are stripped', (_name, chars) => {
    expect(forbiddenIn(chars)).toBe(true);
    expect(agentWords(`a${chars}b`)).toBe('a b');
  });

  it('B3: a cut never splits a surrogate pair (200 emoji and more keep 200 whole ones)', () => {
    const out = agentWords('😀'.repeat(250));
    expect(out).toBe(`${'😀'.repeat(MAX_AGENT_WORDS)}...`);
    expect(wellFormed(out)).toBe(true);
    // 200 emoji are 400 UTF-16 units but 200 code points: not cut.
    expect(agentWords('😀'.repeat(MAX_AGENT_WORDS))).toBe('😀'.repeat(MAX_AGENT_WORDS));
    // Visible text in any script is kept as it is.
    expect(agentWords('Dienst nicht erreichbar: 服务不可用 — ошибка 😀')).toBe('Dienst nicht erreichbar: 服务不可用 — ошибка 😀');
  });
});

describe('B3 through the real hub: a hostile agent hides text in its FAILURE and CANCEL', () => {
  let entra: FakeEntra;
  let echo: EchoServer;
  let hub: HubProc;
  let token: string;
  let hostile: HostileAgent;
  let conn: string;
  beforeAll(async () => {
    entra = await startFakeEntra();
    echo = await startEchoServer();
    hub = await startHub(entra, { GATEHOUSE_THROTTLE: '100000/60s' });
    token = await entra.token();
    hostile = await startHostileAgent(hub.url, token);
    conn = (await api(hub.url, token, 'POST', '/v1/connections', { authType: 'AnonymousGateway', baseResourceUrl: echo.url, gatewayId: hostile.gatewayId }))
      .json.id;
  }, 60_000);
  afterAll(async () => {
    await hostile?.close();
    await hub?.stop();
    await echo?.close();
    await entra?.close();
    cleanupTempDirs();
  });

  it("B3: the caller's coded error quotes none of the corpus, and a long text is cut on a code point", async () => {
    // Before: "hub said: \u{E0068}\u{E0069}..." reached the caller with the tag characters (invisible text a model or
    // a log reader may still read) inside the hub's coded error.
    const hidden = CORPUS.map(([, s]) => `x${s}`).join('');
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Failure, stream, msg: { code: 'BadGateway', message: `visible${hidden}end` } });
    };
    const f = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'words' });
    expect(f.status).toBe(502);
    expect(f.json.error.message).toBe(`agent -> service: the agent reported: visiblex${' x'.repeat(CORPUS.length - 1)} end`);
    expect(forbiddenIn(f.json.error.message)).toBe(false);

    // A CANCEL whose reason is 300 emoji with a lone surrogate in the middle: cut at 200 code points, well-formed.
    hostile.answer = async ({ stream }, a) => {
      await a.send({ type: FrameType.Cancel, stream, msg: { reason: `${'😀'.repeat(150)}\ud83d${'😀'.repeat(150)}` } });
    };
    const c = await api(hub.url, token, 'POST', `/v1/connections/${conn}/invoke`, { method: 'GET', url: 'words-cancel' });
    expect(c.status).toBe(502);
    const quoted = String(c.json.error.message).split('the agent reported: ')[1]!;
    expect(quoted).toBe(`${'😀'.repeat(150)} ${'😀'.repeat(49)}...`);
    expect(wellFormed(String(c.json.error.message))).toBe(true);
  }, 60_000);
});
