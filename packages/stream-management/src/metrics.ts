/**
 * Prometheus metrics of stream management (through core `Metrics`).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `strand_sm_enabled_total` | counter | `version` (`sm3`/`sm2`/`sm1`), `resume` (`true`/`false`) |
 * | `strand_sm_enable_failed_total` | counter | `reason` (`unauthenticated`, `before-bind`, `second-enable`, `bad-request`, `internal-error`) |
 * | `strand_sm_resumed_total` | counter | `version` |
 * | `strand_sm_resume_failed_total` | counter | `reason` (`unknown`, `not-owner`, `expired`, `bad-request`, `unexpected-request`, `handled-count-too-high`, `attach-failed`, `rate-limited`, `internal-error`) |
 * | `strand_sm_retransmitted_total` | counter | — (unacknowledged stanzas written again after `<resumed/>`) |
 * | `strand_sm_expired_total` | counter | — |
 * | `strand_sm_hibernation_evicted_total` | counter | `scope` (`user`, `total`): the oldest hibernating session ended for a hibernation limit |
 * | `strand_sm_spilled_total` | counter | `path` (`route`: re-routed by RFC 6121 §8.5 at the end; `offline`: stored while hibernating; `bounce`; `iq-error`; `dropped`) |
 * | `strand_sm_offline_flushed_total` | counter | — |
 * | `strand_sm_ack_timeouts_total` | counter | — |
 * | `strand_sm_handled_count_too_high_total` | counter | — |
 * | `strand_sm_queue_depth` | gauge | — (stanzas queued, all sessions) |
 * | `strand_sm_hibernating_sessions` | gauge | — |
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { Metrics, type CounterMetric, type GaugeMetric, type Metrics as MetricsT } from '@strand/core';

/** The metrics of the plugin, created once per container. */
@injectable()
export class SmMetricsImpl {
  /** `strand_sm_enabled_total{version,resume}` */
  readonly enabled: CounterMetric;
  /** `strand_sm_enable_failed_total{reason}` */
  readonly enableFailed: CounterMetric;
  /** `strand_sm_resumed_total{version}` */
  readonly resumed: CounterMetric;
  /** `strand_sm_resume_failed_total{reason}` */
  readonly resumeFailed: CounterMetric;
  /** `strand_sm_retransmitted_total` */
  readonly retransmitted: CounterMetric;
  /** `strand_sm_expired_total` */
  readonly expired: CounterMetric;
  /** `strand_sm_hibernation_evicted_total{scope}` */
  readonly evicted: CounterMetric;
  /** `strand_sm_spilled_total{path}` */
  readonly spilled: CounterMetric;
  /** `strand_sm_offline_flushed_total` */
  readonly offlineFlushed: CounterMetric;
  /** `strand_sm_ack_timeouts_total` */
  readonly ackTimeouts: CounterMetric;
  /** `strand_sm_handled_count_too_high_total` */
  readonly handledCountTooHigh: CounterMetric;
  /** `strand_sm_queue_depth` (stanzas) */
  readonly queueDepth: GaugeMetric;
  /** `strand_sm_hibernating_sessions` */
  readonly hibernating: GaugeMetric;

  /** @param m the host's metrics registry */
  constructor(@inject(Metrics) m: MetricsT) {
    this.enabled = m.counter('strand_sm_enabled_total', 'Stream management sessions enabled', ['version', 'resume']);
    this.enableFailed = m.counter('strand_sm_enable_failed_total', 'Refused <enable/> requests', ['reason']);
    this.resumed = m.counter('strand_sm_resumed_total', 'Successful stream resumptions', ['version']);
    this.resumeFailed = m.counter('strand_sm_resume_failed_total', 'Failed stream resumptions', ['reason']);
    this.retransmitted = m.counter('strand_sm_retransmitted_total', 'Unacknowledged stanzas written again after <resumed/>');
    this.expired = m.counter('strand_sm_expired_total', 'Hibernated sessions whose resumption window ran out');
    this.evicted = m.counter('strand_sm_hibernation_evicted_total', 'Oldest hibernating sessions ended for a hibernation limit', ['scope']);
    this.spilled = m.counter('strand_sm_spilled_total', 'Queued stanzas re-routed, stored, bounced or dropped', ['path']);
    this.offlineFlushed = m.counter('strand_sm_offline_flushed_total', 'Messages flushed from offline storage after a resume');
    this.ackTimeouts = m.counter('strand_sm_ack_timeouts_total', 'Unanswered <r/> that made the transport count as lost');
    this.handledCountTooHigh = m.counter('strand_sm_handled_count_too_high_total', 'Peers that acknowledged more than was sent');
    this.queueDepth = m.gauge('strand_sm_queue_depth', 'Outbound stanzas queued (unacknowledged or held), all sessions');
    this.hibernating = m.gauge('strand_sm_hibernating_sessions', 'Sessions waiting for resumption');
  }
}
