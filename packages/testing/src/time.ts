/**
 * Fake time: one object that is both the host's {@link Clock} and its {@link Scheduler}.
 * Nothing happens until a test moves time with {@link FakeTime.advance}.
 */
import type { Clock, Logger, Scheduler, Timer } from '@strand/core';
import { silentLogger } from '@strand/core';

/** Default start of fake time: 2024-01-01T00:00:00.000Z. */
export const DEFAULT_START_MS = Date.UTC(2024, 0, 1);

/**
 * Lets every pending promise continuation run: waits `rounds` turns of the Node event loop
 * (`setImmediate`). Node drains the whole microtask queue before each turn, so one round settles
 * every purely promise-based chain; more rounds also cover code that itself yields to the loop.
 */
export async function flushMicrotasks(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Options of {@link FakeTime.schedule}. */
export interface ScheduleOptions {
  /** Repeat every `intervalMs` after the first firing. */
  intervalMs?: number;
  /** A name shown by {@link FakeTime.timers} (debugging). */
  label?: string;
  /**
   * Host-internal timer (read timeout, close handshake, `nextSent` timeouts): not counted by
   * {@link FakeTime.pendingTimers} unless asked for.
   */
  internal?: boolean;
}

/** A pending fake timer, as listed by {@link FakeTime.timers}. */
export interface FakeTimerInfo {
  readonly id: number;
  /** When it fires next (epoch ms). */
  readonly dueAt: number;
  readonly intervalMs: number | undefined;
  readonly label: string | undefined;
  readonly internal: boolean;
}

interface Entry {
  id: number;
  /** Tie-breaker among timers due at the same instant: scheduling order. */
  seq: number;
  dueAt: number;
  intervalMs: number | undefined;
  fn: () => void | Promise<void>;
  active: boolean;
  label: string | undefined;
  internal: boolean;
}

/** Options of the {@link FakeTime} constructor. */
export interface FakeTimeOptions {
  /** Initial time (epoch ms). Default {@link DEFAULT_START_MS}. */
  start?: number;
  /** Where failing callbacks are logged (`error` level, like the real scheduler). */
  logger?: Logger;
  /** Event-loop turns to flush after each fired timer (see {@link flushMicrotasks}). Default 3. */
  flushRounds?: number;
  /** Safety net against timers that keep rescheduling themselves at `now`. Default 100 000. */
  maxTimersPerAdvance?: number;
}

/**
 * Fake {@link Clock} and {@link Scheduler}.
 *
 * `await time.advance(ms)` fires every timer that becomes due, in time order (ties in scheduling
 * order), including timers scheduled by callbacks during the advance and repeated intervals. The
 * clock reads each timer's due time while its callback runs. After each callback the event loop
 * is flushed, so async callbacks run as far as they can without time passing: a callback that
 * awaits another fake timer simply continues when a later advance fires it (no deadlock).
 * Callbacks that throw or reject are logged and never stop the advance.
 */
export class FakeTime implements Clock, Scheduler {
  private current: number;
  private readonly startMs: number;
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;
  private seq = 0;
  private advancing = false;
  private readonly flushRounds: number;
  private readonly maxTimersPerAdvance: number;
  /** Where failing callbacks are logged; the test host sets its capturing logger here. */
  logger: Logger;

  constructor(options: FakeTimeOptions = {}) {
    this.startMs = options.start ?? DEFAULT_START_MS;
    this.current = this.startMs;
    this.logger = options.logger ?? silentLogger;
    this.flushRounds = options.flushRounds ?? 3;
    this.maxTimersPerAdvance = options.maxTimersPerAdvance ?? 100_000;
  }

  /** Current fake time (epoch ms). */
  now(): number {
    return this.current;
  }

  /** The time this clock started at (epoch ms). */
  get start(): number {
    return this.startMs;
  }

  /** Milliseconds elapsed since {@link FakeTime.start}. */
  get elapsed(): number {
    return this.current - this.startMs;
  }

  /** {@link Scheduler.setTimeout} on fake time; a delay ≤ 0 fires at the next advance (even `advance(0)`). */
  setTimeout(fn: () => void | Promise<void>, delayMs: number): Timer {
    return this.schedule(fn, delayMs);
  }

  /** {@link Scheduler.setInterval} on fake time (interval clamped to ≥ 1 ms, like the real one). */
  setInterval(fn: () => void | Promise<void>, intervalMs: number): Timer {
    const every = Math.max(1, intervalMs);
    return this.schedule(fn, every, { intervalMs: every });
  }

  /** Schedules a timer with extra options (labels, host-internal timers). */
  schedule(fn: () => void | Promise<void>, delayMs: number, options: ScheduleOptions = {}): Timer {
    const entry: Entry = {
      id: this.nextId++,
      seq: this.seq++,
      dueAt: this.current + (Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs)),
      intervalMs: options.intervalMs !== undefined ? Math.max(1, options.intervalMs) : undefined,
      fn,
      active: true,
      label: options.label,
      internal: options.internal ?? false,
    };
    this.entries.set(entry.id, entry);
    const entries = this.entries;
    return {
      cancel: () => {
        entry.active = false;
        entries.delete(entry.id);
      },
      get active() {
        return entry.active;
      },
    };
  }

  /**
   * Number of pending timers. Host-internal timers (read timeouts, close handshakes, `nextSent`
   * timeouts) are left out unless `includeInternal` is set.
   */
  pendingTimers(options: { includeInternal?: boolean } = {}): number {
    let n = 0;
    for (const e of this.entries.values()) if (options.includeInternal || !e.internal) n++;
    return n;
  }

  /** The pending timers, soonest first (for debugging and precise assertions). */
  timers(options: { includeInternal?: boolean } = {}): FakeTimerInfo[] {
    return this.sorted()
      .filter((e) => options.includeInternal || !e.internal)
      .map((e) => ({ id: e.id, dueAt: e.dueAt, intervalMs: e.intervalMs, label: e.label, internal: e.internal }));
  }

  /** When the next timer fires (epoch ms), or undefined when none is pending. */
  nextDueAt(options: { includeInternal?: boolean } = { includeInternal: true }): number | undefined {
    const e = this.sorted().find((x) => options.includeInternal || !x.internal);
    return e?.dueAt;
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`FakeTime.advance: ms must be ≥ 0, got ${ms}`);
    await this.advanceTo(this.current + ms);
  }

  /** Moves time forward to `epochMs`, firing due timers in order. */
  async advanceTo(epochMs: number): Promise<void> {
    if (epochMs < this.current) {
      throw new RangeError(`FakeTime.advanceTo: ${epochMs} is before now (${this.current}); time never goes back`);
    }
    if (this.advancing) {
      throw new Error('FakeTime.advance is already running (do not advance from a timer callback or concurrently)');
    }
    this.advancing = true;
    try {
      // Let work started before the advance (e.g. an un-awaited receive) settle at the current time.
      await flushMicrotasks(this.flushRounds);
      let fired = 0;
      for (;;) {
        const next = this.sorted()[0];
        if (!next || next.dueAt > epochMs) break;
        if (++fired > this.maxTimersPerAdvance) {
          throw new Error(`FakeTime: more than ${this.maxTimersPerAdvance} timers fired in one advance (runaway timer?)`);
        }
        this.current = Math.max(this.current, next.dueAt);
        await this.fire(next);
      }
      this.current = epochMs;
      await flushMicrotasks(this.flushRounds);
    } finally {
      this.advancing = false;
    }
  }

  /**
   * Advances to the next pending timer (internal ones included) and fires everything due then.
   * @returns false when no timer was pending.
   */
  async advanceToNextTimer(): Promise<boolean> {
    const at = this.nextDueAt();
    if (at === undefined || !Number.isFinite(at)) return false;
    await this.advanceTo(at);
    return true;
  }

  /** Flushes pending promise continuations without moving time. */
  async flush(): Promise<void> {
    await flushMicrotasks(this.flushRounds);
  }

  private sorted(): Entry[] {
    return [...this.entries.values()].sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
  }

  private async fire(entry: Entry): Promise<void> {
    if (entry.intervalMs !== undefined) {
      entry.dueAt += entry.intervalMs;
      entry.seq = this.seq++;
    } else {
      entry.active = false;
      this.entries.delete(entry.id);
    }
    try {
      const r = entry.fn();
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(undefined, (err: unknown) =>
          this.logger.error({ err, timer: entry.label }, 'scheduled task failed'),
        );
      }
    } catch (err) {
      this.logger.error({ err, timer: entry.label }, 'scheduled task failed');
    }
    await flushMicrotasks(this.flushRounds);
  }
}
