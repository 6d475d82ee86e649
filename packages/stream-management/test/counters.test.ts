import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  UINT32_MAX,
  UINT32_MODULUS,
  add32,
  classifyAck,
  distance32,
  formatUint32,
  inc32,
  parseUint32,
} from '../src/counters.js';

const u32 = fc.integer({ min: 0, max: UINT32_MAX });
/** Values near the wrap point, where bugs live. */
const nearWrap = fc.oneof(
  fc.integer({ min: UINT32_MAX - 1000, max: UINT32_MAX }),
  fc.integer({ min: 0, max: 1000 }),
  u32,
);

describe('uint32 arithmetic (XEP-0198 §4: h wraps from 2^32-1 to 0)', () => {
  it('inc32 wraps 2^32-1 to 0 and increments everything else by one', () => {
    expect(inc32(UINT32_MAX)).toBe(0);
    expect(inc32(0)).toBe(1);
    fc.assert(fc.property(nearWrap, (a) => inc32(a) === (a + 1) % UINT32_MODULUS));
  });

  it('add32 is addition modulo 2^32 for any safe n, including negative', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (a, n) => {
        const expected = Number(((BigInt(a) + BigInt(n)) % 2n ** 32n + 2n ** 32n) % 2n ** 32n);
        expect(add32(a, n)).toBe(expected);
      }),
    );
  });

  it('distance32(from, to) is the number of increments from `from` to `to`', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 0, max: 5000 }), (a, k) => {
        let x = a;
        for (let i = 0; i < k % 50; i++) x = inc32(x);
        expect(distance32(a, x)).toBe(k % 50);
        expect(distance32(a, add32(a, k))).toBe(k);
      }),
    );
    expect(distance32(UINT32_MAX, 0)).toBe(1);
    expect(distance32(0, UINT32_MAX)).toBe(UINT32_MAX);
  });

  it('inc32 applied k times equals add32(a, k) across the wrap', () => {
    fc.assert(
      fc.property(fc.integer({ min: UINT32_MAX - 100, max: UINT32_MAX }), fc.integer({ min: 0, max: 300 }), (a, k) => {
        let x = a;
        for (let i = 0; i < k; i++) x = inc32(x);
        return x === add32(a, k);
      }),
    );
  });
});

describe('parseUint32: canonical xs:unsignedInt only', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['10', 10],
    ['4294967295', 4294967295],
  ])('accepts %s', (s, n) => expect(parseUint32(s)).toBe(n));

  it.each([
    [undefined],
    [''],
    ['-1'],
    ['-0'],
    ['+1'],
    ['01'],
    ['00'],
    [' 1'],
    ['1 '],
    ['1.0'],
    ['1e3'],
    ['0x10'],
    ['4294967296'],
    ['99999999999'],
    ['NaN'],
    ['Infinity'],
    ['１'], // fullwidth digit
    ['abc'],
  ])('rejects %p', (s) => expect(parseUint32(s)).toBeUndefined());

  it('round-trips every uint32 through formatUint32', () => {
    fc.assert(fc.property(nearWrap, (n) => parseUint32(formatUint32(n)) === n));
  });

  it('rejects any string that is not the canonical rendering of its value', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (s) => {
        const v = parseUint32(s);
        if (v !== undefined) expect(String(v)).toBe(s);
      }),
    );
  });

  it('formatUint32 refuses values outside [0, 2^32)', () => {
    expect(() => formatUint32(-1)).toThrow(RangeError);
    expect(() => formatUint32(UINT32_MODULUS)).toThrow(RangeError);
    expect(() => formatUint32(1.5)).toThrow(RangeError);
  });
});

describe('classifyAck (modulo 2^32)', () => {
  it('accepts every h in [acked, sent], across the wrap, with the exact number newly acked', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 0, max: 100_000 }), fc.nat(), (acked, outstanding, pick) => {
        const sent = add32(acked, outstanding);
        const k = outstanding === 0 ? 0 : pick % (outstanding + 1);
        const h = add32(acked, k);
        expect(classifyAck(h, acked, sent)).toEqual({ kind: 'ok', newlyAcked: k });
      }),
    );
  });

  it('reports too-high for h beyond sent (up to 2^31 ahead of acked), across the wrap', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 2 ** 31 - 100_001 }), (acked, outstanding, beyond) => {
        const sent = add32(acked, outstanding);
        expect(classifyAck(add32(sent, beyond), acked, sent)).toEqual({ kind: 'too-high' });
      }),
    );
  });

  it('reports stale for h behind acked', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (acked, outstanding, behind) => {
        const sent = add32(acked, outstanding);
        expect(classifyAck(add32(acked, -behind), acked, sent)).toEqual({ kind: 'stale', behind });
      }),
    );
  });

  it('treats the spec example (h=10, sent 8) as too-high and 2^32-1 → 0 as one new ack', () => {
    expect(classifyAck(10, 0, 8)).toEqual({ kind: 'too-high' });
    expect(classifyAck(0, UINT32_MAX, 0)).toEqual({ kind: 'ok', newlyAcked: 1 });
    expect(classifyAck(1, UINT32_MAX, 0)).toEqual({ kind: 'too-high' });
  });
});
