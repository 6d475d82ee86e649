/**
 * A tiny example plugin used by the package's own tests: it touches every hook so that the tests
 * can check ordering and lifecycle semantics of the test host.
 */
import { ContainerModule, inject, injectable } from 'inversify';
import { z } from 'zod';
import {
  definePlugin,
  InboundStanzaInterceptor,
  IqHandler,
  NonzaHandler,
  OutboundStanzaInterceptor,
  Priority,
  Scheduler,
  SessionListener,
  SessionRegistry,
  StanzaError,
  StanzaHandler,
  StreamErrorException,
  StreamFeatureProvider,
  StreamListener,
  xml,
  type CloseInfo,
  type Element,
  type FeatureStage,
  type IqContext,
  type OutboundContext,
  type Scheduler as SchedulerT,
  type SendResult,
  type Session,
  type SessionEndReason,
  type SessionRegistry as SessionRegistryT,
  type StanzaContext,
  type StreamContext,
  type XmlStream,
} from '@strand/core';

export const EX = 'urn:example:0';

/** Everything the example plugin observed, in order. */
@injectable()
export class ExampleLog {
  readonly events: string[] = [];
  inboundCount = 0;
  outboundCount = 0;
  ended: Array<{ jid: string; reason: SessionEndReason }> = [];
  push(e: string): void {
    this.events.push(e);
  }
}

export const ExampleConfig = Symbol('ExampleConfig');
export interface ExampleConfigT {
  claim: boolean;
  greeting: string;
  slowMs: number;
}

@injectable()
export class ExampleNonzaHandler implements NonzaHandler {
  readonly xmlns = EX;
  readonly names = ['ping', 'boom', 'attach', 'crash'];
  constructor(
    @inject(ExampleLog) private readonly log: ExampleLog,
    @inject(SessionRegistry) private readonly registry: SessionRegistryT,
    @inject(ExampleConfig) private readonly config: ExampleConfigT,
  ) {}
  async handle(ctx: StreamContext, el: Element): Promise<void> {
    this.log.push(`nonza:${el.name}`);
    switch (el.name) {
      case 'ping':
        ctx.stream.writeNonza(xml('pong', { xmlns: EX }, this.config.greeting));
        return;
      case 'boom':
        throw new StreamErrorException({ condition: 'policy-violation', text: 'boom' });
      case 'crash':
        throw new Error('handler bug');
      case 'attach': {
        const session = await this.registry.get(el.attrs.jid as string);
        if (!session) {
          ctx.stream.writeNonza(xml('failed', { xmlns: EX }));
          return;
        }
        await this.registry.attachStream(session, ctx.stream);
        ctx.stream.writeNonza(xml('attached', { xmlns: EX }));
        return;
      }
    }
  }
}

@injectable()
export class OuterInbound implements InboundStanzaInterceptor {
  readonly priority = Priority.inbound.STREAM_MANAGEMENT;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  async intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
    this.log.push(`outer-in:${ctx.stanza.attrs.id ?? ''}`);
    await next();
    this.log.inboundCount++;
    this.log.push(`outer-out:${ctx.stanza.attrs.id ?? ''}`);
  }
}

@injectable()
export class InnerInbound implements InboundStanzaInterceptor {
  readonly priority = 10;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  async intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
    this.log.push(`inner-in:${ctx.stanza.attrs.id ?? ''}`);
    await next();
    this.log.push(`inner-out:${ctx.stanza.attrs.id ?? ''}`);
  }
}

@injectable()
export class CountingOutbound implements OutboundStanzaInterceptor {
  readonly priority = Priority.outbound.STREAM_MANAGEMENT;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  async intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
    const r = await next();
    if (r === 'written') this.log.outboundCount++;
    return r;
  }
}

/** Consumes messages with `<swallow/>`; delays messages with `<slow/>` by `slowMs` of fake time. */
@injectable()
export class ExampleStanzaHandler implements StanzaHandler {
  readonly priority = 500;
  constructor(
    @inject(ExampleLog) private readonly log: ExampleLog,
    @inject(Scheduler) private readonly scheduler: SchedulerT,
    @inject(ExampleConfig) private readonly config: ExampleConfigT,
  ) {}
  async handle(ctx: StanzaContext): Promise<boolean> {
    const s = ctx.stanza;
    if (s.getChild('slow', EX)) {
      await new Promise<void>((resolve) => this.scheduler.setTimeout(resolve, this.config.slowMs));
      this.log.push(`slow-done:${s.attrs.id}`);
    }
    if (s.getChild('swallow', EX)) {
      this.log.push(`swallowed:${s.attrs.id}`);
      return true;
    }
    if (s.getChild('reject', EX)) throw new StanzaError('policy-violation', undefined, 'rejected');
    return false;
  }
}

@injectable()
export class ExampleIqHandler implements IqHandler {
  readonly xmlns = EX;
  readonly element = 'query';
  readonly types = ['get', 'set'] as const;
  readonly target = 'server' as const;
  handle(ctx: IqContext): Element {
    if (ctx.iq.attrs.type === 'set') throw new StanzaError('not-allowed');
    return xml('query', { xmlns: EX }, xml('to', {}, ctx.to.toString()));
  }
}

@injectable()
export class ExampleFeature implements StreamFeatureProvider {
  readonly priority = Priority.feature.KEEPALIVE;
  offer(ctx: StreamContext, stage: FeatureStage): Element[] {
    return stage === 'post-auth' && ctx.authenticatedJid ? [xml('example', { xmlns: EX })] : [];
  }
}

/** Writes `<bye/>` in onClosing (like SM's final `<a/>`), records stream events. */
@injectable()
export class HighStreamListener implements StreamListener {
  readonly priority = Priority.stream.STREAM_MANAGEMENT;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  onOpened(stream: XmlStream): void {
    this.log.push(`opened:${stream.streamId}`);
  }
  onAuthenticated(ctx: StreamContext): void {
    this.log.push(`authenticated:${ctx.authenticatedJid?.toString()}`);
  }
  onClosing(ctx: StreamContext): void {
    this.log.push(`closing-high:${ctx.stream.connectionId}`);
    const ok = ctx.stream.writeNonza(xml('bye', { xmlns: EX }));
    this.log.push(`bye-written:${ok}`);
  }
  onClosed(ctx: StreamContext, info: CloseInfo): void {
    this.log.push(`closed-high:${ctx.stream.connectionId}:${info.initiator}:${info.handshakeTimedOut}:${info.endSession}`);
  }
  onReadTimeout(ctx: StreamContext): 'handled' | 'pass' {
    this.log.push(`read-timeout-high:${ctx.stream.connectionId}`);
    return 'pass';
  }
}

@injectable()
export class LowStreamListener implements StreamListener {
  readonly priority = Priority.stream.IDLE_CLOSE;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  onClosing(ctx: StreamContext): void {
    this.log.push(`closing-low:${ctx.stream.connectionId}`);
  }
  onClosed(ctx: StreamContext): void {
    this.log.push(`closed-low:${ctx.stream.connectionId}`);
  }
  onReadTimeout(ctx: StreamContext): 'handled' | 'pass' {
    this.log.push(`read-timeout-low:${ctx.stream.connectionId}`);
    ctx.stream.sendKeepalive();
    return 'handled';
  }
}

/** Claims sessions on transport loss when configured to (like SM hibernation). */
@injectable()
export class ClaimingListener implements SessionListener {
  readonly priority = Priority.session.STREAM_MANAGEMENT;
  constructor(
    @inject(ExampleLog) private readonly log: ExampleLog,
    @inject(ExampleConfig) private readonly config: ExampleConfigT,
  ) {}
  onBound(session: Session): void {
    this.log.push(`bound:${session.jid.toString()}`);
  }
  onTransportLost(session: Session, info: CloseInfo): boolean {
    this.log.push(`transport-lost:${session.jid.toString()}:${info.initiator}:${session.state}`);
    return this.config.claim;
  }
  onResumed(session: Session, stream: XmlStream, previous: XmlStream | undefined): void {
    this.log.push(`resumed:${session.jid.toString()}:${stream.connectionId}:${previous?.connectionId ?? '-'}`);
  }
  onEnded(session: Session, reason: SessionEndReason): void {
    this.log.ended.push({ jid: session.jid.toString(), reason });
    this.log.push(`ended:${session.jid.toString()}:${reason}`);
  }
}

/** A lower-priority listener that would also claim: it must not be asked once the first claimed. */
@injectable()
export class SecondClaimer implements SessionListener {
  readonly priority = 10;
  constructor(@inject(ExampleLog) private readonly log: ExampleLog) {}
  onTransportLost(session: Session): boolean {
    this.log.push(`second-claimer:${session.jid.toString()}`);
    return false;
  }
}

export const exampleSchema = z
  .object({
    claim: z.boolean().default(true),
    greeting: z.string().min(1).default('hi'),
    slowMs: z.number().int().min(0).default(1000),
  })
  .strict();

/** The example plugin definition. */
export default definePlugin({
  name: '@example/plugin',
  configKey: '@example/plugin',
  configSchema: exampleSchema,
  features: [EX],
  module: (config) =>
    new ContainerModule(({ bind }) => {
      bind(ExampleConfig).toConstantValue(config);
      bind(ExampleLog).toSelf().inSingletonScope();
      bind(ExampleNonzaHandler).toSelf().inSingletonScope();
      bind(NonzaHandler).toService(ExampleNonzaHandler);
      bind(InnerInbound).toSelf().inSingletonScope();
      bind(InboundStanzaInterceptor).toService(InnerInbound);
      bind(OuterInbound).toSelf().inSingletonScope();
      bind(InboundStanzaInterceptor).toService(OuterInbound);
      bind(CountingOutbound).toSelf().inSingletonScope();
      bind(OutboundStanzaInterceptor).toService(CountingOutbound);
      bind(ExampleStanzaHandler).toSelf().inSingletonScope();
      bind(StanzaHandler).toService(ExampleStanzaHandler);
      bind(ExampleIqHandler).toSelf().inSingletonScope();
      bind(IqHandler).toService(ExampleIqHandler);
      bind(ExampleFeature).toSelf().inSingletonScope();
      bind(StreamFeatureProvider).toService(ExampleFeature);
      // Low before high on purpose: order must come from priorities, not load order.
      bind(LowStreamListener).toSelf().inSingletonScope();
      bind(StreamListener).toService(LowStreamListener);
      bind(HighStreamListener).toSelf().inSingletonScope();
      bind(StreamListener).toService(HighStreamListener);
      bind(SecondClaimer).toSelf().inSingletonScope();
      bind(SessionListener).toService(SecondClaimer);
      bind(ClaimingListener).toSelf().inSingletonScope();
      bind(SessionListener).toService(ClaimingListener);
    }),
});
