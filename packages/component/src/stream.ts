/**
 * {@link ComponentStreamImpl}: the core `XmlStream` of one connection of the component to its
 * server, on top of an `@xmpp/component` entity.
 * @packageDocumentation
 */
import {
  isStanza,
  notifyAll,
  SlotMap,
  streamError,
  type Clock,
  type CloseInfo,
  type CloseOptions,
  type Element,
  type JID,
  type Logger,
  type Scheduler,
  type StreamContext,
  type StreamErrorSpec,
  type StreamKey,
  type StreamListener,
  type StreamState,
  type Timer,
  type XmlStream,
} from '@strand/core';
import type { Socket } from 'node:net';

/** What the stream uses of the `@xmpp/component` entity (structurally; see `host.ts`). */
export interface ComponentTransport {
  readonly socket: Socket | null;
  readonly status: string;
  /** Timeout of the entity's `stop()` steps, **milliseconds**. */
  timeout: number;
  write(data: string): Promise<void>;
  /** Writes `</stream:stream>`, waits for the server's (or `timeout`), then ends the socket. */
  stop(): Promise<unknown>;
  disconnect(timeoutMs?: number): Promise<void>;
}

const CLOSE_TAG = '</stream:stream>';

/** Options of {@link ComponentStreamImpl}. */
export interface ComponentStreamOptions {
  /** The `@xmpp/component` entity whose current socket this stream is. */
  xmpp: ComponentTransport;
  connectionId: string;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  /** Default `close()` wait for the server's close tag, **milliseconds**. */
  closeHandshakeMs: number;
  /** The host's stream listeners, sorted by priority (read at each event). */
  listeners: () => readonly StreamListener[];
  /** Processes one inbound top-level element; elements are delivered strictly one at a time. */
  onElement: (stream: ComponentStreamImpl, el: Element) => Promise<void>;
  /** Called once when the stream is closed, after the `onClosed` listeners. */
  onClosed: (stream: ComponentStreamImpl, info: CloseInfo) => void;
}

type Item = { kind: 'element'; el: Element } | { kind: 'peer-close' };

/**
 * One connection of the component to its server as a core {@link XmlStream} (`kind: 'component'`),
 * so that plugins' stream listeners run for it exactly as on the server side.
 *
 * - **Input**: the host feeds the entity's events in ({@link noteRead}, {@link opened},
 *   {@link authenticated}, {@link receive}, {@link serverClosed}, {@link serverError},
 *   {@link transportClosed}); elements are processed one at a time, in order, and the server's
 *   `</stream:stream>` only after the elements before it.
 * - **Output**: nonzas and stanzas are written on the entity's socket; every write is refused
 *   (returns false) once our `</stream:stream>` is written. `sendKeepalive()` writes one space.
 * - **Close** (RFC 6120 §4.4, XEP-0190): `close()` runs `onClosing`, writes the optional stream
 *   error, then uses `@xmpp/component`'s `stop()` semantics: `</stream:stream>`, wait for the
 *   server's (at most `timeoutMs`, then the socket is destroyed), end the socket. When the server
 *   closes first, `onClosing` runs (reason `peer-close`) and our close tag answers it. When the
 *   server sends a `<stream:error/>`, `@xmpp/component` answers with its close tag at once:
 *   `onClosing` listeners are then called synchronously before that, so their synchronous writes
 *   still go out.
 *
 * In `CloseInfo`, `initiator: 'server'` means *this* side called `close()`; `'peer'` means the
 * XMPP server closed first.
 */
export class ComponentStreamImpl implements XmlStream {
  readonly connectionId: string;
  readonly kind = 'component' as const;
  readonly transport = 'tcp' as const;
  readonly secure = false;
  readonly supportsWhitespaceKeepalive = true;
  readonly session = undefined;
  readonly slots = new SlotMap<StreamKey<unknown>>();
  readonly closed: Promise<CloseInfo>;
  readonly lang = 'en';
  remoteAddress = '';
  /** The component's domain once the handshake succeeded. */
  authenticatedJid: JID | undefined;
  lastStanzaAt: number;

  private readonly xmpp: ComponentTransport;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly closeHandshakeMs: number;
  private readonly listeners: () => readonly StreamListener[];
  private readonly onElementFn: ComponentStreamOptions['onElement'];
  private readonly onClosedFn: ComponentStreamOptions['onClosed'];
  private resolveClosed!: (info: CloseInfo) => void;

  private _streamId = '';
  private _state: StreamState = 'opening';
  private _lastReadAt: number;
  private _lastWriteAt: number;
  private queue: Item[] = [];
  private pumping = false;
  private closing: Promise<void> | undefined;
  private closeOptions: CloseOptions = {};
  private closeTimer: Timer | undefined;
  private outputClosed = false;
  private peerClosedFirst = false;
  private peerCloseTag = false;
  private peerError: StreamErrorSpec | undefined;
  private handshakeTimedOut = false;
  private libClose: Promise<unknown> = Promise.resolve();

  constructor(options: ComponentStreamOptions) {
    this.xmpp = options.xmpp;
    this.connectionId = options.connectionId;
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.closeHandshakeMs = options.closeHandshakeMs;
    this.listeners = options.listeners;
    this.onElementFn = options.onElement;
    this.onClosedFn = options.onClosed;
    this.log = options.logger.child({ connectionId: options.connectionId });
    this._lastReadAt = this._lastWriteAt = this.lastStanzaAt = this.clock.now();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  /** The `id` of the server's stream header (the handshake hashes it), `''` before it arrived. */
  get streamId(): string {
    return this._streamId;
  }
  /** `opening` until the server's header, `open`, `closing` from `close()` or the server's close, `closed`. */
  get state(): StreamState {
    return this._state;
  }
  get lastReadAt(): number {
    return this._lastReadAt;
  }
  get lastWriteAt(): number {
    return this._lastWriteAt;
  }
  /**
   * Resolves once `@xmpp/component` finished its own part of the close (its `stop()` or
   * `disconnect()`, including their timers), after {@link closed}.
   */
  get drained(): Promise<void> {
    return this.closed.then(() => this.libClose).then(
      () => undefined,
      () => undefined,
    );
  }

  /** The stream error the server sent, if any. */
  get serverStreamError(): StreamErrorSpec | undefined {
    return this.peerError;
  }

  private get ctx(): StreamContext {
    return { stream: this, authenticatedJid: this.authenticatedJid, session: undefined };
  }

  // ------------------------------------------------------------------ input (fed by the host)

  /** Bytes were read from the server. */
  noteRead(): void {
    this._lastReadAt = this.clock.now();
  }

  /** Bytes were written by the entity (handshake, close tag) or by us. */
  noteWrite(): void {
    this._lastWriteAt = this.clock.now();
  }

  /** The server's stream header arrived (XEP-0114 §3): runs `onOpened`. */
  async opened(header: Element): Promise<void> {
    this._streamId = header.attrs.id ?? '';
    if (this._state === 'opening') this._state = 'open';
    await notifyAll(this.listeners(), 'onOpened', this.log, this);
  }

  /** The handshake succeeded: runs `onAuthenticated`. */
  async authenticated(jid: JID): Promise<void> {
    this.authenticatedJid = jid;
    await notifyAll(this.listeners(), 'onAuthenticated', this.log, this.ctx);
  }

  /** A top-level element from the server, queued for in-order processing. */
  receive(el: Element): void {
    if (this._state === 'closed') return;
    if (isStanza(el)) this.lastStanzaAt = this.clock.now();
    this.enqueue({ kind: 'element', el });
  }

  /** The server's `</stream:stream>` was parsed. */
  serverClosed(): void {
    this.peerCloseTag = true;
    if (this._state === 'closing' || this._state === 'closed') return; // it answers our close (or its error)
    this.enqueue({ kind: 'peer-close' });
  }

  /**
   * The server sent `<stream:error/>`; `@xmpp/component` answers with its close tag right after
   * this returns, so `onClosing` listeners run synchronously here.
   */
  serverError(spec: StreamErrorSpec): void {
    this.peerError ??= spec;
    if (this._state === 'closing' || this._state === 'closed') return;
    this._state = 'closing';
    this.peerClosedFirst = true;
    this.closeOptions = { reason: 'stream-error' };
    this.closing = this.closed.then(() => undefined);
    for (const l of this.listeners()) {
      if (typeof l.onClosing !== 'function') continue;
      try {
        const r = l.onClosing(this.ctx, { error: spec, reason: 'stream-error' });
        if (r && typeof (r as Promise<void>).catch === 'function') {
          (r as Promise<void>).catch((err: unknown) => this.log.error({ err }, 'onClosing failed'));
        }
      } catch (err) {
        this.log.error({ err }, 'onClosing failed');
      }
    }
    this.outputClosed = true;
  }

  /** We answered a malformed input with a stream error (`@xmpp/component` did, for parse errors). */
  localError(spec: StreamErrorSpec): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    this._state = 'closing';
    this.closeOptions = { error: spec, reason: 'stream-error' };
    this.closing = this.closed.then(() => undefined);
    this.outputClosed = true;
  }

  /** The socket is closed. */
  transportClosed(reason = 'socket-closed'): void {
    if (this._state === 'closed') return;
    if (this._state === 'closing') {
      this.finish({
        initiator: this.peerClosedFirst ? 'peer' : 'server',
        ...(this.closeOptions.error ?? this.peerError ? { error: this.closeOptions.error ?? this.peerError } : {}),
        handshakeTimedOut: this.handshakeTimedOut,
        endSession: this.closeOptions.endSession ?? true,
        ...(this.closeOptions.reason ? { reason: this.closeOptions.reason } : {}),
      });
      return;
    }
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason });
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && this._state !== 'closed') {
        const item = this.queue.shift()!;
        if (item.kind === 'peer-close') {
          this.peerClosedFirst = true;
          // Not awaited: the close waits for the socket, and input must keep flowing meanwhile.
          void this.close({ reason: 'peer-close' });
          continue;
        }
        try {
          await this.onElementFn(this, item.el);
        } catch (err) {
          this.log.error({ err, element: item.el.name }, 'element processing failed');
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  // ------------------------------------------------------------------ output

  /** Writes raw text on the socket; false when nothing may be written any more. */
  private write(data: string): boolean {
    if (this.outputClosed || this._state === 'closed') return false;
    const socket = this.xmpp.socket;
    if (!socket || socket.destroyed || !socket.writable || this.xmpp.status === 'closing') return false;
    this.xmpp.write(data).catch((err: unknown) => this.log.debug({ err }, 'write failed'));
    this._lastWriteAt = this.clock.now();
    return true;
  }

  /**
   * Writes a nonza. Still allowed during `onClosing`.
   * @throws Error for message, presence and iq (stanzas go through the host's `Router`)
   */
  writeNonza(el: Element): boolean {
    if (isStanza(el)) throw new Error(`writeNonza refuses the stanza <${el.name}/>: use the Router`);
    return this.write(el.toString());
  }

  /** Writes a stanza as is (the host's router only). */
  writeStanza(el: Element): boolean {
    return this.write(el.toString());
  }

  /** Writes a single space (RFC 6120 §4.6.1) while the stream is `open`. */
  sendKeepalive(): void {
    if (this._state === 'open') this.write(' ');
  }

  /**
   * The close handshake (see the class comment). Idempotent: later calls get the first call's
   * promise. Resolves when the stream is closed.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this._state === 'closed') return Promise.resolve();
    this.closing ??= this.runClose(options);
    return this.closing;
  }

  private async runClose(options: CloseOptions): Promise<void> {
    this._state = 'closing';
    this.closeOptions = options;
    const timeoutMs = options.timeoutMs ?? this.closeHandshakeMs;
    this.closeTimer = this.scheduler.setTimeout(() => {
      if (this._state === 'closed') return;
      this.log.debug('close handshake timed out');
      this.handshakeTimedOut = !this.peerCloseTag;
      this.destroySocket();
      this.transportClosed('close-timeout');
    }, timeoutMs);
    await notifyAll(this.listeners(), 'onClosing', this.log, this.ctx, { error: options.error, reason: options.reason });
    if ((this._state as StreamState) !== 'closed') {
      if (options.error) this.write(streamError(options.error).toString());
      if (this.peerCloseTag) {
        // The server closed first: answer its close tag, then end the socket.
        this.write(CLOSE_TAG);
        this.outputClosed = true;
        this.libClose = this.xmpp.disconnect(timeoutMs).catch(() => this.destroySocket());
      } else {
        this.outputClosed = true;
        // `stop()`: writes </stream:stream>, waits for the server's, then ends the socket.
        this.xmpp.timeout = timeoutMs;
        this.libClose = this.xmpp.stop().catch((err: unknown) => this.log.debug({ err }, 'stop failed'));
      }
    }
    await this.closed;
  }

  /** Destroys the socket at once, without handshake (counts as a loss of transport). */
  destroy(reason = 'destroyed'): void {
    if (this._state === 'closed') return;
    this.destroySocket();
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason });
  }

  private destroySocket(): void {
    this.xmpp.socket?.destroy();
  }

  private finish(info: CloseInfo): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.closeTimer?.cancel();
    this.queue = [];
    this.resolveClosed(info);
    void notifyAll(this.listeners(), 'onClosed', this.log, this.ctx, info).finally(() => {
      try {
        this.onClosedFn(this, info);
      } catch (err) {
        this.log.error({ err }, 'onClosed failed');
      }
    });
  }
}
