/**
 * The host's `Session` implementation.
 */
import {
  composeInterceptors,
  SlotMap,
  type Element,
  type JID,
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
    const write = (): Promise<SendResult> => Promise.resolve(this.writeToStream(stanza) ? 'written' : 'refused');
    if (this.outbound.length === 0) return write();
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

  private writeToStream(stanza: Element): boolean {
    const s = this.stream;
    // Stanzas are refused as soon as a close starts (state `closing`): the caller re-routes them or
    // stream management holds them; only nonzas may still be written during `onClosing`.
    return s !== undefined && s.state === 'open' && s.writeStanza(stanza);
  }
}
