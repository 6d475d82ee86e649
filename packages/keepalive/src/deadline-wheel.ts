/**
 * A timer wheel keyed by due time, on ONE scheduler timer.
 * @packageDocumentation
 */
import type { Clock, Logger, Scheduler, Timer } from '@strand/core';

/** A binary min-heap of numbers (slot indices). Duplicates allowed; stale entries are skipped by the wheel. */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): number | undefined {
    return this.a[0];
  }
  push(v: number): void {
    const a = this.a;
    a.push(v);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]! < a[l]! ? r : l;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Buckets items by due time into slots of `resolutionMs` (slot `k` covers `((k-1)·res, k·res]`,
 * epoch-aligned) and keeps exactly one {@link Scheduler} timer, armed for the earliest occupied
 * slot. When it fires, every item of every slot that is due is handed to `onDue` at once.
 *
 * Items are re-scheduled only when something *decides* a new deadline (a keepalive was sent, an
 * interval was negotiated, a ping went out) — never on every write: the owner evaluates the real
 * condition (`lastWriteAt`, `lastReadAt`) when an item comes due and simply schedules it again
 * when the deadline has moved. No timer churn, O(due items) work per firing, no timer at all while
 * the wheel is empty.
 *
 * An item is never handed out before its due time; it is late by less than one slot (plus timer
 * latency). An item scheduled for a slot that was already processed goes to the next slot.
 */
export class DeadlineWheel<T> {
  private readonly slots = new Map<number, Set<T>>();
  private readonly slotOfItem = new Map<T, number>();
  private readonly heap = new MinHeap();
  private timer: Timer | undefined;
  private timerSlot: number | undefined;
  /** Highest slot handed out so far. */
  private processed = -Infinity;
  /** True while `onDue` runs: the timer is armed once, afterwards. */
  private firing = false;

  /**
   * @param onDue receives the due items (each removed from the wheel first) and the current time
   */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly clock: Clock,
    readonly resolutionMs: number,
    private readonly onDue: (items: T[], now: number) => void,
    private readonly logger?: Logger,
  ) {
    if (!(resolutionMs >= 1)) throw new RangeError(`DeadlineWheel: resolutionMs must be ≥ 1, got ${resolutionMs}`);
  }

  /** Number of scheduled items. */
  get size(): number {
    return this.slotOfItem.size;
  }

  /** True when `item` is scheduled. */
  has(item: T): boolean {
    return this.slotOfItem.has(item);
  }

  /** When the single timer fires next (epoch ms), or undefined when the wheel is empty. */
  get nextFireAt(): number | undefined {
    return this.timerSlot === undefined ? undefined : this.timerSlot * this.resolutionMs;
  }

  /** Schedules (or moves) `item` for `dueAt` (epoch ms). */
  schedule(item: T, dueAt: number): void {
    let slot = Math.ceil(dueAt / this.resolutionMs);
    if (!Number.isFinite(slot)) throw new RangeError(`DeadlineWheel: invalid due time ${dueAt}`);
    if (slot <= this.processed) slot = this.processed + 1;
    const current = this.slotOfItem.get(item);
    if (current === slot) return;
    if (current !== undefined) this.removeFromSlot(item, current);
    let set = this.slots.get(slot);
    if (!set) {
      set = new Set();
      this.slots.set(slot, set);
      this.heap.push(slot);
    }
    set.add(item);
    this.slotOfItem.set(item, slot);
    this.arm();
  }

  /** Removes `item`; cancels the timer when nothing is left. */
  cancel(item: T): void {
    const slot = this.slotOfItem.get(item);
    if (slot === undefined) return;
    this.removeFromSlot(item, slot);
    this.arm();
  }

  /** Removes everything and cancels the timer. */
  clear(): void {
    this.slots.clear();
    this.slotOfItem.clear();
    while (this.heap.size) this.heap.pop();
    this.timer?.cancel();
    this.timer = undefined;
    this.timerSlot = undefined;
  }

  private removeFromSlot(item: T, slot: number): void {
    this.slotOfItem.delete(item);
    const set = this.slots.get(slot);
    if (!set) return;
    set.delete(item);
    if (set.size === 0) this.slots.delete(slot); // its heap entry is skipped lazily
  }

  /** The earliest occupied slot, dropping stale heap entries. */
  private earliest(): number | undefined {
    while (this.heap.size > 0) {
      const top = this.heap.peek()!;
      if (this.slots.has(top)) return top;
      this.heap.pop();
    }
    return undefined;
  }

  private arm(): void {
    if (this.firing) return;
    const slot = this.earliest();
    if (slot === this.timerSlot && this.timer?.active) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerSlot = undefined;
    if (slot === undefined) return;
    this.timerSlot = slot;
    this.timer = this.scheduler.setTimeout(() => this.fire(), slot * this.resolutionMs - this.clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.timerSlot = undefined;
    const now = this.clock.now();
    // Slots whose whole span has passed; a timer that fires a little early re-arms for the same slot.
    const limit = Math.floor(now / this.resolutionMs);
    const due: T[] = [];
    for (let slot = this.earliest(); slot !== undefined && slot <= limit; slot = this.earliest()) {
      this.heap.pop();
      const set = this.slots.get(slot);
      this.slots.delete(slot);
      if (!set) continue;
      for (const item of set) {
        this.slotOfItem.delete(item);
        due.push(item);
      }
    }
    if (limit > this.processed) this.processed = limit;
    this.firing = true;
    try {
      if (due.length > 0) this.onDue(due, now);
    } catch (err) {
      this.logger?.error({ err }, 'keepalive deadline processing failed');
    } finally {
      this.firing = false;
      this.arm();
    }
  }
}
