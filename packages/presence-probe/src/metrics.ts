/**
 * Prometheus metrics of the plugin (through core `Metrics`).
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `strand_presence_probe_answers_total` | counter | `outcome`: `available`, `last-unavailable`, `never`, `hidden` (unauthorised or no such account), `server`, `component` |
 * | `strand_presence_probe_rate_limited_total` | counter | — |
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { Metrics, type CounterMetric, type Metrics as MetricsT } from '@strand/core';

/** The plugin's metrics, created once per container. */
@injectable()
export class ProbeMetricsImpl {
  readonly answers: CounterMetric;
  readonly rateLimited: CounterMetric;

  constructor(@inject(Metrics) m: MetricsT) {
    this.answers = m.counter('strand_presence_probe_answers_total', 'Client presence probes answered by the plugin', ['outcome']);
    this.rateLimited = m.counter('strand_presence_probe_rate_limited_total', 'Client presence probes refused with policy-violation');
  }
}
