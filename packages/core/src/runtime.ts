/**
 * Default implementations of the time services and metrics; no I/O.
 */
import { inject, injectable } from 'inversify';
import * as prom from 'prom-client';
import type {
  Clock,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  Logger as LoggerT,
  Metrics,
  Scheduler,
  Timer,
} from './services.js';
import { Logger } from './services.js';

/** Wall clock: `Date.now()`. */
@injectable()
export class SystemClockImpl implements Clock {
  now(): number {
    return Date.now();
  }
}

/** Scheduler on Node timers; timers are `unref`'d so they never keep the process alive. */
@injectable()
export class SchedulerImpl implements Scheduler {
  constructor(@inject(Logger) private readonly logger: LoggerT) {}

  private guard(fn: () => void | Promise<void>): () => void {
    return () => {
      try {
        const r = fn();
        if (r && typeof (r as Promise<void>).catch === 'function') {
          (r as Promise<void>).catch((err: unknown) => this.logger.error({ err }, 'scheduled task failed'));
        }
      } catch (err) {
        this.logger.error({ err }, 'scheduled task failed');
      }
    };
  }

  setTimeout(fn: () => void | Promise<void>, delayMs: number): Timer {
    let active = true;
    const run = this.guard(fn);
    const h = setTimeout(() => {
      active = false;
      run();
    }, Math.max(0, delayMs));
    h.unref();
    return {
      cancel: () => {
        active = false;
        clearTimeout(h);
      },
      get active() {
        return active;
      },
    };
  }

  setInterval(fn: () => void | Promise<void>, intervalMs: number): Timer {
    let active = true;
    const h = setInterval(this.guard(fn), Math.max(1, intervalMs));
    h.unref();
    return {
      cancel: () => {
        active = false;
        clearInterval(h);
      },
      get active() {
        return active;
      },
    };
  }
}

/** Metrics on a private prom-client registry (one per container, so tests never collide). */
@injectable()
export class PromMetricsImpl implements Metrics {
  readonly registry = new prom.Registry();
  private readonly metrics = new Map<string, unknown>();

  private getOrCreate<T>(name: string, make: () => T): T {
    let m = this.metrics.get(name) as T | undefined;
    if (!m) {
      m = make();
      this.metrics.set(name, m);
    }
    return m;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): CounterMetric {
    const c = this.getOrCreate(
      name,
      () => new prom.Counter({ name, help, labelNames: [...labelNames], registers: [this.registry] }),
    );
    return {
      inc: (labels?: Record<string, string>, value = 1) => (labels ? c.inc(labels, value) : c.inc(value)),
    };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): GaugeMetric {
    const g = this.getOrCreate(
      name,
      () => new prom.Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry] }),
    );
    return {
      set: (labels, value) => g.set(labels, value),
      inc: (labels?: Record<string, string>, value = 1) => (labels ? g.inc(labels, value) : g.inc(value)),
      dec: (labels?: Record<string, string>, value = 1) => (labels ? g.dec(labels, value) : g.dec(value)),
    };
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: number[]): HistogramMetric {
    const h = this.getOrCreate(
      name,
      () =>
        new prom.Histogram({
          name,
          help,
          labelNames: [...labelNames],
          registers: [this.registry],
          ...(buckets ? { buckets } : {}),
        }),
    );
    return { observe: (labels, value) => h.observe(labels, value) };
  }

  expose(): Promise<string> {
    return this.registry.metrics();
  }
}

/** A logger that discards everything (default in tests). */
export const silentLogger: LoggerT = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  fatal: () => undefined,
  child: () => silentLogger,
};
