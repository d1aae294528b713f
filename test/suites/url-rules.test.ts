// The one containment function hub and agent share, on raw inputs the hub would already have refused or
// normalised before they could reach an agent (defence in depth: the agent decides on its own).
import { describe, expect, it } from 'vitest';
import { isAllowed, joinUrl, resolveTarget } from '@gatehouse/shared';

const allow = [new URL('http://intranet.example.com:8080/api')];

describe("agent allow-list on raw URLs", () => {
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
