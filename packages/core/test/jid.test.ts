import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { jid as libJid } from '@xmpp/jid';
import { parseJid, tryParseJid } from '../src/jid.js';

/** What `parseJid` did before its fast path: the library's parser plus the length checks. */
function reference(s: string): { local: string; domain: string; resource: string; str: string } | 'throws' {
  try {
    if (s.length === 0 || s.length > 3071) return 'throws';
    const j = libJid(s);
    if (!j.domain) return 'throws';
    if (j.local.length > 1023 || j.domain.length > 1023 || j.resource.length > 1023) return 'throws';
    return { local: j.local, domain: j.domain, resource: j.resource, str: j.toString() };
  } catch {
    return 'throws';
  }
}

function actual(s: string): ReturnType<typeof reference> {
  const j = tryParseJid(s);
  return j ? { local: j.local, domain: j.domain, resource: j.resource, str: j.toString() } : 'throws';
}

describe('parseJid', () => {
  it('parses like @xmpp/jid (same parts, same lower-casing, same escaping) for any string', () => {
    const chars = fc.constantFrom(...'aB1@/ "&\'<>:\\.-é5c20x'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 24 }).map((a) => a.join('')), (s) => {
        expect(actual(s)).toEqual(reference(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps the examples of RFC 7622 and XEP-0106', () => {
    for (const s of [
      'juliet@example.com',
      'Juliet@Example.COM/Balcony',
      'example.com/res/with/slashes@and',
      'a@b@c',
      '@example.com',
      'd\'artagnan@musketeers.lit',
      'space cadet@example.com',
      'c:\\net@example.com',
      'juliet\\40example.com@example.com/r',
      'x@y/',
    ]) {
      expect(actual(s)).toEqual(reference(s));
    }
    expect(tryParseJid('')).toBeUndefined();
    expect(tryParseJid('user@')).toBeUndefined();
    expect(tryParseJid('/res')).toBeUndefined();
    expect(() => parseJid('user@/r')).toThrow();
  });

  it('returns JIDs whose methods behave like the library’s', () => {
    const j = parseJid('Romeo@Montague.LIT/Orchard');
    expect(j.toString()).toBe('romeo@montague.lit/Orchard');
    expect(j.bare().toString()).toBe('romeo@montague.lit');
    expect(j.equals(libJid('romeo@montague.lit/Orchard'))).toBe(true);
    expect(libJid('romeo@montague.lit/Orchard').equals(j)).toBe(true);
  });
});
