/**
 * The host's `Session` implementation.
 */
import {
  composeInterceptors,
  SlotMap,
  type Element,
  type JID,
  type OutboundContext,
  type OutboundStanzaInterceptor,
  type SendResult,
  type Session,
  type SessionKey,
  type SessionEndReason,
  type SessionState,
} from '@strand/core';
import type { HostStream } from './host-stream.js';

/** A bound c2s session (RFC 6120 §7). Mutable fields are managed by the host only. */
export class SessionImpl implements Session {
  state: SessionState = 'active';
  /** Set when the host decided to end the session (before its stream finished closing). */
  endReason: SessionEndReason | undefined;
  stream: HostStream | undefined;
  available = false;
  priority = 0;
  interested = false;
  /** The last broadcast presence (RFC 6121 §4.2), kept for probes and resumption. */
  presence: Element | undefined;
  /** JIDs this session sent directed presence to (RFC 6121 §4.6), for unavailable on logout. */
  readonly directedTo = new Set<string>();
  readonly slots = new SlotMap<SessionKey<unknown>>();

  constructor(
    readonly id: string,
    readonly jid: JID,
    stream: HostStream,
    readonly boundAt: number,
    private readonly outbound: readonly OutboundStanzaInterceptor[],
  ) {
    this.stream = stream;
  }

  /** Bare JID string of the account. */
  get bare(): string {
    return this.jid.bare().toString();
  }

  send(stanza: Element): Promise<SendResult> {
    if (this.state === 'ended') return Promise.resolve('refused');
    const outbound = this.outbound;
    if (outbound.length === 0) return Promise.resolve(this.writeToStream(stanza) ? 'written' : 'refused');
    // One interceptor (typically stream management): its `next` is the write itself, which it may
    // also do synchronously through `ctx.writeNow` (no interceptor chain is built per stanza).
    if (outbound.length === 1) {
      const ctx = new DirectSend(this, stanza);
      return outbound[0]!.intercept(ctx, ctx.next);
    }
    const write = (): Promise<SendResult> => Promise.resolve(this.writeToStream(stanza) ? 'written' : 'refused');
    const ctx = { session: this as Session, stanza };
    return composeInterceptors<OutboundStanzaInterceptor, SendResult>(
      this.outbound,
      (i, next) => i.intercept(ctx, next),
      write,
    )();
  }

  retransmit(stanza: Element): boolean {
    return this.writeToStream(stanza);
  }

  /** @internal The host's final outbound step (see {@link DirectSend}). */
  writeToStream(stanza: Element): boolean {
    const s = this.stream;
    // Stanzas are refused as soon as a close starts (state `closing`): the caller re-routes them or
    // stream management holds them; only nonzas may still be written during `onClosing`.
    return s !== undefined && s.state === 'open' && s.writeStanza(stanza);
  }
}

/**
 * The context of a send through a single outbound interceptor: `writeNow` is the innermost step
 * (see `OutboundContext.writeNow`); `next` does the same behind a promise.
 */
class DirectSend implements OutboundContext {
  constructor(
    readonly session: SessionImpl,
    readonly stanza: Element,
  ) {}

  writeNow(): SendResult {
    return this.session.writeToStream(this.stanza) ? 'written' : 'refused';
  }

  readonly next = (): Promise<SendResult> => Promise.resolve(this.writeNow());
}
