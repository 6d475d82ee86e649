import { describe, expect, it } from '@jest/globals';
import { SerialLock } from '../src/serial-lock.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('SerialLock', () => {
  it('runs tasks one at a time in call order, even when earlier ones are slower', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    const task = (name: string, turns: number) =>
      lock.run(async () => {
        log.push(`${name}+`);
        for (let i = 0; i < turns; i++) await tick();
        log.push(`${name}-`);
        return name;
      });
    const results = await Promise.all([task('a', 3), task('b', 0), task('c', 1)]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(lock.locked).toBe(false);
  });

  it('is re-entrant within the async context of the holder (no deadlock), not across contexts', async () => {
    const lock = new SerialLock();
    const log: string[] = [];
    const outside = new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => lock.run(() => void log.push('other')));
    await lock.run(async () => {
      log.push('outer');
      await tick();
      await lock.run(async () => {
        await tick();
        log.push('inner');
      });
      await tick();
      await tick();
      log.push('outer-end');
    });
    await outside;
    expect(log).toEqual(['outer', 'inner', 'outer-end', 'other']);
  });

  it('with reentrant: false, is a plain FIFO mutex (a nested run waits for the holder)', async () => {
    const lock = new SerialLock({ reentrant: false });
    const log: string[] = [];
    let nested: Promise<void> | undefined;
    await lock.run(async () => {
      log.push('outer');
      nested = lock.run(() => void log.push('nested'));
      await tick();
      log.push('outer-end');
    });
    await nested;
    expect(log).toEqual(['outer', 'outer-end', 'nested']);
    const order: number[] = [];
    await Promise.all([3, 0, 1].map((turns, i) => lock.run(async () => {
      for (let t = 0; t < turns; t++) await tick();
      order.push(i);
    })));
    expect(order).toEqual([0, 1, 2]);
    expect(lock.locked).toBe(false);
  });

  it('releases the lock when a task throws', async () => {
    const lock = new SerialLock();
    await expect(lock.run(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await lock.run(() => 42)).toBe(42);
    expect(lock.locked).toBe(false);
    expect(lock.waiting).toBe(0);
    const plain = new SerialLock({ reentrant: false });
    await expect(plain.run(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(await plain.run(() => 42)).toBe(42);
    expect(plain.locked).toBe(false);
  });
});
