/**
 * The stream and session listeners that connect the keepalive machinery to the host's lifecycle.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import type { Session, SessionListener, StreamContext, StreamListener, XmlStream } from '@strand/core';
import { DeadPeerDetectorImpl } from './dead-peer.js';
import { KeepaliveSchedulerImpl } from './keepalive-scheduler.js';
import { KeepalivePriority } from './priorities.js';

/**
 * Watches every client stream from authentication (default whitespace may start before bind)
 * until its close handshake starts or it is gone. Component streams are left alone.
 */
@injectable()
export class KeepaliveStreamListenerImpl implements StreamListener {
  readonly priority: number = KeepalivePriority.stream;
  constructor(@inject(KeepaliveSchedulerImpl) private readonly scheduler: KeepaliveSchedulerImpl) {}

  onAuthenticated(ctx: StreamContext): void {
    this.scheduler.watch(ctx.stream); // c2s and component streams (XEP-0114) alike
  }
  onClosing(ctx: StreamContext): void {
    this.scheduler.unwatch(ctx.stream);
  }
  onClosed(ctx: StreamContext): void {
    this.scheduler.unwatch(ctx.stream);
  }
}

/**
 * `onReadTimeout` (after stream management's `<r/>`, by priority): an XEP-0199 ping for clients
 * that did not negotiate XEP-0304; only an unanswered ping means a dead peer (RFC 6120 §4.6).
 */
@injectable()
export class KeepaliveReadTimeoutListenerImpl implements StreamListener {
  readonly priority: number = KeepalivePriority.readTimeout;
  constructor(
    @inject(DeadPeerDetectorImpl) private readonly detector: DeadPeerDetectorImpl,
    @inject(KeepaliveSchedulerImpl) private readonly scheduler: KeepaliveSchedulerImpl,
  ) {}

  async onReadTimeout(ctx: StreamContext): Promise<'handled' | 'pass'> {
    const r = await this.detector.probe(ctx);
    if (r === 'handled') this.scheduler.watch(ctx.stream); // arms the ping deadline
    return r;
  }
}

/**
 * On resumption the session (and its negotiated interval, XEP-0304 §4 note 1) moves to a new
 * stream: re-evaluate that stream's deadlines with the session's policy.
 */
@injectable()
export class KeepaliveSessionListenerImpl implements SessionListener {
  readonly priority: number = KeepalivePriority.session;
  constructor(@inject(KeepaliveSchedulerImpl) private readonly scheduler: KeepaliveSchedulerImpl) {}

  onResumed(_session: Session, stream: XmlStream): void {
    if (stream.kind === 'c2s') this.scheduler.watch(stream);
  }
}
