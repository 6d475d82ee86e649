/**
 * In-memory {@link XmlStream} with the RFC 6120 §4.4 close handshake of DESIGN.md.
 */
import {
  byPriority,
  cloneElement,
  contributionName,
  isStanza,
  notifyAll,
  silentLogger,
  SlotMap,
  streamError,
  type CloseInfo,
  type CloseOptions,
  type Element,
  type JID,
  type Logger,
  type Session,
  type StreamContext,
  type StreamKey,
  type StreamKind,
  type StreamListener,
  type StreamState,
  type Timer,
  type TransportKind,
  type XmlStream,
} from '@strand/core';
import type { FakeTime } from './time.js';
import { closeTagMarker } from './xml.js';

/** Options of {@link FakeStream}. */
export interface FakeStreamOptions {
  /** The fake clock and scheduler every time and timer of the stream uses. */
  time: FakeTime;
  logger?: Logger;
  /** Default `c2s`. */
  kind?: StreamKind;
  /** Default `tcp`. */
  transport?: TransportKind;
  /** Default: `transport === 'tcp'` (RFC 7395 forbids whitespace on WebSocket). */
  supportsWhitespaceKeepalive?: boolean;
  /** Default true. */
  secure?: boolean;
  /** Default `127.0.0.1`. */
  remoteAddress?: string;
  /** Default `en`. */
  lang?: string;
  /** Default `c<n>`. */
  connectionId?: string;
  /** Stream listeners (sorted with `byPriority` at each event); a function is read at each event. */
  listeners?: readonly StreamListener[] | (() => readonly StreamListener[]);
  /** Default wait for the peer's close tag in `close()` (ms). Default 5000. */
  closeHandshakeMs?: number;
  /** Silence (ms) after which `onReadTimeout` listeners run; 0 = never. Default 0. */
  readTimeoutMs?: number;
  /** Close with `connection-timeout` if not authenticated within this many ms; 0 = never. Default 0. */
  preAuthTimeoutMs?: number;
  /**
   * Called once the stream is closed, after the `onClosed` listeners and before
   * {@link FakeStream.closed} resolves (the test host's registry handles the session here).
   */
  onClosed?: (stream: FakeStream, info: CloseInfo) => void | Promise<void>;
}

let connectionCounter = 0;

/**
 * An in-memory XML stream. What the server writes is recorded in {@link FakeStream.written}
 * (cloned at write time, like serialisation); whitespace keepalives / WebSocket pings are only
 * counted ({@link FakeStream.keepalivesSent}).
 *
 * Close handshake ({@link FakeStream.close}): the state becomes `closing`, `onClosing` listeners
 * run by priority (they may still write nonzas; stanza writes are already refused), then the
 * optional `<stream:error/>` and the close tag (recorded as a {@link closeTagMarker}) are written;
 * after that every write is refused while inbound elements are still processed, until the peer's
 * close tag ({@link FakeStream.peerClose}) or `timeoutMs` of fake time (then the transport is
 * destroyed without writing anything). `onClosed` listeners then run with the {@link CloseInfo}.
 */
export class FakeStream implements XmlStream {
  readonly connectionId: string;
  readonly kind: StreamKind;
  readonly transport: TransportKind;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly lang: string;
  readonly supportsWhitespaceKeepalive: boolean;
  readonly slots = new SlotMap<StreamKey<unknown>>();
  /** Every element written to the peer, in order: nonzas, stanzas, stream error, close-tag marker. */
  readonly written: Element[] = [];
  /** The promise of {@link XmlStream.closed}; resolves after `onClosed` listeners and host handling. */
  readonly closed: Promise<CloseInfo>;

  private readonly time: FakeTime;
  private readonly logger: Logger;
  private readonly listenerSource: readonly StreamListener[] | (() => readonly StreamListener[]);
  private readonly closeHandshakeMs: number;
  private readonly readTimeoutMs: number;
  private readonly onClosedHook: ((stream: FakeStream, info: CloseInfo) => void | Promise<void>) | undefined;

  private _streamId: string;
  private restarts = 0;
  private _state: StreamState = 'open';
  private _authenticatedJid: JID | undefined;
  private _session: Session | undefined;
  private _lastReadAt: number;
  private _lastWriteAt: number;
  private _lastStanzaAt: number;
  private _keepalivesSent = 0;
  private _closeTagWritten = false;
  private _closeInfo: CloseInfo | undefined;
  private closeOptions: { error?: CloseOptions['error']; endSession: boolean; reason?: string; timeoutMs: number } | undefined;
  private closing: Promise<void> | undefined;
  private finishing: Promise<void> | undefined;
  private peerClosedEarly = false;
  private handshakeTimer: Timer | undefined;
  private readTimer: Timer | undefined;
  private preAuthTimer: Timer | undefined;
  private resolveClosed!: (info: CloseInfo) => void;
  private readonly writeObservers = new Set<(el: Element) => void>();

  constructor(options: FakeStreamOptions) {
    this.time = options.time;
    this.logger = options.logger ?? silentLogger;
    this.kind = options.kind ?? 'c2s';
    this.transport = options.transport ?? 'tcp';
    this.supportsWhitespaceKeepalive = options.supportsWhitespaceKeepalive ?? this.transport === 'tcp';
    this.secure = options.secure ?? true;
    this.remoteAddress = options.remoteAddress ?? '127.0.0.1';
    this.lang = options.lang ?? 'en';
    this.connectionId = options.connectionId ?? `c${++connectionCounter}`;
    this._streamId = `${this.connectionId}-s0`;
    this.listenerSource = options.listeners ?? [];
    this.closeHandshakeMs = options.closeHandshakeMs ?? 5000;
    this.readTimeoutMs = options.readTimeoutMs ?? 0;
    this.onClosedHook = options.onClosed;
    const now = this.time.now();
    this._lastReadAt = now;
    this._lastWriteAt = now;
    this._lastStanzaAt = now;
    this.closed = new Promise<CloseInfo>((resolve) => {
      this.resolveClosed = resolve;
    });
    this.armReadTimer(this.readTimeoutMs);
    const preAuthMs = options.preAuthTimeoutMs ?? 0;
    if (preAuthMs > 0) {
      this.preAuthTimer = this.time.schedule(
        () => {
          this.preAuthTimer = undefined;
          if (!this._authenticatedJid && this.isOpen) {
            void this.beginClose({ error: { condition: 'connection-timeout' }, reason: 'pre-auth-timeout' });
          }
        },
        preAuthMs,
        { internal: true, label: `${this.connectionId} pre-auth timeout` },
      );
    }
  }

  // ---------------------------------------------------------------- XmlStream

  /** {@inheritDoc XmlStream.streamId} */
  get streamId(): string {
    return this._streamId;
  }
  /** {@inheritDoc XmlStream.state} */
  get state(): StreamState {
    return this._state;
  }
  /** {@inheritDoc XmlStream.authenticatedJid} */
  get authenticatedJid(): JID | undefined {
    return this._authenticatedJid;
  }
  /** {@inheritDoc XmlStream.session} */
  get session(): Session | undefined {
    return this._session;
  }
  /** {@inheritDoc XmlStream.lastReadAt} */
  get lastReadAt(): number {
    return this._lastReadAt;
  }
  /** {@inheritDoc XmlStream.lastWriteAt} */
  get lastWriteAt(): number {
    return this._lastWriteAt;
  }
  /** {@inheritDoc XmlStream.lastStanzaAt} */
  get lastStanzaAt(): number {
    return this._lastStanzaAt;
  }

  /** {@inheritDoc XmlStream.writeNonza} */
  writeNonza(el: Element): boolean {
    if (isStanza(el)) {
      throw new Error(`writeNonza refuses stanzas (<${el.name}/>): stanzas reach a client only through Session.send`);
    }
    if (!this.canWriteNonza) return false;
    this.record(el);
    return true;
  }

  /** {@inheritDoc XmlStream.sendKeepalive} */
  sendKeepalive(): void {
    if (!this.isOpen) return;
    this._keepalivesSent++;
    this._lastWriteAt = this.time.now();
  }

  /** {@inheritDoc XmlStream.close} */
  async close(options: CloseOptions = {}): Promise<void> {
    await this.beginClose(options);
    await this.closed;
  }

  /** {@inheritDoc XmlStream.destroy} */
  destroy(reason?: string): void {
    if (this._state === 'closed') return;
    const o = this.closeOptions;
    void this.finish(
      o
        ? { initiator: 'server', ...errorOf(o.error), handshakeTimedOut: false, endSession: o.endSession, reason: reason ?? o.reason }
        : { initiator: 'transport', handshakeTimedOut: false, endSession: false, ...(reason ? { reason } : {}) },
    );
  }

  // ---------------------------------------------------------------- observation (tests)

  /** Whitespace keepalives (TCP) or ping frames (WebSocket) sent so far. */
  get keepalivesSent(): number {
    return this._keepalivesSent;
  }
  /** True once our `</stream:stream>` was written (from then on every write is refused). */
  get closeTagWritten(): boolean {
    return this._closeTagWritten;
  }
  /** How the stream ended, once closed. */
  get closeInfo(): CloseInfo | undefined {
    return this._closeInfo;
  }
  /** Times the stream was restarted (after SASL). */
  get restartCount(): number {
    return this.restarts;
  }
  /** Calls `fn` with each element written from now on; returns an unsubscribe function. */
  onWrite(fn: (el: Element) => void): () => void {
    this.writeObservers.add(fn);
    return () => this.writeObservers.delete(fn);
  }

  // ---------------------------------------------------------------- host side

  /** True while stanzas and keepalives may be written (state `opening` or `open`). */
  get isOpen(): boolean {
    return this._state === 'open' || this._state === 'opening';
  }

  /** True while nonzas may be written: open, or closing before our close tag (`onClosing`). */
  get canWriteNonza(): boolean {
    return this.isOpen || (this._state === 'closing' && !this._closeTagWritten);
  }

  /**
   * Host path for stanzas (the innermost step of `Session.send`, retransmission, delivery to a
   * component). Refused (false) unless the stream is open.
   * @throws Error if `el` is not a stanza
   */
  writeStanza(el: Element): boolean {
    if (!isStanza(el)) throw new Error(`writeStanza takes stanzas only, got <${el.name}/>`);
    if (!this.isOpen) return false;
    this.record(el);
    return true;
  }

  /** Sets the authenticated JID (SASL success); listeners are the host's business. */
  setAuthenticated(jid: JID | undefined): void {
    this._authenticatedJid = jid;
    if (jid && this.preAuthTimer) {
      this.preAuthTimer.cancel();
      this.preAuthTimer = undefined;
    }
  }

  /** Sets (or clears) the session this stream carries. */
  setSession(session: Session | undefined): void {
    this._session = session;
  }

  /** A stream restart (RFC 6120 §4.3.3): new stream id. Fires `onOpened` again. */
  async restart(): Promise<void> {
    this.restarts++;
    this._streamId = `${this.connectionId}-s${this.restarts}`;
    await this.fireOpened();
  }

  /** Runs `onOpened` listeners (the host calls this once the header was exchanged). */
  async fireOpened(): Promise<void> {
    await notifyAll(this.listeners(), 'onOpened', this.logger, this);
  }

  /** Runs `onAuthenticated` listeners. */
  async fireAuthenticated(): Promise<void> {
    await notifyAll(this.listeners(), 'onAuthenticated', this.logger, this.context());
  }

  /**
   * Records an inbound read at the current fake time: `stanza` also moves `lastStanzaAt`;
   * `whitespace` (a client keepalive), `pong` (WebSocket) and `nonza` only move `lastReadAt`.
   */
  markRead(kind: 'stanza' | 'nonza' | 'whitespace' | 'pong' | 'close'): void {
    const now = this.time.now();
    this._lastReadAt = now;
    if (kind === 'stanza') this._lastStanzaAt = now;
  }

  /** The {@link StreamContext} of this stream as listeners see it now. */
  context(): StreamContext {
    return { stream: this, authenticatedJid: this._authenticatedJid, session: this._session };
  }

  /**
   * Starts the close handshake and resolves once our close tag is written (or the stream is
   * closed), without waiting for the peer. The host uses this where awaiting the whole handshake
   * would block inbound processing. Idempotent.
   */
  beginClose(options: CloseOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.isOpen) return this.finishing ?? Promise.resolve();
    this.closeOptions = {
      ...(options.error ? { error: options.error } : {}),
      endSession: options.endSession ?? true,
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
      timeoutMs: options.timeoutMs ?? this.closeHandshakeMs,
    };
    this._state = 'closing';
    this.cancelTimer('readTimer');
    this.cancelTimer('preAuthTimer');
    this.closing = this.runCloseHandshake();
    return this.closing;
  }

  /**
   * The peer's `</stream:stream>` (or EOF). Completes our handshake if we are closing; otherwise
   * the peer initiated the close: we answer with our close tag and the stream closes with
   * `initiator: 'peer'`, `endSession: true`. `onClosing` runs first (as in the real host), so a
   * listener may still write a last nonza (stream management's final `<a/>`).
   * Resolves once the stream is closed and handled.
   */
  async peerClose(): Promise<void> {
    if (this._state === 'closed') return this.finishing;
    this.markRead('close');
    if (this._state === 'closing') {
      if (!this._closeTagWritten) {
        this.peerClosedEarly = true;
        await this.closing;
        await this.finishing;
        return;
      }
      const o = this.closeOptions!;
      await this.finish({
        initiator: 'server',
        ...errorOf(o.error),
        handshakeTimedOut: false,
        endSession: o.endSession,
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
      });
      return;
    }
    this._state = 'closing';
    this.cancelTimer('readTimer');
    this.cancelTimer('preAuthTimer');
    await notifyAll(this.listeners(), 'onClosing', this.logger, this.context(), { reason: 'peer-close' });
    if (this._state !== 'closing') return this.finishing;
    this.record(closeTagMarker());
    this._closeTagWritten = true;
    this.closing = this.finish({ initiator: 'peer', handshakeTimedOut: false, endSession: true, reason: 'peer-close' });
    await this.closing;
  }

  // ---------------------------------------------------------------- internals

  private listeners(): StreamListener[] {
    const src = this.listenerSource;
    return byPriority(typeof src === 'function' ? src() : src);
  }

  private record(el: Element): void {
    const copy = cloneElement(el);
    this.written.push(copy);
    this._lastWriteAt = this.time.now();
    for (const fn of [...this.writeObservers]) {
      try {
        fn(copy);
      } catch (err) {
        this.logger.error({ err }, 'write observer failed');
      }
    }
  }

  private async runCloseHandshake(): Promise<void> {
    const o = this.closeOptions!;
    await notifyAll(this.listeners(), 'onClosing', this.logger, this.context(), {
      ...(o.error ? { error: o.error } : {}),
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
    });
    if (this._state === 'closed') return; // destroyed while listeners ran
    if (o.error) this.record(streamError(o.error));
    this.record(closeTagMarker());
    this._closeTagWritten = true;
    const info = (handshakeTimedOut: boolean): CloseInfo => ({
      initiator: 'server',
      ...errorOf(o.error),
      handshakeTimedOut,
      endSession: o.endSession,
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
    });
    if (this.peerClosedEarly) {
      await this.finish(info(false));
      return;
    }
    this.handshakeTimer = this.time.schedule(
      () => {
        this.handshakeTimer = undefined;
        return this.finish(info(true));
      },
      o.timeoutMs,
      { internal: true, label: `${this.connectionId} close handshake` },
    );
  }

  private finish(info: CloseInfo): Promise<void> {
    if (this.finishing) return this.finishing;
    this._state = 'closed';
    this._closeInfo = info;
    this.cancelTimer('handshakeTimer');
    this.cancelTimer('readTimer');
    this.cancelTimer('preAuthTimer');
    this.finishing = (async () => {
      await notifyAll(this.listeners(), 'onClosed', this.logger, this.context(), info);
      try {
        await this.onClosedHook?.(this, info);
      } catch (err) {
        this.logger.error({ err, connectionId: this.connectionId }, 'stream close handling failed');
      }
      this.resolveClosed(info);
    })();
    return this.finishing;
  }

  private cancelTimer(which: 'handshakeTimer' | 'readTimer' | 'preAuthTimer'): void {
    this[which]?.cancel();
    this[which] = undefined;
  }

  private armReadTimer(delayMs: number): void {
    if (this.readTimeoutMs <= 0) return;
    this.readTimer = this.time.schedule(() => this.onReadTimer(), delayMs, {
      internal: true,
      label: `${this.connectionId} read timeout`,
    });
  }

  private async onReadTimer(): Promise<void> {
    this.readTimer = undefined;
    if (!this.isOpen) return;
    const silentFor = this.time.now() - this._lastReadAt;
    if (silentFor < this.readTimeoutMs) {
      this.armReadTimer(this.readTimeoutMs - silentFor);
      return;
    }
    this.armReadTimer(this.readTimeoutMs);
    for (const l of this.listeners()) {
      if (typeof l.onReadTimeout !== 'function') continue;
      try {
        if ((await l.onReadTimeout(this.context())) === 'handled') break;
      } catch (err) {
        this.logger.error({ err, listener: contributionName(l), hook: 'onReadTimeout' }, 'listener failed');
      }
    }
  }
}

function errorOf(error: CloseOptions['error']): { error?: NonNullable<CloseOptions['error']> } {
  return error ? { error } : {};
}
