// The header policy as a property (issue 21, findings 7, 8, 9): whatever header lines a caller sends, in whatever
// case and order, what the hub sends toward a service never holds the caller's token or a caller's forwarding
// header, carries the hub's own X-Forwarded-For and X-Forwarded-Proto once, and is taken unchanged by the agent's
// rules (hub and agent apply the same function). Pure functions of packages/shared: no process is started. A
// failure prints its seed; GATEHOUSE_PROPERTY_SEED=<seed> replays it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CLIENT_ORIGIN_HEADERS,
  HOP_BY_HOP,
  SET_BY_RELAY,
  forwardRequestHeaders,
  headersToObject,
  relayRequestHeaders,
  requestHeadProblem,
  type HeaderList,
} from '@gatehouse/shared';

const TOKEN = `eyJ${'a'.repeat(40)}.eyJ${'b'.repeat(60)}.${'c'.repeat(43)}`;
const SEED = Number(process.env.GATEHOUSE_PROPERTY_SEED ?? Date.now() % 2 ** 31);

/** A name in any case (HTTP names are case-insensitive). */
const anyCase = (name: string) =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) => [...name].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
const NAMES = [
  'accept',
  'x-custom',
  'via',
  'cookie',
  'authorization',
  'x-gatehouse-authorization',
  'x-request-id',
  'content-type',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'x-forwarded-host',
  'x-forwarded-anything',
  ...CLIENT_ORIGIN_HEADERS,
  ...HOP_BY_HOP,
  ...SET_BY_RELAY,
];
const name = fc.oneof(fc.constantFrom(...NAMES).chain(anyCase), fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/));
/** Values, some of them the caller's token as a client may spell it, or a Connection list naming other headers. */
const value = fc.oneof(
  fc.stringMatching(/^[ -~]{0,20}$/),
  fc
    .constantFrom('bearer', 'Bearer', 'BEARER', 'bEaReR', 'Token')
    .chain((scheme) => fc.constantFrom(' ', '  ', '\t', ' \t ').map((gap) => `${scheme}${gap}${TOKEN}`)),
  fc.constant(`x${TOKEN}y`),
  fc.subarray(['x-custom', 'accept', 'x-keep', 'via'], { minLength: 1 }).map((l) => l.join(', ')),
);
const lines = fc.array(fc.tuple(name, value), { maxLength: 30 }) as fc.Arbitrary<HeaderList>;
const caller = { address: '::ffff:192.0.2.7', proto: 'http' as const, token: TOKEN };

describe('the header policy, for any header lines a caller sends (fast-check)', () => {
  it("what the hub sends through a gateway never holds the caller's token or its forwarding headers, and the agent's rules take it unchanged", () => {
    fc.assert(
      fc.property(lines, fc.boolean(), (given, dropAuthorization) => {
        const drop = new Set(['x-request-id', 'x-gatehouse-authorization', ...(dropAuthorization ? ['authorization'] : [])]);
        const sent = forwardRequestHeaders(given, { dropCookie: true, drop, caller });
        expect(sent.some(([, v]) => v.includes(TOKEN))).toBe(false);
        const names = sent.map(([k]) => k);
        for (const n of names) {
          expect(n).toBe(n.toLowerCase());
          expect(HOP_BY_HOP.has(n) || SET_BY_RELAY.has(n) || n === 'cookie' || drop.has(n)).toBe(false);
        }
        // The caller's forwarding headers are gone; the hub's own come once, last.
        expect(names.filter((n) => n.startsWith('x-forwarded-') || CLIENT_ORIGIN_HEADERS.has(n))).toEqual(['x-forwarded-for', 'x-forwarded-proto']);
        expect(sent.slice(-3)).toEqual([
          ['via', expect.stringMatching(/1\.1 gatehouse$/)],
          ['x-forwarded-for', '192.0.2.7'],
          ['x-forwarded-proto', 'http'],
        ]);
        expect(names.filter((n) => n === 'via')).toHaveLength(1);
        // A name some Connection header listed never goes on (RFC 9110 7.6.1).
        const listed = given.filter(([k]) => k.toLowerCase() === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()));
        for (const n of listed) if (n !== 'via') expect(names, n).not.toContain(n);
        // The agent applies the same rules to what it gets (one function): they drop nothing more.
        expect(relayRequestHeaders(sent, { dropCookie: true, drop: dropAuthorization ? new Set(['authorization']) : undefined })).toEqual(sent);
        // Whatever the caller's names, a head of these lines is within the agent's per-call limits, except that a
        // header named __proto__ is refused (400) by the same rule on both ends.
        const problem = requestHeadProblem({ requestId: 'r', method: 'GET', url: 'http://x/', headers: sent, bodyLength: 0, timeoutMs: 1, credentials: null });
        if (names.includes('__proto__')) expect(problem?.message).toMatch(/named __proto__/);
        else expect(problem).toBeUndefined();
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it("the invoke envelope's headers object holds exactly the lines it was given, whatever their names", () => {
    fc.assert(
      fc.property(lines, (given) => {
        const obj = headersToObject(given);
        const expected = new Map<string, string>();
        for (const [k, v] of given) expected.set(k, expected.has(k) ? `${expected.get(k)}, ${v}` : v);
        expect(Object.getPrototypeOf(obj)).toBeNull();
        expect(Object.entries(obj)).toEqual([...expected]);
        // As JSON (how the caller gets it), parsed back into pairs: the same.
        expect(Object.entries(JSON.parse(JSON.stringify(obj)) as Record<string, string>)).toEqual([...expected]);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
