/**
 * The timer wheel keyed by due time: one scheduler timer, never early, at most one slot late.
 */
import { describe, expect, it } from '@jest/globals';
import { FakeTime } from '@strand/testing';
import { DeadlineWheel } from '../src/index.js';

const T0 = Date.UTC(2024, 0, 1); // a whole second

function setup(resolutionMs = 1000) {
  const time = new FakeTime({ start: T0 });
  const fired: Array<{ at: number; items: string[] }> = [];
  let onDue = (items: string[], now: number) => {
    fired.push({ at: now - T0, items: [...items].sort() });
  };
  const wheel = new DeadlineWheel<string>(time, time, resolutionMs, (items, now) => onDue(items, now));
  return { time, wheel, fired, setOnDue: (f: typeof onDue) => (onDue = f) };
}

describe('DeadlineWheel', () => {
  it('keeps exactly one scheduler timer, armed for the earliest slot', async () => {
    const { time, wheel, fired } = setup();
    for (let i = 0; i < 100; i++) wheel.schedule(`s${i}`, T0 + 1000 * (1 + (i % 7)));
    expect(wheel.size).toBe(100);
    expect(time.pendingTimers()).toBe(1);
    expect(wheel.nextFireAt).toBe(T0 + 1000);
    await time.advance(7000);
    expect(fired.map((f) => [f.at, f.items.length])).toEqual([
      [1000, 15],
      [2000, 15],
      [3000, 14],
      [4000, 14],
      [5000, 14],
      [6000, 14],
      [7000, 14],
    ]);
    expect(wheel.size).toBe(0);
    expect(time.pendingTimers()).toBe(0);
  });

  it('never hands an item out before its due time; rounds up to the slot end', async () => {
    const { time, wheel, fired } = setup();
    wheel.schedule('a', T0 + 1500);
    await time.advance(1999);
    expect(fired).toEqual([]);
    await time.advance(1);
    expect(fired).toEqual([{ at: 2000, items: ['a'] }]);
  });

  it('moves a rescheduled item and cancels the timer once empty', async () => {
    const { time, wheel, fired } = setup();
    wheel.schedule('a', T0 + 5000);
    wheel.schedule('a', T0 + 2000); // earlier: re-armed
    expect(wheel.nextFireAt).toBe(T0 + 2000);
    wheel.schedule('a', T0 + 9000); // later
    expect(wheel.size).toBe(1);
    await time.advance(8000);
    expect(fired).toEqual([]);
    wheel.cancel('a');
    expect(time.pendingTimers()).toBe(0);
    expect(wheel.nextFireAt).toBeUndefined();
  });

  it('fires an item already past due at the next advance', async () => {
    const { time, wheel, fired } = setup();
    await time.advance(10_000);
    wheel.schedule('late', T0 + 3000);
    await time.advance(0);
    expect(fired).toEqual([{ at: 10_000, items: ['late'] }]);
  });

  it('an item put back for a processed slot goes to the next slot (no tight loop)', async () => {
    const { time, wheel, fired, setOnDue } = setup();
    let rounds = 0;
    setOnDue((items, now) => {
      fired.push({ at: now - T0, items });
      if (++rounds < 3) wheel.schedule(items[0]!, now - 5000); // "still due": would loop forever
    });
    wheel.schedule('x', T0 + 1000);
    await time.advance(10_000);
    expect(fired.map((f) => f.at)).toEqual([1000, 2000, 3000]);
  });

  it('re-arms once per firing, however many items are put back', async () => {
    const { time, wheel, setOnDue } = setup();
    let created = 0;
    const orig = time.setTimeout.bind(time);
    time.setTimeout = (fn, ms) => (created++, orig(fn, ms));
    setOnDue((items, now) => {
      // put back in descending order: each would re-arm for an earlier slot
      items.forEach((it, i) => wheel.schedule(it, now + 1000 * (items.length - i)));
    });
    for (let i = 0; i < 20; i++) wheel.schedule(`s${i}`, T0 + 1000);
    expect(created).toBe(1);
    await time.advance(1000);
    expect(created).toBe(2);
    expect(wheel.nextFireAt).toBe(T0 + 2000);
  });

  it('a callback that throws does not stop the wheel', async () => {
    const { time, wheel, fired, setOnDue } = setup();
    setOnDue((items, now) => {
      fired.push({ at: now - T0, items });
      throw new Error('boom');
    });
    wheel.schedule('a', T0 + 1000);
    wheel.schedule('b', T0 + 2000);
    await time.advance(3000);
    expect(fired.map((f) => f.items)).toEqual([['a'], ['b']]);
  });

  it('supports other resolutions', async () => {
    const { time, wheel, fired } = setup(250);
    wheel.schedule('a', T0 + 260);
    await time.advance(1000);
    expect(fired).toEqual([{ at: 500, items: ['a'] }]);
    expect(() => new DeadlineWheel<string>(time, time, 0, () => undefined)).toThrow(RangeError);
  });
});
