/**
 * Prometheus metrics of `@strand/keepalive` (core `Metrics`, names prefixed `strand_keepalive_`).
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { Metrics, type CounterMetric, type Metrics as MetricsT } from '@strand/core';

/** Why a stream was declared dead. */
export type DeadPeerReason = 'silence' | 'ping-timeout';

/** Outcome of one negotiation request. */
export type NegotiationResult = 'accepted' | 'not-acceptable' | 'bad-request' | 'unavailable';

/**
 * The plugin's counters, created once per container.
 *
 * | metric | labels | counts |
 * |---|---|---|
 * | `strand_keepalive_sent_total` | `mode` = `negotiated` \| `default` | keepalives written (a space on TCP, a ping frame on WebSocket) |
 * | `strand_keepalive_negotiations_total` | `result` | XEP-0304 requests by outcome |
 * | `strand_keepalive_dead_peers_total` | `reason` = `silence` \| `ping-timeout` | transports destroyed as dead peers |
 * | `strand_keepalive_pings_sent_total` | — | XEP-0199 pings sent after a read timeout |
 * | `strand_keepalive_pings_answered_total` | `type` = `result` \| `error` | pings answered by an iq result or error |
 * | `strand_keepalive_pings_unanswered_total` | — | pings with no read at all within `pingTimeout` |
 */
@injectable()
export class KeepaliveMetricsImpl {
  readonly sent: CounterMetric;
  readonly negotiations: CounterMetric;
  readonly deadPeers: CounterMetric;
  readonly pingsSent: CounterMetric;
  readonly pingsAnswered: CounterMetric;
  readonly pingsUnanswered: CounterMetric;

  constructor(@inject(Metrics) metrics: MetricsT) {
    this.sent = metrics.counter(
      'strand_keepalive_sent_total',
      'Keepalives sent (a space on TCP, a ping frame on WebSocket)',
      ['mode'],
    );
    this.negotiations = metrics.counter('strand_keepalive_negotiations_total', 'XEP-0304 negotiation requests', ['result']);
    this.deadPeers = metrics.counter('strand_keepalive_dead_peers_total', 'Transports destroyed as dead peers', ['reason']);
    this.pingsSent = metrics.counter('strand_keepalive_pings_sent_total', 'XEP-0199 pings sent after a read timeout');
    this.pingsAnswered = metrics.counter('strand_keepalive_pings_answered_total', 'XEP-0199 pings answered', ['type']);
    this.pingsUnanswered = metrics.counter(
      'strand_keepalive_pings_unanswered_total',
      'XEP-0199 pings left unanswered (nothing read) within pingTimeout',
    );
  }
}
