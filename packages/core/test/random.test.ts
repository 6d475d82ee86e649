import { describe, expect, it } from '@jest/globals';
import { randomToken } from '../src/random.js';

describe('randomToken', () => {
  it('returns base64url tokens of the requested size, all distinct, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = randomToken(16);
      expect(t).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(t, 'base64url')).toHaveLength(16);
      seen.add(t);
    }
    expect(seen.size).toBe(2000);
    expect(randomToken(18)).toHaveLength(24);
    expect(randomToken(1)).toHaveLength(2);
  });

  it('refuses sizes outside 1–256', () => {
    for (const n of [0, -1, 257, 1.5, Number.NaN]) expect(() => randomToken(n)).toThrow(RangeError);
  });
});
