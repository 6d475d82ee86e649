/**
 * Events for other plugins (e.g. push notifications, XEP-0357): multi-bind a listener to
 * {@link SmEvents} through your concrete class —
 * `bind(MyPushImpl).toSelf().inSingletonScope(); bind(SmEvents).toService(MyPushImpl);`.
 * Listeners run in binding order; a listener that throws is logged and the others still run.
 * @packageDocumentation
 */
import { inject, injectable, multiInject, optional } from 'inversify';
import { Logger, notifyAll, type Logger as LoggerT, type Session } from '@strand/core';

/** Details of {@link SmEvents.onHibernated}. */
export interface SmHibernatedEvent {
  /** The SM-ID the client can resume with. */
  readonly smId: string;
  /** How long the session waits for a resume, **seconds**. */
  readonly timeoutSec: number;
  /** Outbound stanzas not acknowledged when the transport was lost. */
  readonly unacked: number;
}

/** Details of {@link SmEvents.onResumed}. */
export interface SmResumedEvent {
  readonly smId: string;
  /** Stanzas retransmitted after `<resumed/>` (unacked and held ones). */
  readonly retransmitted: number;
  /** Messages flushed from offline storage (stored while hibernating past `maxQueue`). */
  readonly flushedFromOffline: number;
  /** How long the session hibernated, **milliseconds** (0 when the old stream was still open). */
  readonly hibernatedMs: number;
}

/** Details of {@link SmEvents.onAckDelayed}. */
export interface SmAckDelayedEvent {
  /** Outbound stanzas waiting for an ack. */
  readonly unacked: number;
  /** How long our `<r/>` has been unanswered, **milliseconds**. */
  readonly waitedMs: number;
}

/** Stream management events; every method is optional. */
export interface SmEvents {
  /** The transport was lost and the session is kept for resumption (XEP-0198 §6 "unfinished stream"). */
  onHibernated?(session: Session, event: SmHibernatedEvent): void | Promise<void>;
  /** The session was resumed on a new stream and the retransmission was written. */
  onResumed?(session: Session, event: SmResumedEvent): void | Promise<void>;
  /** Our `<r/>` has been unanswered for `ackDelayed` seconds (the client may be asleep). */
  onAckDelayed?(session: Session, event: SmAckDelayedEvent): void | Promise<void>;
}
/** Multi-bound DI token of {@link SmEvents} listeners. */
export const SmEvents = Symbol.for('@strand/stream-management/SmEvents');

/** Dispatches events to every bound {@link SmEvents} listener. */
@injectable()
export class SmEventBusImpl {
  constructor(
    @multiInject(SmEvents) @optional() private readonly listeners: SmEvents[] = [],
    @inject(Logger) private readonly logger: LoggerT,
  ) {}

  /** Notifies every listener of `event`; never throws. */
  async emit<K extends keyof SmEvents>(
    event: K,
    ...args: NonNullable<SmEvents[K]> extends (...a: infer A) => unknown ? A : never
  ): Promise<void> {
    await notifyAll(this.listeners ?? [], event, this.logger, ...args);
  }
}
