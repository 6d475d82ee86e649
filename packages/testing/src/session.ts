/**
 * The test host's {@link Session}.
 */
import {
  byPriority,
  composeInterceptors,
  SlotMap,
  type Element,
  type JID,
  type OutboundContext,
  type OutboundStanzaInterceptor,
  type SendResult,
  type Session,
  type SessionEndReason,
  type SessionKey,
  type SessionState,
} from '@strand/core';
import type { FakeStream } from './stream.js';

/** What {@link SessionImpl} needs from its host. */
export interface SessionInit {
  readonly id: string;
  readonly jid: JID;
  readonly boundAt: number;
  readonly stream?: FakeStream;
  /** The outbound interceptors (read at every send, sorted with `byPriority`). */
  readonly outbound: () => readonly OutboundStanzaInterceptor[];
}

/**
 * A bound session. `send()` runs the outbound interceptor chain (highest priority outermost)
 * whose innermost step writes to the attached stream (`'written'`) or reports `'refused'` when no
 * stream is attached or it is closing/closed. `retransmit()` writes directly, without the chain.
 *
 * The mutable fields (`available`, `priority`, `interested`) are set by the test host's presence
 * handling; tests may set them directly to arrange a scenario.
 */
export class SessionImpl implements Session {
  readonly id: string;
  readonly jid: JID;
  readonly boundAt: number;
  readonly slots = new SlotMap<SessionKey<unknown>>();
  /** {@inheritDoc Session.state} — changed only by the registry. */
  state: SessionState = 'active';
  /** {@inheritDoc Session.stream} — changed only by the registry. */
  stream: FakeStream | undefined;
  /** {@inheritDoc Session.available} */
  available = false;
  /** {@inheritDoc Session.priority} */
  priority = 0;
  /** {@inheritDoc Session.interested} */
  interested = false;
  /** Why the session ended (set when its end was decided). */
  endReason: SessionEndReason | undefined;
  /** True once `onEnded` was fired (exactly once). */
  endedFired = false;

  private readonly outbound: () => readonly OutboundStanzaInterceptor[];

  constructor(init: SessionInit) {
    this.id = init.id;
    this.jid = init.jid;
    this.boundAt = init.boundAt;
    this.stream = init.stream;
    this.outbound = init.outbound;
  }

  /** {@inheritDoc Session.send} */
  send(stanza: Element): Promise<SendResult> {
    const outbound = byPriority(this.outbound());
    if (outbound.length === 1) {
      // As the real host: the only interceptor may write synchronously (OutboundContext.writeNow).
      const direct: OutboundContext = { session: this, stanza, writeNow: () => this.writeToStream(stanza) };
      return outbound[0]!.intercept(direct, async () => this.writeToStream(stanza));
    }
    const ctx: OutboundContext = { session: this, stanza };
    const run = composeInterceptors<OutboundStanzaInterceptor, SendResult>(
      outbound,
      (i, next) => i.intercept(ctx, next),
      async () => this.writeToStream(stanza),
    );
    return run();
  }

  /** {@inheritDoc Session.retransmit} */
  retransmit(stanza: Element): boolean {
    return this.stream?.writeStanza(stanza) ?? false;
  }

  /** The full JID as a string. */
  toString(): string {
    return this.jid.toString();
  }

  private writeToStream(stanza: Element): SendResult {
    const s = this.stream;
    if (!s || !s.isOpen) return 'refused';
    return s.writeStanza(stanza) ? 'written' : 'refused';
  }
}
