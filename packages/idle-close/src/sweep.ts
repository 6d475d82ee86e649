/**
 * {@link IdleCloseSweepImpl}: decides *when* a stream is idle and has it closed through
 * {@link SessionCloser} (the core handshake). One shared periodic sweep on the core `Scheduler`
 * for every watched stream — no timer per stream, and no timer at all while nothing is watched.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Clock,
  Logger,
  Priority,
  Scheduler,
  type Clock as ClockT,
  type Logger as LoggerT,
  type Scheduler as SchedulerT,
  type StreamContext,
  type StreamListener,
  type Timer,
  type XmlStream,
} from '@strand/core';
import { IdleActivityKey, idleSince } from './activity.js';
import { IdleCloseConfig, type IdleCloseConfig as IdleCloseConfigT } from './config.js';
import { SessionCloser, type SessionCloser as SessionCloserT } from './session-closer.js';

/** The reason idle closes carry (`CloseInfo.reason`, logs, metrics). */
export const IDLE_REASON = 'idle';

/** Bounds of the sweep period, **milliseconds** (a quarter of the shortest limit in between). */
export const SWEEP_MIN_MS = 250;
export const SWEEP_MAX_MS = 30_000;

/**
 * The idle policy, as a {@link StreamListener} at {@link Priority.stream.IDLE_CLOSE}:
 * - `onAuthenticated`: a c2s stream (after SASL) or component stream (after its handshake) whose
 *   kind has a non-zero limit is watched.
 * - every sweep period: a watched, open stream whose peer has sent no stanza (see
 *   `activity.ts` for what counts) for at least its limit is closed with
 *   `SessionCloser.closeStream(stream, { reason: 'idle' })` — no error element, the plain handshake.
 *   A stream is closed between its limit and its limit plus one sweep period.
 * - `onClosing`/`onClosed`: the stream is no longer watched.
 *
 * Override {@link IdleCloseSweepImpl.limitMs} (e.g. to exempt monitoring accounts) or
 * {@link IdleCloseSweepImpl.sweepIntervalMs} in a subclass and `rebind(IdleCloseSweepImpl)` to it.
 */
@injectable()
export class IdleCloseSweepImpl implements StreamListener {
  readonly priority: number = Priority.stream.IDLE_CLOSE;
  /** Streams being watched. */
  protected readonly watched = new Set<XmlStream>();
  private timer: Timer | undefined;

  constructor(
    @inject(IdleCloseConfig) protected readonly config: IdleCloseConfigT,
    @inject(SessionCloser) protected readonly closer: SessionCloserT,
    @inject(Scheduler) protected readonly scheduler: SchedulerT,
    @inject(Clock) protected readonly clock: ClockT,
    @inject(Logger) protected readonly logger: LoggerT,
  ) {}

  /** Number of streams being watched (tests, diagnostics). */
  get watchedCount(): number {
    return this.watched.size;
  }

  onAuthenticated(ctx: StreamContext): void {
    const stream = ctx.stream;
    if (stream.state === 'closing' || stream.state === 'closed' || this.watched.has(stream)) return;
    if (this.limitMs(stream) <= 0) return;
    stream.slots.set(IdleActivityKey, { activityAt: stream.lastStanzaAt });
    this.watched.add(stream);
    this.ensureTimer();
  }

  onClosing(ctx: StreamContext): void {
    this.unwatch(ctx.stream);
  }

  onClosed(ctx: StreamContext): void {
    this.unwatch(ctx.stream);
  }

  /**
   * The idle limit of `stream` in **milliseconds**, 0 = never closed for idleness. Default:
   * `c2sIdle` for authenticated c2s streams, `componentIdle` for authenticated component streams.
   * Asked when the stream authenticates (0 then: the stream is never watched) and again at every
   * sweep (0 then: skipped this time), so an override may depend on the stream's current state.
   */
  protected limitMs(stream: XmlStream): number {
    if (!stream.authenticatedJid) return 0;
    return (stream.kind === 'component' ? this.config.componentIdle : this.config.c2sIdle) * 1000;
  }

  /**
   * Period of the shared sweep, **milliseconds**: a quarter of the shortest non-zero limit, within
   * [{@link SWEEP_MIN_MS}, {@link SWEEP_MAX_MS}] — at most 25 % late for short limits, 30 s for long ones.
   */
  protected sweepIntervalMs(): number {
    const limits = [this.config.c2sIdle, this.config.componentIdle].filter((s) => s > 0).map((s) => s * 1000);
    const shortest = limits.length ? Math.min(...limits) : SWEEP_MAX_MS;
    return Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(shortest / 4)));
  }

  /** One sweep: closes every watched stream that has been idle for its limit. */
  protected sweep(): void {
    const now = this.clock.now();
    for (const stream of [...this.watched]) {
      if (stream.state === 'closing' || stream.state === 'closed') {
        this.unwatch(stream);
        continue;
      }
      if (stream.state !== 'open') continue; // mid-restart
      const limitMs = this.limitMs(stream);
      if (limitMs <= 0) continue;
      const idleMs = now - idleSince(stream);
      if (idleMs < limitMs) continue;
      this.unwatch(stream);
      this.closeIdle(stream, idleMs, limitMs);
    }
  }

  /** Closes an idle stream through the {@link SessionCloser} (never awaited by the sweep). */
  protected closeIdle(stream: XmlStream, idleMs: number, limitMs: number): void {
    this.closer
      .closeStream(stream, {
        reason: IDLE_REASON,
        details: { idleSeconds: Math.round(idleMs / 100) / 10, limitSeconds: limitMs / 1000 },
      })
      .catch((err: unknown) => this.logger.error({ err, connectionId: stream.connectionId }, 'idle close failed'));
  }

  private unwatch(stream: XmlStream): void {
    if (!this.watched.delete(stream)) return;
    if (this.watched.size === 0) {
      this.timer?.cancel();
      this.timer = undefined;
    }
  }

  private ensureTimer(): void {
    if (this.timer?.active) return;
    this.timer = this.scheduler.setInterval(() => this.sweep(), this.sweepIntervalMs());
  }
}
