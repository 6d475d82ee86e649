import { describe, it, expect } from '@jest/globals';
import { FakeTime, TestLogger, DEFAULT_START_MS } from '@strand/testing';

describe('FakeTime', () => {
  it('starts at the given epoch and only moves on advance', async () => {
    const t = new FakeTime({ start: 1_000 });
    expect(t.now()).toBe(1_000);
    await t.advance(250);
    expect(t.now()).toBe(1_250);
    expect(t.elapsed).toBe(250);
    expect(new FakeTime().now()).toBe(DEFAULT_START_MS);
  });

  it('fires due timers in time order, reading each due time on the clock', async () => {
    const t = new FakeTime({ start: 0 });
    const seen: string[] = [];
    t.setTimeout(() => void seen.push(`b@${t.now()}`), 200);
    t.setTimeout(() => void seen.push(`a@${t.now()}`), 100);
    t.setTimeout(() => void seen.push(`a2@${t.now()}`), 100); // same instant: scheduling order
    t.setTimeout(() => void seen.push(`c@${t.now()}`), 300);
    await t.advance(250);
    expect(seen).toEqual(['a@100', 'a2@100', 'b@200']);
    expect(t.now()).toBe(250);
    expect(t.pendingTimers()).toBe(1);
    await t.advance(50);
    expect(seen).toEqual(['a@100', 'a2@100', 'b@200', 'c@300']);
    expect(t.pendingTimers()).toBe(0);
  });

  it('fires timers scheduled by callbacks during the same advance', async () => {
    const t = new FakeTime({ start: 0 });
    const seen: number[] = [];
    t.setTimeout(() => {
      seen.push(t.now());
      t.setTimeout(() => {
        seen.push(t.now());
        t.setTimeout(() => void seen.push(t.now()), 0);
      }, 50);
    }, 100);
    await t.advance(1_000);
    expect(seen).toEqual([100, 150, 150]);
  });

  it('repeats intervals and stops them on cancel', async () => {
    const t = new FakeTime({ start: 0 });
    const ticks: number[] = [];
    const timer = t.setInterval(() => {
      ticks.push(t.now());
      if (ticks.length === 3) timer.cancel();
    }, 1_000);
    expect(timer.active).toBe(true);
    await t.advance(10_000);
    expect(ticks).toEqual([1_000, 2_000, 3_000]);
    expect(timer.active).toBe(false);
    expect(t.pendingTimers()).toBe(0);
  });

  it('awaits async callbacks (microtasks flushed between timers)', async () => {
    const t = new FakeTime({ start: 0 });
    const seen: string[] = [];
    t.setTimeout(async () => {
      await Promise.resolve();
      await Promise.resolve();
      seen.push('first-done');
    }, 10);
    t.setTimeout(() => void seen.push('second'), 10);
    await t.advance(10);
    expect(seen).toEqual(['first-done', 'second']);
  });

  it('does not deadlock on a callback awaiting a later fake timer', async () => {
    const t = new FakeTime({ start: 0 });
    const seen: number[] = [];
    t.setTimeout(async () => {
      await new Promise<void>((r) => t.setTimeout(r, 500));
      seen.push(t.now());
    }, 100);
    await t.advance(200);
    expect(seen).toEqual([]);
    await t.advance(400);
    expect(seen).toEqual([600]);
  });

  it('logs throwing and rejecting callbacks and keeps going', async () => {
    const logs = new TestLogger();
    const t = new FakeTime({ start: 0, logger: logs });
    let ran = false;
    t.setTimeout(() => {
      throw new Error('sync boom');
    }, 1);
    t.setTimeout(async () => {
      throw new Error('async boom');
    }, 2);
    t.setTimeout(() => {
      ran = true;
    }, 3);
    await t.advance(3);
    expect(ran).toBe(true);
    expect(logs.find('error', 'scheduled task failed')).toHaveLength(2);
    expect(logs.has('error', /async boom/)).toBe(true);
  });

  it('cancels timers, counts pending ones, hides internal timers unless asked', async () => {
    const t = new FakeTime({ start: 0 });
    const a = t.setTimeout(() => undefined, 100);
    t.schedule(() => undefined, 100, { internal: true, label: 'host' });
    expect(t.pendingTimers()).toBe(1);
    expect(t.pendingTimers({ includeInternal: true })).toBe(2);
    a.cancel();
    a.cancel(); // idempotent
    expect(a.active).toBe(false);
    expect(t.pendingTimers()).toBe(0);
    expect(t.timers({ includeInternal: true })).toEqual([
      { id: expect.any(Number), dueAt: 100, intervalMs: undefined, label: 'host', internal: true },
    ]);
  });

  it('advanceTo / advanceToNextTimer / refuses going back and re-entrant advance', async () => {
    const t = new FakeTime({ start: 0 });
    let fired = 0;
    t.setTimeout(() => void fired++, 700);
    expect(await t.advanceToNextTimer()).toBe(true);
    expect(t.now()).toBe(700);
    expect(fired).toBe(1);
    expect(await t.advanceToNextTimer()).toBe(false);
    await expect(t.advanceTo(10)).rejects.toThrow(/before now/);
    let inner: unknown;
    t.setTimeout(async () => {
      try {
        await t.advance(1);
      } catch (err) {
        inner = err;
      }
    }, 1);
    await t.advance(1);
    expect(String(inner)).toMatch(/already running/);
  });

  it('zero-delay timers fire on advance(0)', async () => {
    const t = new FakeTime({ start: 0 });
    let fired = false;
    t.setTimeout(() => {
      fired = true;
    }, 0);
    expect(fired).toBe(false);
    await t.advance(0);
    expect(fired).toBe(true);
  });
});
