/**
 * Prometheus metrics of `@strand/idle-close` (through core `Metrics`).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `strand_idle_close_closes_total` | counter | `kind` (`c2s`/`component`), `reason` (`idle`, or the reason a {@link SessionCloser} caller gave) |
 * | `strand_idle_close_handshakes_total` | counter | `reason`, `result` (`completed`: the peer answered with its close tag or closed TCP; `timed-out`: the socket was destroyed at the timeout, without an error element) |
 * | `strand_idle_close_handshake_seconds` | histogram | `result` — from the call to `close()` to the end of the stream |
 *
 * Only closes started by this package are counted. Reasons are label values: anything that is not
 * a short lower-case token (`[a-z][a-z0-9_-]{0,31}`) is counted as `other`, so a caller cannot
 * blow up the label cardinality.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Metrics,
  type CounterMetric,
  type HistogramMetric,
  type Metrics as MetricsT,
  type StreamKind,
} from '@strand/core';

/** How a close handshake started by this package ended. */
export type HandshakeResult = 'completed' | 'timed-out';

const REASON = /^[a-z][a-z0-9_-]{0,31}$/;

/** A reason as a bounded label value. */
export function reasonLabel(reason: string): string {
  return REASON.test(reason) ? reason : 'other';
}

/** The metrics of the plugin, created once per container. */
@injectable()
export class IdleCloseMetricsImpl {
  readonly closes: CounterMetric;
  readonly handshakes: CounterMetric;
  readonly handshakeSeconds: HistogramMetric;

  constructor(@inject(Metrics) m: MetricsT) {
    this.closes = m.counter(
      'strand_idle_close_closes_total',
      'Streams closed with the close handshake by @strand/idle-close (idle limit or SessionCloser)',
      ['kind', 'reason'],
    );
    this.handshakes = m.counter(
      'strand_idle_close_handshakes_total',
      'Close handshakes started by @strand/idle-close, by outcome',
      ['reason', 'result'],
    );
    this.handshakeSeconds = m.histogram(
      'strand_idle_close_handshake_seconds',
      'Duration of close handshakes started by @strand/idle-close',
      ['result'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    );
  }

  /** Counts one close started for `reason`. */
  closed(kind: StreamKind, reason: string): void {
    this.closes.inc({ kind, reason: reasonLabel(reason) });
  }

  /** Counts how one of our handshakes ended. */
  handshake(reason: string, result: HandshakeResult, seconds: number): void {
    this.handshakes.inc({ reason: reasonLabel(reason), result });
    this.handshakeSeconds.observe({ result }, seconds);
  }
}
