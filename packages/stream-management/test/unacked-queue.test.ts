import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { UINT32_MAX, add32 } from '../src/counters.js';
import { UnackedQueue } from '../src/unacked-queue.js';

describe('UnackedQueue', () => {
  it('numbers entries acked+1, acked+2, … and removes those ≤ h (§4 basic acking)', () => {
    const q = new UnackedQueue<string>();
    expect(q.push('s1')).toBe(1);
    expect(q.push('s2')).toBe(2);
    expect(q.push('s3')).toBe(3);
    expect(q.ack(2)).toEqual({ kind: 'ok', removed: ['s1', 's2'] });
    expect(q.length).toBe(1);
    expect(q.acked).toBe(2);
    expect(q.sent).toBe(3);
    expect([...q.entries()]).toEqual([{ seq: 3, item: 's3' }]);
    expect(q.ack(2)).toEqual({ kind: 'ok', removed: [] }); // repeated ack
    expect(q.ack(4)).toEqual({ kind: 'too-high', h: 4, sendCount: 3 });
    expect(q.ack(1)).toEqual({ kind: 'stale', behind: 1 });
    expect(q.toArray()).toEqual(['s3']);
  });

  it('checks h against an explicit limit (the last count actually written)', () => {
    const q = new UnackedQueue<string>();
    q.push('a');
    q.push('b'); // held, not written
    expect(q.ack(2, 1)).toEqual({ kind: 'too-high', h: 2, sendCount: 1 });
    expect(q.ack(1, 1)).toEqual({ kind: 'ok', removed: ['a'] });
  });

  it('wraps across 2^32', () => {
    const q = new UnackedQueue<number>(UINT32_MAX - 1);
    expect(q.push(1)).toBe(UINT32_MAX);
    expect(q.push(2)).toBe(0);
    expect(q.push(3)).toBe(1);
    expect(q.ack(0)).toEqual({ kind: 'ok', removed: [1, 2] });
    expect(q.acked).toBe(0);
    expect(q.sent).toBe(1);
    expect(q.ack(2)).toEqual({ kind: 'too-high', h: 2, sendCount: 1 });
  });

  it('drain removes everything without acknowledging', () => {
    const q = UnackedQueue.from(7, ['a', 'b']);
    expect(q.sent).toBe(9);
    expect(q.drain()).toEqual(['a', 'b']);
    expect(q.acked).toBe(7);
    expect(q.length).toBe(0);
  });

  it('behaves like a naive model under random pushes and acks, across the wrap (fast-check)', () => {
    type Op = { kind: 'push' } | { kind: 'ack'; pick: number } | { kind: 'bad'; beyond: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.constant<Op>({ kind: 'push' }),
      fc.record({ kind: fc.constant<'ack'>('ack'), pick: fc.nat() }),
      fc.record({ kind: fc.constant<'bad'>('bad'), beyond: fc.integer({ min: 1, max: 1000 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: UINT32_MAX - 3000, max: UINT32_MAX }), fc.array(op, { maxLength: 400 }), (start, ops) => {
        const q = new UnackedQueue<number>(start);
        let model: { seq: bigint; v: number }[] = [];
        let acked = BigInt(start);
        let next = 0;
        for (const o of ops) {
          if (o.kind === 'push') {
            const seq = q.push(next);
            const mseq = acked + BigInt(model.length) + 1n;
            model.push({ seq: mseq, v: next++ });
            expect(seq).toBe(Number(mseq % 2n ** 32n));
          } else if (o.kind === 'ack') {
            const k = o.pick % (model.length + 1);
            const h = Number((acked + BigInt(k)) % 2n ** 32n);
            const r = q.ack(h);
            expect(r).toEqual({ kind: 'ok', removed: model.slice(0, k).map((m) => m.v) });
            model = model.slice(k);
            acked += BigInt(k);
          } else {
            const h = add32(q.sent, o.beyond);
            expect(q.ack(h)).toEqual({ kind: 'too-high', h, sendCount: q.sent });
          }
          expect(q.length).toBe(model.length);
          expect(q.acked).toBe(Number(acked % 2n ** 32n));
          expect(q.toArray()).toEqual(model.map((m) => m.v));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('keeps ack cost flat: acking one stanza at depth 10 000 costs about what it costs at depth 10', () => {
    /** ns per push+ack(1) pair at a steady depth. */
    const perOp = (depth: number, ops: number): number => {
      const q = new UnackedQueue<object>();
      for (let i = 0; i < depth; i++) q.push({ i });
      let best = Infinity;
      for (let round = 0; round < 5; round++) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < ops; i++) {
          q.push({ i });
          q.ack(add32(q.acked, 1));
        }
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / ops);
      }
      expect(q.length).toBe(depth);
      return best;
    };
    perOp(10, 50_000); // warm-up (JIT)
    const shallow = perOp(10, 100_000);
    const deep = perOp(10_000, 100_000);
    // An O(n) shift at depth 10 000 would be ~1000× slower; allow generous noise.
    expect(deep).toBeLessThan(shallow * 5 + 200);
  });

});
