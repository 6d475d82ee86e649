/**
 * What the component host contributes itself, through the ordinary hooks and each rebindable by
 * its class: XEP-0030 disco#info and XEP-0199 ping for the component's JID, and whitespace
 * keepalives on the component's connection.
 * @packageDocumentation
 */
import { inject, injectable, multiInject, optional } from 'inversify';
import {
  Clock,
  DiscoFeatureProvider,
  Metrics,
  NS,
  Priority,
  Scheduler,
  StanzaError,
  xml,
  type Clock as ClockT,
  type Element,
  type IqContext,
  type IqHandler,
  type Metrics as MetricsT,
  type Scheduler as SchedulerT,
  type StreamContext,
  type StreamListener,
  type Timer,
  type XmlStream,
} from '@strand/core';
import { ComponentSettings, type ComponentSettings as ComponentSettingsT } from './config.js';

/** Features the component host implements itself. */
export const COMPONENT_BUILTIN_FEATURES = [NS.DISCO_INFO, NS.PING] as const;

/**
 * disco#info of the component's JID (XEP-0030 §3.1): the configured identity (default
 * `component/generic`, named after the domain) and the features of the host, of every
 * `DiscoFeatureProvider` (`serverFeatures`) and of the loaded plugin definitions.
 */
@injectable()
export class ComponentDiscoInfoImpl implements IqHandler {
  readonly xmlns: string = NS.DISCO_INFO;
  readonly element = 'query';
  readonly types = ['get'] as const;
  readonly target = 'server' as const;

  constructor(
    @inject(ComponentSettings) protected readonly settings: ComponentSettingsT,
    @multiInject(DiscoFeatureProvider) @optional() protected readonly providers: DiscoFeatureProvider[] = [],
  ) {}

  handle(ctx: IqContext): Element {
    if (ctx.payload.attrs.node) throw new StanzaError('item-not-found');
    const { category, type, name } = this.settings.identity;
    const query = xml('query', { xmlns: NS.DISCO_INFO }, xml('identity', { category, type, name }));
    const features = new Set<string>(COMPONENT_BUILTIN_FEATURES);
    for (const p of this.providers ?? []) for (const f of p.serverFeatures ?? []) features.add(f);
    for (const f of [...features].sort()) query.append(xml('feature', { var: f }));
    return query;
  }
}

/** XEP-0199 §4.2: a ping of the component's JID gets an empty result. */
@injectable()
export class ComponentPingImpl implements IqHandler {
  readonly xmlns: string = NS.PING;
  readonly element = 'ping';
  readonly types = ['get'] as const;
  readonly target = 'server' as const;

  handle(): void {
    // empty result
  }
}

/**
 * Whitespace keepalives (RFC 6120 §4.6.1) on the component's own connection: a single space
 * whenever nothing was written for `keepalive.interval` seconds, from the handshake until the
 * close starts. One `Scheduler` timer per connection, re-armed at `lastWriteAt + interval`, so
 * any write postpones the next keepalive. Counted in `strand_component_keepalives_total`.
 *
 * (`@strand/keepalive` only watches client streams; this is the component-side equivalent.)
 */
@injectable()
export class ComponentKeepaliveImpl implements StreamListener {
  readonly priority: number = Priority.stream.HOST;
  private readonly timers = new Map<XmlStream, Timer>();

  constructor(
    @inject(ComponentSettings) protected readonly settings: ComponentSettingsT,
    @inject(Scheduler) protected readonly scheduler: SchedulerT,
    @inject(Clock) protected readonly clock: ClockT,
    @inject(Metrics) protected readonly metrics: MetricsT,
  ) {}

  /** Number of connections with an armed keepalive timer (tests, diagnostics). */
  get watching(): number {
    return this.timers.size;
  }

  onAuthenticated(ctx: StreamContext): void {
    if (this.settings.keepaliveIntervalMs > 0 && ctx.stream.supportsWhitespaceKeepalive) this.arm(ctx.stream);
  }
  onClosing(ctx: StreamContext): void {
    this.disarm(ctx.stream);
  }
  onClosed(ctx: StreamContext): void {
    this.disarm(ctx.stream);
  }

  private arm(stream: XmlStream): void {
    this.timers.get(stream)?.cancel();
    const due = stream.lastWriteAt + this.settings.keepaliveIntervalMs;
    this.timers.set(stream, this.scheduler.setTimeout(() => this.check(stream), Math.max(0, due - this.clock.now())));
  }

  private check(stream: XmlStream): void {
    if (stream.state !== 'open') {
      this.disarm(stream);
      return;
    }
    if (this.clock.now() - stream.lastWriteAt >= this.settings.keepaliveIntervalMs) {
      stream.sendKeepalive();
      this.metrics.counter('strand_component_keepalives_total', 'Whitespace keepalives sent by the component').inc();
    }
    this.arm(stream);
  }

  private disarm(stream: XmlStream): void {
    this.timers.get(stream)?.cancel();
    this.timers.delete(stream);
  }
}
