/**
 * The hook contributions of `@strand/stream-management`. Each is a concrete `XxxImpl` bound
 * `toSelf().inSingletonScope()` and then to its hook token with `toService`, so a user overrides
 * one with `rebind(XxxImpl).to(MyImpl)`. They delegate to {@link StreamManagerImpl}.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Priority,
  type CloseInfo,
  type Element,
  type FeatureStage,
  type InboundStanzaInterceptor,
  type NonzaHandler,
  type OutboundContext,
  type OutboundStanzaInterceptor,
  type SendResult,
  type Session,
  type SessionEndReason,
  type SessionListener,
  type StanzaContext,
  type StreamContext,
  type StreamFeatureProvider,
  type StreamListener,
} from '@strand/core';
import { SmConfig, type SmConfig as SmConfigT } from './config.js';
import { smFeatureElement } from './feature.js';
import { sm1FeatureElement } from './legacy-sm1.js';
import { SM_NS, type SmNamespace } from './namespaces.js';
import { SmStreamKey } from './sm-session.js';
import { StreamManagerImpl } from './stream-manager.js';

/**
 * Offers `<sm xmlns='urn:xmpp:sm:3'/>` and `<sm xmlns='urn:xmpp:sm:2'/>` (and, with
 * `legacyDraftSm1`, `<sm xmlns='urn:xmpp:sm:1' max stanzas><optional/></sm>`) after
 * authentication on c2s streams (XEP-0198 §2; enabling needs a bound resource, resuming does not).
 * Priority {@link Priority.feature.STREAM_MANAGEMENT}.
 */
@injectable()
export class SmFeatureImpl implements StreamFeatureProvider {
  readonly priority: number = Priority.feature.STREAM_MANAGEMENT;

  constructor(@inject(SmConfig) private readonly config: SmConfigT) {}

  /** The SM features for `post-auth` on an authenticated c2s stream without SM yet; else none. */
  offer(ctx: StreamContext, stage: FeatureStage): Element[] {
    if (stage !== 'post-auth' || ctx.stream.kind !== 'c2s' || !ctx.authenticatedJid) return [];
    if (ctx.stream.slots.get(SmStreamKey)) return [];
    const out = [smFeatureElement(SM_NS.SM_3), smFeatureElement(SM_NS.SM_2)];
    if (this.config.legacyDraftSm1) {
      out.push(sm1FeatureElement({ maxSeconds: this.config.resumeTimeout, stanzas: this.config.ackRequestEvery }));
    }
    return out;
  }
}

/** Base of the three nonza handlers: `enable`, `resume`, `r`, `a` of one namespace. */
abstract class SmNonzaHandlerBase implements NonzaHandler {
  abstract readonly xmlns: SmNamespace;
  readonly names: readonly string[] = ['enable', 'resume', 'r', 'a'];

  constructor(protected readonly manager: StreamManagerImpl) {}

  /** Dispatches to {@link StreamManagerImpl.handleNonza}. */
  handle(ctx: StreamContext, el: Element): Promise<void> {
    return this.manager.handleNonza(ctx, el, this.xmlns);
  }
}

/** `urn:xmpp:sm:3` nonzas (XEP-0198 1.6.x). */
@injectable()
export class Sm3NonzaHandlerImpl extends SmNonzaHandlerBase {
  readonly xmlns = SM_NS.SM_3;
  /** @param manager the SM engine */
  constructor(@inject(StreamManagerImpl) manager: StreamManagerImpl) {
    super(manager);
  }
}

/** `urn:xmpp:sm:2` nonzas (XEP-0198 1.0/1.1: same counters as sm:3). */
@injectable()
export class Sm2NonzaHandlerImpl extends SmNonzaHandlerBase {
  readonly xmlns = SM_NS.SM_2;
  /** @param manager the SM engine */
  constructor(@inject(StreamManagerImpl) manager: StreamManagerImpl) {
    super(manager);
  }
}

/** `urn:xmpp:sm:1` nonzas (0.7 draft; bound only with `legacyDraftSm1`). */
@injectable()
export class Sm1NonzaHandlerImpl extends SmNonzaHandlerBase {
  readonly xmlns = SM_NS.SM_1;
  /** @param manager the SM engine */
  constructor(@inject(StreamManagerImpl) manager: StreamManagerImpl) {
    super(manager);
  }
}

/**
 * Counts handled inbound stanzas (`h`, XEP-0198 §4). Outermost
 * ({@link Priority.inbound.STREAM_MANAGEMENT}) so that it sees the end of every stanza's processing.
 */
@injectable()
export class SmInboundCounterImpl implements InboundStanzaInterceptor {
  readonly priority: number = Priority.inbound.STREAM_MANAGEMENT;

  constructor(@inject(StreamManagerImpl) private readonly manager: StreamManagerImpl) {}

  /** Counts the stanza in `h` once `next()` resolved (see {@link StreamManagerImpl.countInbound}). */
  intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
    return this.manager.countInbound(ctx.stream, next);
  }
}

/**
 * Records outbound stanzas in the unacked queue and holds them while the session hibernates.
 * Outermost ({@link Priority.outbound.STREAM_MANAGEMENT}).
 */
@injectable()
export class SmOutboundQueueImpl implements OutboundStanzaInterceptor {
  readonly priority: number = Priority.outbound.STREAM_MANAGEMENT;

  constructor(@inject(StreamManagerImpl) private readonly manager: StreamManagerImpl) {}

  /** Records, holds or passes the stanza (see {@link StreamManagerImpl.sendOutbound}). */
  intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
    return this.manager.sendOutbound(ctx.session, ctx.stanza, next, ctx);
  }
}

/**
 * Stream events: `<r/>` on read timeout (before keepalive, {@link Priority.readTimeout.STREAM_MANAGEMENT}),
 * final `<a h/>` + `<r/>` in `onClosing`, pending spill in `onClosed`
 * ({@link Priority.stream.STREAM_MANAGEMENT}).
 */
@injectable()
export class SmStreamListenerImpl implements StreamListener {
  readonly priority: number = Priority.stream.STREAM_MANAGEMENT;

  constructor(@inject(StreamManagerImpl) private readonly manager: StreamManagerImpl) {}

  /** `<r/>` as a liveness probe when SM is active on the stream (else `'pass'`). */
  onReadTimeout(ctx: StreamContext): 'handled' | 'pass' {
    return this.manager.readTimeout(ctx);
  }

  /** Final `<a h/>` (and `<r/>` on our own close). */
  onClosing(ctx: StreamContext, options: { error?: CloseInfo['error']; reason?: string }): void {
    this.manager.closing(ctx, options);
  }

  /** Runs a spill that waited for the stream to close. */
  onClosed(ctx: StreamContext, _info: CloseInfo): Promise<void> {
    return this.manager.closed(ctx);
  }
}

/**
 * Session events: claims sessions on transport loss (hibernation), spills on end
 * ({@link Priority.session.STREAM_MANAGEMENT}: SM claims first).
 */
@injectable()
export class SmSessionListenerImpl implements SessionListener {
  readonly priority: number = Priority.session.STREAM_MANAGEMENT;

  constructor(@inject(StreamManagerImpl) private readonly manager: StreamManagerImpl) {}

  /** Claims (hibernates) a resumable SM session. */
  onTransportLost(session: Session): boolean {
    return this.manager.transportLost(session);
  }

  /** Retains the final `h` and spills the queue. */
  onEnded(session: Session, reason: SessionEndReason): Promise<void> {
    return this.manager.ended(session, reason);
  }

  /** Freezes the SM state before the host hands the session over to another node. */
  onDeparting(session: Session): Promise<void> {
    return this.manager.departing(session);
  }

  /** Re-arms the resumption window of a session that arrived from another node. */
  onArrived(session: Session): void {
    this.manager.arrived(session);
  }
}
