import { describe, expect, it } from '@jest/globals';
import { addressKey, addressMatcher, DEFAULT_EXEMPT_ADDRESSES, normalizeAddress, SlidingWindowLimiter } from '../src/index.js';

describe('per-address limit helpers', () => {
  it('normalizes IPv4-mapped IPv6, zones and case', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('FE80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
  });

  it('accounts IPv4 by address and IPv6 by /64', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('garbage')).toBe('garbage');
  });

  it('matches addresses and CIDR blocks; loopback by default', () => {
    const loopback = addressMatcher(DEFAULT_EXEMPT_ADDRESSES);
    expect(['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1'].map(loopback)).toEqual([true, true, true, true]);
    expect(['128.0.0.1', '::2', '10.0.0.1', '', 'x'].map(loopback)).toEqual([false, false, false, false, false]);
    const m = addressMatcher(['10.0.0.0/8', 'fd00::/8', '192.0.2.5']);
    expect(['10.9.9.9', 'fd12::1', '192.0.2.5', '192.0.2.6'].map(m)).toEqual([true, true, true, false]);
    expect(addressMatcher([])('127.0.0.1')).toBe(false);
    expect(() => addressMatcher(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => addressMatcher(['localhost'])).toThrow(/not an IP/);
  });

  it('SlidingWindowLimiter: at most `limit` events in any window; refused attempts are not recorded by tryAcquire', () => {
    const l = new SlidingWindowLimiter(3, 1000);
    expect([0, 100, 200, 300].map((t) => l.tryAcquire('a', t))).toEqual([true, true, true, false]);
    expect(l.tryAcquire('b', 300)).toBe(true); // per key
    expect(l.tryAcquire('a', 1000)).toBe(true); // the event at 0 left the window
    expect(l.tryAcquire('a', 1050)).toBe(false);
    expect(l.count('a', 5000)).toBe(0);
    l.prune(5000);
    expect(l.size).toBe(0);
    const unlimited = new SlidingWindowLimiter(0, 1000);
    for (let i = 0; i < 100; i++) expect(unlimited.tryAcquire('x', 0)).toBe(true);
  });

  it('keeps at most maxKeys keys (least recently used out first)', () => {
    const l = new SlidingWindowLimiter(5, 60_000, 3);
    for (const k of ['a', 'b', 'c']) l.record(k, 0);
    l.record('a', 1); // a is now the most recent
    l.record('d', 2);
    expect(l.size).toBe(3);
    expect(l.count('b', 3)).toBe(0); // b was evicted
    expect(l.count('a', 3)).toBe(2);
  });
});
