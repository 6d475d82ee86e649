/**
 * The outbound "unacknowledged" queue of XEP-0198 §4 ("Keep an integer X … put the stanza (paired
 * with the current value of X) in an unacknowledged queue … all stanzas whose paired value is less
 * than or equal to the value of 'h' can be removed").
 *
 * The queue never stores sequence numbers: the stanza at position `i` (0 = oldest) carries the
 * number `acked + 1 + i` modulo 2^32. It is a deque over one array with a moving head, so an ack
 * removes stanzas in O(1) amortised per stanza — acknowledging one stanza costs the same at
 * depth 10 000 as at depth 10 (no `Array.prototype.shift` copy).
 *
 * @packageDocumentation
 */
import { add32, classifyAck, inc32, isUint32, type AckClassification } from './counters.js';

/** Compact the backing array once this many slots at its front are dead and they are the majority. */
const COMPACT_THRESHOLD = 1024;

/** The result of {@link UnackedQueue.ack}. */
export type AckResult<T> =
  | { readonly kind: 'ok'; readonly removed: readonly T[] }
  | { readonly kind: 'too-high'; readonly h: number; readonly sendCount: number }
  | { readonly kind: 'stale'; readonly behind: number };

/** Snapshot of the queue counters, for serialisation. */
export interface UnackedQueueCounters {
  /** The last acknowledged outbound count (the last valid `h` received), modulo 2^32. */
  readonly acked: number;
}

/**
 * Outbound stanzas sent (or held for sending) and not yet acknowledged, in send order.
 * @typeParam T the queued entry (a stanza with its original time, in this package)
 */
export class UnackedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private ackedCount: number;

  /** @param acked the initial acknowledged count (0 when stream management is enabled, §4) */
  constructor(acked = 0) {
    if (!isUint32(acked)) throw new RangeError(`acked must be an unsignedInt: ${acked}`);
    this.ackedCount = acked;
  }

  /**
   * Rebuilds a queue from a snapshot (slot codec, cluster hand-over).
   * @param acked the acknowledged count
   * @param items the unacknowledged entries, oldest first
   */
  static from<T>(acked: number, items: readonly T[]): UnackedQueue<T> {
    const q = new UnackedQueue<T>(acked);
    for (const item of items) q.push(item);
    return q;
  }

  /** Number of unacknowledged entries. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** The last acknowledged outbound count, modulo 2^32. */
  get acked(): number {
    return this.ackedCount;
  }

  /** The outbound count: the sequence number of the newest entry (= `acked` when empty). */
  get sent(): number {
    return add32(this.ackedCount, this.length);
  }

  /**
   * Appends an entry.
   * @returns its sequence number (the outbound count after it, modulo 2^32)
   * @throws RangeError when 2^32 − 1 entries are already unacknowledged (the counter space is full)
   */
  push(item: T): number {
    if (this.length >= 0xffff_ffff) throw new RangeError('unacked queue exhausted the 2^32 counter space');
    this.items.push(item);
    return this.sent;
  }

  /**
   * Processes an acknowledged count `h` (from `<a h/>` or `<resume h/>`, §4 and §4 "Resumption").
   * @param h the peer's handled count
   * @param limit the highest count the peer can have seen (the last sequence number actually
   *   written; defaults to {@link sent}). `h` beyond it is `too-high`.
   */
  ack(h: number, limit: number = this.sent): AckResult<T> {
    if (!isUint32(h)) throw new RangeError(`h must be an unsignedInt: ${h}`);
    const cls: AckClassification = classifyAck(h, this.ackedCount, limit);
    if (cls.kind === 'too-high') return { kind: 'too-high', h, sendCount: limit };
    if (cls.kind === 'stale') return cls;
    const n = Math.min(cls.newlyAcked, this.length);
    return { kind: 'ok', removed: this.removeFront(n) };
  }

  /** Removes and returns every entry (oldest first), acknowledging nothing. */
  drain(): T[] {
    const acked = this.ackedCount;
    const out = this.removeFront(this.length);
    // Draining is not acknowledging: the counter stays where the peer left it.
    this.ackedCount = acked;
    return out;
  }

  /** The entry at `index` (0 = oldest unacknowledged). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.length) return undefined;
    return this.items[this.head + index];
  }

  /** Sequence number of the entry at `index` (`acked + 1 + index`, modulo 2^32). */
  seqAt(index: number): number {
    return add32(this.ackedCount, index + 1);
  }

  /** Entries oldest first, with their sequence numbers. */
  *entries(): IterableIterator<{ seq: number; item: T }> {
    let seq = this.ackedCount;
    for (let i = this.head; i < this.items.length; i++) {
      seq = inc32(seq);
      yield { seq, item: this.items[i] as T };
    }
  }

  /** Entries oldest first. */
  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }

  private removeFront(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n) as T[];
    for (let i = this.head; i < this.head + n; i++) this.items[i] = undefined;
    this.head += n;
    this.ackedCount = add32(this.ackedCount, n);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= COMPACT_THRESHOLD && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}
