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
 * By default the lock is re-entrant per async context (`AsyncLocalStorage`): a send started from
 * inside a locked section (an inner interceptor sending another stanza to the same session and
 * awaiting it) runs at once instead of deadlocking. That costs: on Node 20 the first
 * `AsyncLocalStorage.run` turns on promise hooks for the whole process, for good (~10 % of the CPU
 * time of a message in the throughput benchmark). A lock created with `{ reentrant: false }` never
 * touches `AsyncLocalStorage`: a plain FIFO mutex, for callers that never await a nested `run` of
 * the same lock from inside a locked section (stream management uses it when no other outbound
 * interceptor exists, so that nothing can run inside its locked sends).
 * @packageDocumentation
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const held = new AsyncLocalStorage<ReadonlySet<SerialLock>>();

/** Options of {@link SerialLock}. */
export interface SerialLockOptions {
  /**
   * Nested `run` calls from inside a locked section run at once (default `true`; needs
   * `AsyncLocalStorage`). With `false`, a nested `run` of the same lock waits like any other: it
   * deadlocks when the holder awaits it.
   */
  readonly reentrant?: boolean;
}

/** FIFO mutex, by default re-entrant per async context. */
export class SerialLock {
  private busy = false;
  private readonly waiters: Array<() => void> = [];
  /** Whether nested runs are detected (through `AsyncLocalStorage`). */
  readonly reentrant: boolean;

  constructor(options: SerialLockOptions = {}) {
    this.reentrant = options.reentrant ?? true;
  }

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
   * order. Inside `fn`, nested `run` calls on the same lock run immediately (unless created with
   * `reentrant: false`).
   */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.reentrant) return this.runReentrant(fn);
    // Plain FIFO, with as few promises as possible: this runs for every outbound stanza.
    if (this.busy) return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => this.invoke(fn));
    this.busy = true;
    return this.invoke(fn);
  }

  /** Runs `fn` while holding the lock, and releases it when `fn` settles. */
  private invoke<T>(fn: () => T | Promise<T>): Promise<T> {
    let result: T | Promise<T>;
    try {
      result = fn();
    } catch (err) {
      this.release();
      return Promise.reject(err);
    }
    // The two callbacks are made once per lock, on first use (an idle session never needs them).
    this.releaseWith ??= <V>(value: V): V => {
      this.release();
      return value;
    };
    this.releaseThrow ??= (err: unknown): never => {
      this.release();
      throw err;
    };
    return Promise.resolve(result).then(this.releaseWith, this.releaseThrow) as Promise<T>;
  }

  private releaseWith: (<V>(value: V) => V) | undefined;
  private releaseThrow: ((err: unknown) => never) | undefined;

  private async runReentrant<T>(fn: () => T | Promise<T>): Promise<T> {
    const current = held.getStore();
    if (current?.has(this)) return fn();
    if (this.busy) await new Promise<void>((resolve) => this.waiters.push(resolve));
    else this.busy = true;
    try {
      const next = new Set(current ?? []);
      next.add(this);
      return await held.run(next, fn);
    } finally {
      this.release();
    }
  }

  /** Hands the lock to the next waiter, or frees it. */
  private release(): void {
    const wake = this.waiters.shift();
    if (wake) wake();
    else this.busy = false;
  }
}
