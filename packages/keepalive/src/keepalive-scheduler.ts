/**
 * The keepalive scheduler: one {@link DeadlineWheel} (one `Scheduler` timer) for every watched
 * stream's next keepalive, silence limit and ping deadline.
 * @packageDocumentation
 */
import { inject, injectable, preDestroy } from 'inversify';
import {
  Clock,
  Logger,
  Scheduler,
  type Clock as ClockT,
  type Logger as LoggerT,
  type Scheduler as SchedulerT,
  type XmlStream,
} from '@strand/core';
import { DeadlineWheel } from './deadline-wheel.js';
import { DeadPeerDetectorImpl } from './dead-peer.js';
import { KeepalivePolicyImpl } from './interval-policy.js';
import { WhitespaceKeepaliveImpl } from './whitespace.js';

/**
 * Granularity of keepalive deadlines, **ms**. A deadline is checked at the end of its 100 ms slot,
 * so a keepalive comes less than 0.1 s (plus timer latency) after the interval. A 1 s grid would
 * add up to a whole second per cycle: the keepalive written at `slot + latency` makes the next
 * deadline fall just past the following slot boundary (1 s intervals would become 2 s).
 */
export const KEEPALIVE_RESOLUTION_MS = 100;

/**
 * Watches authenticated client streams. For each it keeps one entry in a timer wheel keyed by the
 * stream's next deadline (`lastWriteAt + interval`, `lastReadAt + silence limit`, the ping
 * deadline); when the entry comes due, the real condition is checked against
 * `lastWriteAt`/`lastReadAt` *then*, and the entry is put back at the stream's new next deadline.
 * Writes never touch a timer.
 */
@injectable()
export class KeepaliveSchedulerImpl {
  private readonly watched = new Set<XmlStream>();
  private readonly wheel: DeadlineWheel<XmlStream>;

  constructor(
    @inject(Scheduler) scheduler: SchedulerT,
    @inject(Clock) clock: ClockT,
    @inject(Logger) logger: LoggerT,
    @inject(KeepalivePolicyImpl) private readonly policy: KeepalivePolicyImpl,
    @inject(WhitespaceKeepaliveImpl) private readonly whitespace: WhitespaceKeepaliveImpl,
    @inject(DeadPeerDetectorImpl) private readonly deadPeer: DeadPeerDetectorImpl,
  ) {
    this.wheel = new DeadlineWheel<XmlStream>(
      scheduler,
      clock,
      KEEPALIVE_RESOLUTION_MS,
      (streams, now) => {
        for (const s of streams) {
          try {
            this.check(s, now);
          } catch (err) {
            logger.error({ err, connectionId: s.connectionId }, 'keepalive check failed');
          }
        }
      },
      logger,
    );
  }

  /** Number of watched streams. */
  get size(): number {
    return this.watched.size;
  }

  /** True when `stream` is watched. */
  isWatched(stream: XmlStream): boolean {
    return this.watched.has(stream);
  }

  /** When the shared timer fires next (epoch ms), or undefined when nothing is due. */
  get nextFireAt(): number | undefined {
    return this.wheel.nextFireAt;
  }

  /**
   * Starts watching `stream` (idempotent), or re-evaluates its deadlines when it is watched: call
   * it whenever the policy of a stream may have changed (negotiation, resumption, ping sent).
   */
  watch(stream: XmlStream): void {
    if (stream.state === 'closing' || stream.state === 'closed') return;
    this.watched.add(stream);
    this.reschedule(stream);
  }

  /** Re-evaluates the next deadline of a watched stream (no-op otherwise). */
  reschedule(stream: XmlStream): void {
    if (!this.watched.has(stream)) return;
    const policy = this.policy.of(stream);
    const a = this.whitespace.nextDue(stream, policy);
    const b = this.deadPeer.nextDue(stream, policy);
    const next = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    if (next === undefined) this.wheel.cancel(stream);
    else this.wheel.schedule(stream, next);
  }

  /** Stops watching `stream` (closing, closed). */
  unwatch(stream: XmlStream): void {
    this.watched.delete(stream);
    this.wheel.cancel(stream);
  }

  /** The checks of one due stream: dead peer first, then a keepalive, then its next deadline. */
  protected check(stream: XmlStream, now: number): void {
    if (!this.watched.has(stream)) return;
    if (stream.state === 'closing' || stream.state === 'closed') {
      this.unwatch(stream);
      return;
    }
    const policy = this.policy.of(stream);
    if (this.deadPeer.check(stream, policy, now)) {
      this.unwatch(stream);
      return;
    }
    this.whitespace.check(stream, policy, now);
    this.reschedule(stream);
  }

  /** Container teardown: drop the timer. */
  @preDestroy()
  dispose(): void {
    this.watched.clear();
    this.wheel.clear();
  }
}
