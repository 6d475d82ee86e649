/**
 * A per-session FIFO mutex for the outbound path.
 *
 * Stream management must record stanzas in exactly the order the client receives them, and must
 * write `<enabled/>` / `<resumed/>` at a precise point of that order (XEP-0198 §4: the outbound
 * count starts "after sending `<enabled/>`"). Outbound interceptors further inside may be async,
 * so two concurrent `Session.send` calls could otherwise finish in another order than they were
 * written. Every outbound send of an SM session, and the writing of `<enabled/>`/`<resumed/>` plus
 * the retransmission, therefore run one at a time through this lock.
 *
 * The lock is re-entrant per async context (`AsyncLocalStorage`): a send started from inside a
 * locked section (an inner interceptor sending another stanza to the same session and awaiting it)
 * runs at once instead of deadlocking.
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const held = new AsyncLocalStorage<ReadonlySet<SerialLock>>();

/** FIFO, async-context re-entrant mutex. */
export class SerialLock {
  private busy = false;
  private readonly waiters: Array<() => void> = [];

  /** True while some task holds the lock. */
  get locked(): boolean {
    return this.busy;
  }

  /** Number of tasks waiting for the lock. */
  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Runs `fn` once every task queued before it has finished; tasks run one at a time in call
   * order. Inside `fn`, nested `run` calls on the same lock run immediately.
   */
  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    const current = held.getStore();
    if (current?.has(this)) return fn();
    if (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.busy = true;
    try {
      const next = new Set(current ?? []);
      next.add(this);
      return await held.run(next, fn);
    } finally {
      const wake = this.waiters.shift();
      if (wake) wake();
      else this.busy = false;
    }
  }
}
