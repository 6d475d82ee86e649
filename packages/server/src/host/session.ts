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

/**
 * What routing and the IM logic need of a session, wherever it is bound: a {@link SessionImpl} on
 * this node, or (in a cluster) a `RemoteSession` on another node, whose `send` forwards the stanza
 * to that node.
 */
export interface SessionView {
  readonly jid: JID;
  /** Bare JID string of the account. */
  readonly bare: string;
  readonly state: SessionState;
  readonly available: boolean;
  readonly priority: number;
  readonly interested: boolean;
  /** The current broadcast presence (RFC 6121 §4.2) while available. */
  readonly presence: Element | undefined;
  /** The node the session is bound on; undefined for this node. */
  readonly node: string | undefined;
  /** Remote sessions only: the client asked for versioned roster pushes (RFC 6121 §2.6). */
  readonly rosterVersioning?: boolean;
  /**
   * Sends a stanza to the session (see core `Session.send`). For a session on another node the
   * stanza is forwarded and the result is `'written'` once handed to that node, which takes
   * responsibility for it (delivery or the RFC 6121 §8.5.3.2 fallback there).
   * @param routing the original time and hop count of a routed stanza (remote sessions only)
   */
  send(stanza: Element, routing?: { originalTime?: number; hops?: number }): Promise<SendResult>;
}

/** A bound c2s session (RFC 6120 §7). Mutable fields are managed by the host only. */
export class SessionImpl implements Session, SessionView {
  state: SessionState = 'active';
  /** Set when the host decided to end the session (before its stream finished closing). */
  endReason: SessionEndReason | undefined;
  stream: HostStream | undefined;
  /** Always undefined: this node. */
  readonly node: undefined;
  /**
   * Set while the session is being handed over to another node: resolves with that node once the
   * new owner has been sent the session (so a stanza forwarded after it arrives after the
   * session), or with undefined if the hand-over did not happen. A send refused meanwhile waits for
   * it and follows the session.
   */
  moving: Promise<string | undefined> | undefined;
  private moved: ((node: string | undefined) => void) | undefined;

  /** Starts a hand-over (see {@link moving}). */
  beginMove(): void {
    this.moving ??= new Promise((resolve) => (this.moved = resolve));
  }

  /** Ends a hand-over: `node` has the session (or undefined: it stays, or ended, here). */
  endMove(node: string | undefined): void {
    this.moved?.(node);
    this.moved = undefined;
    if (node === undefined) this.moving = undefined;
  }
  /**
   * Called (once per tick at most, by the caller's choice) when `available`, `priority`,
   * `presence` or `interested` change: the cluster directory publishes them.
   */
  onChange: ((session: SessionImpl) => void) | undefined;
  private _available = false;
  private _priority = 0;
  private _interested = false;
  private _presence: Element | undefined;
  /** JIDs this session sent directed presence to (RFC 6121 §4.6), for unavailable on logout. */
  readonly directedTo = new Set<string>();
  readonly slots = new SlotMap<SessionKey<unknown>>();
  /**
   * Sends held back while a hand-over completes (see {@link holdSends}): released in order by
   * {@link releaseSends}.
   */
  private held: Array<{ stanza: Element; done: (r: Promise<SendResult>) => void }> | undefined;

  get available(): boolean {
    return this._available;
  }
  set available(v: boolean) {
    if (v !== this._available) {
      this._available = v;
      this.onChange?.(this);
    }
  }
  get priority(): number {
    return this._priority;
  }
  set priority(v: number) {
    if (v !== this._priority) {
      this._priority = v;
      this.onChange?.(this);
    }
  }
  get interested(): boolean {
    return this._interested;
  }
  set interested(v: boolean) {
    if (v !== this._interested) {
      this._interested = v;
      this.onChange?.(this);
    }
  }
  /** The last broadcast presence (RFC 6121 §4.2), kept for probes and resumption. */
  get presence(): Element | undefined {
    return this._presence;
  }
  set presence(v: Element | undefined) {
    if (v !== this._presence) {
      this._presence = v;
      this.onChange?.(this);
    }
  }

  constructor(
    readonly id: string,
    readonly jid: JID,
    stream: HostStream | undefined,
    readonly boundAt: number,
    private readonly outbound: readonly OutboundStanzaInterceptor[],
  ) {
    this.stream = stream;
    this.bare = jid.bare().toString();
  }

  /** Bare JID string of the account (computed once: `JID.bare()` re-parses the localpart). */
  readonly bare: string;

  /**
   * Holds every later {@link send} (not {@link sendNow}) until {@link releaseSends}: a session that
   * just arrived from another node first takes the stanzas that node still forwards, so that
   * stanzas routed here directly cannot overtake them (per-sender order across a hand-over).
   */
  holdSends(): void {
    this.held ??= [];
  }

  /** Sends the held stanzas in order and stops holding. */
  releaseSends(): void {
    const held = this.held;
    this.held = undefined;
    for (const h of held ?? []) h.done(this.sendNow(h.stanza));
  }

  /** True while sends are held (see {@link holdSends}). */
  get holdingSends(): boolean {
    return this.held !== undefined;
  }

  send(stanza: Element): Promise<SendResult> {
    const held = this.held;
    if (held && this.state !== 'ended') {
      return new Promise<SendResult>((resolve, reject) => held.push({ stanza, done: (r) => r.then(resolve, reject) }));
    }
    return this.sendNow(stanza);
  }

  /** {@link send} without the hand-over hold: for stanzas forwarded by the previous node. */
  sendNow(stanza: Element): Promise<SendResult> {
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
