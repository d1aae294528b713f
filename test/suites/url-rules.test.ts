// The one containment function hub and agent share, on raw inputs the hub would already have refused or
// normalised before they could reach an agent (defence in depth: the agent decides on its own).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isAllowed, joinUrl, resolveTarget } from '@gatehouse/shared';
import { unsafeReadings } from '../helpers/server-readings.js';

const allow = [new URL('http://intranet.example.com:8080/api')];

describe('agent allow-list on raw URLs', () => {
  it.each([
    ['other host', 'http://other.example.com:8080/api/x'],
    ['host suffix', 'http://intranet.example.com.evil:8080/api/x'],
    ['other port', 'http://intranet.example.com:8081/api/x'],
    ['default port instead of 8080', 'http://intranet.example.com/api/x'],
    ['other scheme', 'https://intranet.example.com:8080/api/x'],
    ['userinfo', 'http://user:pw@intranet.example.com:8080/api/x'],
    ['userinfo without password', 'http://user@intranet.example.com:8080/api/x'],
    ['.. escape', 'http://intranet.example.com:8080/api/../admin'],
    ['%2e%2e escape', 'http://intranet.example.com:8080/api/%2e%2e/admin'],
    ['encoded slash dot segment', 'http://intranet.example.com:8080/api/x%2f..%2f..%2fadmin'],
    ['backslash', 'http://intranet.example.com:8080/api\\..\\admin'],
    ['%5c', 'http://intranet.example.com:8080/api/%5c..%5cadmin'],
    ['prefix without segment boundary', 'http://intranet.example.com:8080/apix'],
    ['not a URL', 'not a url'],
  ])('%s is refused', (_n, url) => {
    expect(isAllowed(url, allow).ok).toBe(false);
  });
  it.each([
    ['the prefix itself', 'http://intranet.example.com:8080/api'],
    ['below it', 'http://intranet.example.com:8080/api/v1/items?q=1'],
    ['host in upper case', 'http://INTRANET.example.com:8080/api/x'],
  ])('%s is allowed', (_n, url) => {
    expect(isAllowed(url, allow).ok).toBe(true);
  });
});

describe('joining relative URLs (axios baseURL rules)', () => {
  it.each([
    ['http://h/base', 'me/events', 'http://h/base/me/events'],
    ['http://h/base', '/me/events', 'http://h/base/me/events'],
    ['http://h/base/', '/me/events', 'http://h/base/me/events'],
    ['http://h/base/', '//me/events', 'http://h/base/me/events'],
  ])('%s + %s', (base, rel, out) => {
    expect(joinUrl(base, rel)).toBe(out);
    const r = resolveTarget(base.replace(/\/$/, ''), rel);
    expect(r.ok && r.url.href).toBe(out);
  });
  it('a fragment is never sent', () => {
    const r = resolveTarget('http://h/base', 'x#frag');
    expect(r.ok && r.url.href).toBe('http://h/base/x');
  });
});

describe("the hub's check against a connection's base (each base is parsed once and kept)", () => {
  const base = 'http://intranet.example.com:8080/api';
  it.each([
    ['other host', 'http://other.example.com:8080/api/x'],
    ['prefix without segment boundary', 'http://intranet.example.com:8080/apix'],
    ['.. escape', 'http://intranet.example.com:8080/api/../admin'],
    ['encoded slash dot segment', 'http://intranet.example.com:8080/api/x%2f..%2f..%2fadmin'],
    ['encoded slash single dot', 'http://intranet.example.com:8080/api/x%2f.%2fy'],
    ['userinfo', 'http://u@intranet.example.com:8080/api/x'],
    ['backslash', 'http://intranet.example.com:8080/api\\..\\admin'],
  ])('%s is refused, before and after allowed calls on the same base', (_n, url) => {
    expect(resolveTarget(base, 'v1/ok').ok).toBe(true);
    expect(resolveTarget(base, url).ok).toBe(false);
    expect(resolveTarget(base, url).ok).toBe(false);
  });
  it('two bases on the same host keep their own paths', () => {
    const a = 'http://intranet.example.com:8080/a';
    const b = 'http://intranet.example.com:8080/b';
    expect(resolveTarget(a, 'x').ok).toBe(true);
    expect(resolveTarget(b, 'x').ok).toBe(true);
    expect(resolveTarget(a, 'http://intranet.example.com:8080/b/x').ok).toBe(false);
    expect(resolveTarget(b, 'http://intranet.example.com:8080/a/x').ok).toBe(false);
    const r = resolveTarget(a, 'p%20q/r%2e.txt?x=%2e%2e');
    expect(r.ok && r.url.href).toBe('http://intranet.example.com:8080/a/p%20q/r%2e.txt?x=%2e%2e');
  });
});

// The path rule against an oracle written apart from it (test/helpers/server-readings.ts): whatever hub and agent
// accept must stay under the base in every way a common server reads a path, and the two must decide alike.
// FC_SEED=n replays a run (the seed is printed); FC_RUNS=n runs more.
describe('the path rule, property-checked against every server reading', () => {
  const BASE = 'http://127.0.0.1:8080/api/v1';
  const PREFIX = [new URL(`${BASE}/`)];
  const seed = Number(process.env.FC_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const numRuns = Number(process.env.FC_RUNS ?? 1500);
  const params = { seed, numRuns };
  process.stdout.write(`url-rules property tests: FC_SEED=${seed} FC_RUNS=${numRuns}\n`);

  const DOTS = [
    '.',
    '..',
    '...',
    '%2e',
    '%2E',
    '.%2e',
    '%252e',
    '%25252e',
    '%u002e',
    '%25u002e',
    '%U002E',
    '%c0%ae',
    '%25c0%25ae',
    '%e0%80%ae',
    '%f0%80%80%ae',
    '%25e0%2580%25ae',
    '．',
    '%EF%BC%8E',
    '%25EF%25BC%258E',
    '‥',
    '․',
    '%E2%80%A4',
    '﹒',
    '%uff0e',
    '%25uff0e',
  ];
  const SLASHES = [
    '/',
    '/',
    '/',
    '//',
    '\\',
    '%2f',
    '%2F',
    '%252f',
    '%5c',
    '%255c',
    '%c0%af',
    '%25c0%25af',
    '%c1%9c',
    '%25c1%259c',
    '／',
    '%EF%BC%8F',
    '＼',
    '%u002f',
    '%25u002f',
  ];
  const PARAMS = [';', ';x=1', '%3b', '%253b', ';/'];
  const ESCAPES = ['%', '%zz', '%2', '%ff', '%c0', '%ED%A0%80', '%25', '%2525', '%00', '%2500', '%09', '%0a', '%7f', '%C2%85', '%u0000'];
  const SPACE = [' ', '%20', '%2520', '\u3000', '%E3%80%80', '\u00a0', '%C2%A0'];
  const WORDS = ['a', 'secret', 'x.y', 'é', '%C3%A9', 'v1', 'api', '?', '?q=..%2f', '#', '~', '_'];
  const piece = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...DOTS) },
    { weight: 4, arbitrary: fc.constantFrom(...SLASHES) },
    { weight: 2, arbitrary: fc.constantFrom(...PARAMS) },
    { weight: 2, arbitrary: fc.constantFrom(...ESCAPES) },
    { weight: 1, arbitrary: fc.constantFrom(...SPACE) },
    { weight: 3, arbitrary: fc.constantFrom(...WORDS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
  );
  const hostilePath = fc.array(piece, { minLength: 1, maxLength: 14 }).map((p) => p.join(''));

  it('whatever the hub accepts stays under the base in every server reading, and the agent accepts what the hub sends', () => {
    let accepted = 0;
    fc.assert(
      fc.property(hostilePath, (p) => {
        const hub = resolveTarget(BASE, p);
        if (!hub.ok) return;
        accepted++;
        expect(unsafeReadings(hub.url.pathname, '/api/v1')).toEqual([]);
        expect(isAllowed(hub.url.href, PREFIX).ok).toBe(true);
      }),
      params,
    );
    // (not vacuous: a good share of the hostile paths is accepted, and so was checked against every reading)
    expect(accepted).toBeGreaterThan(numRuns / 20);
  });

  it('hub and agent decide alike on the same absolute URL', () => {
    fc.assert(
      fc.property(hostilePath, (p) => {
        const url = joinUrl(BASE, p);
        const hub = resolveTarget(BASE, url);
        const agent = isAllowed(url, PREFIX);
        expect(agent.ok).toBe(hub.ok);
        // (the hub drops a fragment before it sends the URL on)
        if (hub.ok && agent.ok) expect(agent.url.href.replace(/#.*$/, '')).toBe(hub.url.href.replace(/#.*$/, ''));
        if (!hub.ok && !agent.ok && hub.reason !== 'path outside the base path') expect(agent.reason).toBe(hub.reason);
      }),
      params,
    );
  });

  it('plain names, dots inside names, escapes of ordinary characters and Unicode letters are allowed', () => {
    const name = fc
      .array(fc.constantFrom('a', 'Z', '0', '-', '_', '~', '.', '%20', '%41', '%C3%A9', 'é', 'ü', '日', ';v=1', '%252e', '+', '@', ':'), {
        minLength: 1,
        maxLength: 8,
      })
      .map((parts) => parts.join(''))
      .filter((n) => !/^[\s.]*$/.test(n.split(';')[0]!.replace(/%20/g, ' ').replace(/%252e/g, '.')) && !n.startsWith('.'));
    fc.assert(
      fc.property(fc.array(name, { minLength: 1, maxLength: 5 }), (names) => {
        const r = resolveTarget(BASE, `items/${names.join('/')}`);
        expect(r.ok ? 'ok' : r.reason).toBe('ok');
      }),
      params,
    );
  });

  it('the oracle sees the climbs the findings used (so the properties above are not empty)', () => {
    for (const p of [
      '/api/v1/..;/secret',
      '/api/v1/%252e%252e/secret',
      '/api/v1/%c0%ae%c0%ae/secret',
      '/api/v1/%EF%BC%8E%EF%BC%8E/secret',
      '/api/v1/x%2f..%2f..%2fsecret',
      '/api/v1/..%00/secret',
      '/api/v1/%u002e%u002e/secret',
    ]) {
      expect(unsafeReadings(p, '/api/v1'), p).not.toEqual([]);
    }
    expect(unsafeReadings('/api/v1/a.b/%C3%A9/c;v=1', '/api/v1')).toEqual([]);
  });
});

describe('issue 21 regressions, in the function hub and agent share', () => {
  const base = 'http://127.0.0.1:8080/api/v1';
  const prefix = [new URL(`${base}/`)];
  const bothRefuse = (p: string) => [resolveTarget(base, p), isAllowed(joinUrl(base, p), prefix)].map((r) => (r.ok ? 'allowed' : r.reason));

  // Before: hasEncodedDotSegment() answered "nothing wrong" when decodeURIComponent threw, so one undecodable
  // escape switched off the encoded-dot check in the hub and in the agent's --allow check.
  it.each([
    ['%zz', '..%2f..%2f%zz%2f..%2fsecret.txt', 'invalid escape in path'],
    ['%ff', '..%2f..%2f%ff%2f..%2fsecret.txt', 'path is not UTF-8 once decoded'],
    ['%c0', '..%2f..%2f%c0%2f..%2fsecret.txt', 'path is not UTF-8 once decoded'],
    ['%ED%A0%80', '..%2f..%2fsecret.txt%2f%ED%A0%80%2f..', 'path is not UTF-8 once decoded'],
  ])('finding 1: an undecodable escape (%s) no longer switches off the check', (_n, p, reason) => {
    expect(bothRefuse(p)).toEqual([reason, reason]);
  });

  // Before: segments that Tomcat, Jetty and Spring (';params'), double-decoding servers, overlong-UTF-8 decoders,
  // C strings and NFKC read as '..' passed both checks and reached services unchanged.
  it.each(['..;/secret', '%2e%2e;/secret', 'x/..;/..;/secret', '%252e%252e/secret', '..%00/secret', '．．/secret'])(
    'finding 2: %s is refused by hub and agent alike',
    (p) => {
      const [hub, agent] = bothRefuse(p);
      expect(hub).not.toBe('allowed');
      expect(agent).toBe(hub);
    },
  );
  it('finding 2: %c0%ae%c0%ae (overlong dots) is refused by hub and agent alike', () => {
    expect(bothRefuse('%c0%ae%c0%ae/secret')).toEqual(['path is not UTF-8 once decoded', 'path is not UTF-8 once decoded']);
    expect(bothRefuse('%25c0%25ae%25c0%25ae/secret')).toEqual(['dot segment in path', 'dot segment in path']);
  });
});
