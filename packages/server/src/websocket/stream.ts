/**
 * {@link WebSocketXmlStream}: the XML stream of one WebSocket connection (RFC 7395) — the framed
 * stream header `<open/>`, one element per message, the same limits, errors, in-order delivery
 * and RFC 6120 §4.4 / XEP-0190 close handshake as the TCP {@link XmlStreamImpl}, with
 * `<close/>` in place of `</stream:stream>`.
 */
import { randomBytes } from 'node:crypto';
import { Element, escapeXML } from '@xmpp/xml';
import type { RawData } from 'ws';
import {
  NS,
  SlotMap,
  isStanza,
  streamError,
  type Clock,
  type CloseInfo,
  type CloseOptions,
  type JID,
  type Logger,
  type Scheduler,
  type Session,
  type StreamErrorCondition,
  type StreamErrorSpec,
  type StreamKey,
  type StreamKind,
  type StreamState,
  type Timer,
  type XmlStream,
} from '@strand/core';
import type { StreamParserLimits } from '../stream/parser.js';
import type { StreamDelegate } from '../stream/xml-stream.js';
import { FrameParser } from './frame-parser.js';
import { XmppWebSocket } from './xmpp-websocket.js';

/**
 * What the host does with a WebSocket stream's input: the TCP `StreamDelegate` contract. The
 * peer's `<open/>` (urn:ietf:params:xml:ns:xmpp-framing, initial or after a restart) reaches
 * `onHeader` as stream header attributes plus `xmlns: 'jabber:client'`, the content namespace the
 * framed stream stands for (RFC 7395 §3.3.2); anything else where an `<open/>` is expected is
 * answered by the stream itself (our `<open/>`, then `invalid-namespace`).
 */
export type WebSocketStreamDelegate = StreamDelegate<WebSocketXmlStream>;

/** Options of {@link WebSocketXmlStream}. */
export interface WebSocketStreamOptions {
  /** An accepted WebSocket (subprotocol `xmpp`), created by `WebSocketEndpoint`. */
  ws: XmppWebSocket;
  /** Only `c2s` is served over WebSocket. */
  kind?: StreamKind;
  /** True when the WebSocket runs over TLS (`wss`). */
  secure: boolean;
  /** The peer's IP address (from the HTTP request's socket). */
  remoteAddress: string;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  /** `maxStanzaBytes` bounds each message; `maxHeaderBytes` bounds the `<open/>` message. */
  limits: StreamParserLimits;
  /** Default {@link CloseOptions.timeoutMs} of `close()`, in **milliseconds**. */
  closeHandshakeMs: number;
  /** Attributes every `<open/>` we write carries unless `openStream` overrides them (`from`). */
  headerDefaults?: Record<string, string>;
  delegate: WebSocketStreamDelegate;
  connectionId: string;
}

type Item = { kind: 'frame'; el: Element } | { kind: 'peer-close' } | { kind: 'error'; spec: StreamErrorSpec } | { kind: 'eof' };

/** Parsed messages waiting beyond this count pause reading until the queue is drained. */
const QUEUE_HIGH_WATER = 100;
/** Elements delivered in a row before yielding to the event loop (fairness between streams). */
const YIELD_EVERY = 32;
const CLOSE_XML = `<close xmlns='${NS.FRAMING}'/>`;
const WS_NORMAL_CLOSURE = 1000;

/** Stream errors for the frame-level errors `ws` reports, by WebSocket close code (RFC 6455 §7.4.1). */
const FRAME_ERRORS: Record<number, (limits: StreamParserLimits) => StreamErrorSpec> = {
  1009: (limits) => ({ condition: 'policy-violation', text: `message exceeds maxStanzaBytes (${limits.maxStanzaBytes} bytes)` }),
  1007: () => ({ condition: 'not-well-formed', text: 'invalid UTF-8' }),
};

function newStreamId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * {@link XmlStream} over a WebSocket with the `xmpp` subprotocol (RFC 7395).
 *
 * Input: each message is parsed on its own by a {@link FrameParser}; the elements are queued and
 * handed to the {@link WebSocketStreamDelegate} one at a time, in order (reading pauses while
 * more than 100 wait). `<open/>` is delivered as the stream header, `<close/>` as the peer's close
 * tag. Any other element while an `<open/>` is expected (at the start and after a restart) is
 * `invalid-namespace`, as a TCP stream whose root is not `<stream:stream>`; an `<open/>` in an
 * open stream is `bad-format`. A bad message closes the stream with its stream error
 * (`endSession: true`) once the messages before it have been delivered; later messages are
 * ignored. Binary messages are `bad-format` (RFC 7395 §3.2: text frames only).
 *
 * Output: one element per message. Stanzas written without `xmlns` get `xmlns='jabber:client'`
 * and `stream:`-prefixed elements get `xmlns:stream` (RFC 7395 §3.3.3), without modifying the
 * element. Every write refuses (returns false) once our `<close/>` is written.
 *
 * Keepalive: {@link sendKeepalive} sends a WebSocket ping; a pong (like any frame) updates
 * {@link lastReadAt}. There is no STARTTLS: TLS is the WebSocket's (`wss`).
 *
 * Closing (RFC 7395 §3.6): `<close/>`, then input is still delivered until the peer's `<close/>`
 * (or its WebSocket closes); then the WebSocket closing handshake is started (if the peer
 * closed first, we wait up to the handshake timeout for the peer to start it, as RFC 7395 makes
 * that the closing party's job). If `timeoutMs` passes first the connection is dropped.
 */
export class WebSocketXmlStream implements XmlStream {
  readonly connectionId: string;
  readonly kind: StreamKind;
  readonly transport = 'websocket' as const;
  readonly secure: boolean;
  readonly remoteAddress: string;
  readonly supportsWhitespaceKeepalive = false;
  readonly slots = new SlotMap<StreamKey<unknown>>();
  readonly closed: Promise<CloseInfo>;
  /** The `xml:lang` of the peer's `<open/>`, default `en`; the host may override. */
  lang = 'en';
  authenticatedJid: JID | undefined;
  session: Session | undefined;
  /** Last time a stanza was parsed; starts at construction time. */
  lastStanzaAt: number;

  private readonly ws: XmppWebSocket;
  private readonly parser: FrameParser;
  private readonly delegate: WebSocketStreamDelegate;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly limits: StreamParserLimits;
  private readonly closeHandshakeMs: number;
  private readonly headerDefaults: Record<string, string>;
  private resolveClosed!: (info: CloseInfo) => void;

  private _streamId = newStreamId();
  private _state: StreamState = 'opening';
  private _lastReadAt: number;
  private _lastWriteAt: number;
  private headerSent = false;
  /** True at the start and after each restart until the peer's `<open/>` is delivered. */
  private awaitingOpen = true;

  private queue: Item[] = [];
  private head = 0;
  private pumping = false;
  private paused = false;

  private closing: Promise<void> | undefined;
  private releaseInFlight: (() => void) | undefined;
  private closeOptions: CloseOptions = {};
  private closeTimer: Timer | undefined;
  private outputClosed = false;
  private inputDone = false;
  /** No more messages are parsed (peer's `<close/>` or a bad message seen). */
  private inputEnded = false;
  private peerCloseParsed = false;
  private peerClosedFirst = false;
  private eofQueued = false;
  private peerError: StreamErrorSpec | undefined;
  /** WebSocket close code to use for a frame-level error (1009, 1007). */
  private frameErrorCode: number | undefined;

  constructor(options: WebSocketStreamOptions) {
    this.ws = options.ws;
    this.kind = options.kind ?? 'c2s';
    this.secure = options.secure;
    this.remoteAddress = options.remoteAddress;
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.delegate = options.delegate;
    this.connectionId = options.connectionId;
    this.limits = options.limits;
    this.closeHandshakeMs = options.closeHandshakeMs;
    this.headerDefaults = options.headerDefaults ?? {};
    this.log = options.logger.child({ connectionId: options.connectionId });
    this._lastReadAt = this._lastWriteAt = this.lastStanzaAt = this.clock.now();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.parser = new FrameParser(options.limits);

    const ws = this.ws;
    ws.on('message', this.onMessage);
    ws.on('ping', this.onControlFrame);
    ws.on('pong', this.onControlFrame);
    ws.on('close', this.onWsClose);
    ws.on('error', (err) => this.log.debug({ err }, 'WebSocket error'));
    ws.protocolErrorHandler = this.onFrameError;
  }

  get streamId(): string {
    return this._streamId;
  }
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
   * When the WebSocket message being received began to arrive, while one is incomplete;
   * undefined otherwise and while reading is paused by us. The host closes streams that stay
   * incomplete for `timeouts.stanza` (slowloris defence), as for TCP.
   */
  get incompleteSince(): number | undefined {
    return this.paused ? undefined : this.ws.inputProgress?.incompleteSince;
  }
  /** Bytes queued by the WebSocket but not yet written to the socket. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Writes our `<open/>` (RFC 7395 §3.4) with the current {@link streamId}. Defaults: `xmlns`
   * (the framing namespace), `version='1.0'`, `xml:lang='en'`, then `headerDefaults`; `attrs`
   * add to or override them, an `undefined` value removes one. `id` is always {@link streamId}.
   * @returns false when nothing may be written any more.
   */
  openStream(attrs: Record<string, string | undefined> = {}): boolean {
    if (!this.send(this.openXml(attrs))) return false;
    this.headerSent = true;
    if (this._state === 'opening') this._state = 'open';
    return true;
  }

  /**
   * Stream restart (RFC 7395 §3.5, after SASL `<success/>`): new {@link streamId}, state
   * `opening` and an `<open/>` expected from the peer. Messages already received stay queued:
   * each is a complete document, so they belong to the new stream (a pipelining client's
   * `<open/>`). No-op once closing.
   */
  restart(): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    this._streamId = newStreamId();
    this.headerSent = false;
    this.awaitingOpen = true;
    this._state = 'opening';
  }

  /**
   * Writes a nonza in its own message.
   * @throws Error for message, presence and iq: stanzas go through `Session.send`.
   */
  writeNonza(el: Element): boolean {
    if (isStanza(el)) throw new Error(`writeNonza refuses the stanza <${el.name}/>: use Session.send`);
    return this.send(framed(el));
  }

  /** Writes a stanza in its own message. **Only for the host's `Session` implementation.** */
  writeStanza(el: Element): boolean {
    return this.send(framed(el));
  }

  /** Writes serialised XML as one message, as is (it must be a complete, namespaced element). */
  writeRaw(text: string): boolean {
    return this.send(text);
  }

  /** Sends a WebSocket ping frame while the stream is `open`; the pong counts as a read. */
  sendKeepalive(): void {
    if (this._state !== 'open' || this.outputClosed || this.ws.readyState !== XmppWebSocket.OPEN) return;
    this.ws.ping();
    this._lastWriteAt = this.clock.now();
  }

  /**
   * Closes with the handshake (RFC 7395 §3.6, RFC 6120 §4.4): state `closing`, awaits
   * {@link WebSocketStreamDelegate.onClosing}, writes our `<open/>` if none was sent yet (RFC 7395
   * §3.6.1), the optional `<stream:error/>` and `<close/>`, each in its own message, then nothing
   * more. Input is still delivered until the peer's `<close/>` or the end of the WebSocket; then
   * the WebSocket closing handshake runs. If `timeoutMs` (default `closeHandshakeMs`) passes
   * first, the connection is dropped. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this._state === 'closed') return Promise.resolve();
    this.closing ??= this.runClose(options);
    return this.closing;
  }

  /**
   * Drops the connection at once, without handshake (initiator `transport`, `endSession: false`),
   * unless a close is under way: then that close's decision stands. Idempotent.
   */
  destroy(reason = 'destroyed'): void {
    if (this._state === 'closed') return;
    this.ws.terminate();
    if (this._state === 'closing') {
      // A close already decided the session's fate (e.g. an idle close ends it): a destroy in the
      // middle of that handshake must not turn it into a resumable transport loss.
      this.finishClose(true);
      return;
    }
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason });
  }

  // ---------------------------------------------------------------- input

  private readonly onControlFrame = (): void => {
    this.inputComplete();
    if (this._state !== 'closed') this._lastReadAt = this.clock.now();
  };

  /** `ws` delivered a complete message or control frame (see `InputProgress`). */
  private inputComplete(): void {
    const progress = this.ws.inputProgress;
    if (progress) progress.incompleteSince = undefined;
  }

  private readonly onMessage = (data: RawData, isBinary: boolean): void => {
    this.inputComplete();
    if (this._state === 'closed') return;
    this._lastReadAt = this.clock.now();
    if (this.inputEnded) return;
    if (isBinary) {
      this.endInput({ condition: 'bad-format', text: 'binary WebSocket messages are not allowed (RFC 7395 §3.2)' });
      return;
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const result = this.parser.parse(bytes.toString('utf8'), bytes.length);
    switch (result.kind) {
      case 'empty':
        return;
      case 'error':
        this.endInput({ condition: result.condition, text: result.text });
        return;
      case 'element': {
        const el = result.el;
        const ns = el.getNS();
        if (ns === NS.FRAMING && el.name === 'close') {
          this.inputEnded = this.peerCloseParsed = true;
          this.enqueue({ kind: 'peer-close' });
          return;
        }
        if (ns === NS.FRAMING && el.name === 'open' && bytes.length > this.limits.maxHeaderBytes) {
          this.endInput({
            condition: 'policy-violation',
            text: `stream header exceeds maxHeaderBytes (${this.limits.maxHeaderBytes} bytes)`,
          });
          return;
        }
        if (el.name === 'error' && ns === NS.STREAM) {
          this.peerError = parseStreamError(el);
          return;
        }
        if (isStanza(el)) this.lastStanzaAt = this.clock.now();
        this.enqueue({ kind: 'frame', el });
        return;
      }
    }
  };

  /** A bad message or frame: nothing after it is read; the error is delivered in order. */
  private endInput(spec: StreamErrorSpec): void {
    this.inputEnded = true;
    this.enqueue({ kind: 'error', spec });
  }

  /** `ws` found a frame-level error and stopped reading (see {@link XmppWebSocket}). */
  private readonly onFrameError = (code: number): void => {
    const spec = FRAME_ERRORS[code]?.(this.limits);
    if (!spec || this.inputEnded || this._state === 'closed') {
      this.ws.closeWebSocket(code);
      return;
    }
    this.frameErrorCode = code;
    this.endInput(spec);
  };

  private readonly onWsClose = (): void => {
    if (this._state === 'closed') return;
    if (this._state === 'closing' || this.peerCloseParsed || this.frameErrorCode !== undefined) {
      if (!this.eofQueued) {
        this.eofQueued = true;
        this.enqueue({ kind: 'eof' });
      }
      return;
    }
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason: 'websocket-closed' });
  };

  private enqueue(item: Item): void {
    if (this._state === 'closed') return;
    this.queue.push(item);
    if (this._state === 'closing' && item.kind !== 'frame') this.releaseInFlight?.();
    if (!this.paused && this.queue.length - this.head > QUEUE_HIGH_WATER) {
      this.paused = true;
      this.ws.pause();
    }
    if (!this.pumping) void this.pump();
  }

  private resumeIfDrained(): void {
    if (this.paused && this.head >= this.queue.length) {
      this.paused = false;
      const progress = this.ws.inputProgress;
      if (progress?.incompleteSince !== undefined) progress.incompleteSince = this.clock.now();
      this.ws.resume();
    }
  }

  private deliveredSinceYield = 0;

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.head < this.queue.length && this._state !== 'closed') {
        const item = this.queue[this.head++];
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        }
        this.resumeIfDrained();
        const delivery = this.deliver(item).catch((err: unknown) => this.log.error({ err, item: item.kind }, 'stream delegate failed'));
        // A handler may await close(), which waits for input queued behind it: stop waiting for
        // the item in flight when close() starts or, while closing, when the input ends (also
        // when its end is already queued behind this item).
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        this.releaseInFlight = release;
        if (this._state === 'closing' && this.inputEndQueued()) release();
        await Promise.race([delivery, released]);
        this.releaseInFlight = undefined;
        // Fairness: let the event loop read other connections during a burst.
        if (++this.deliveredSinceYield >= YIELD_EVERY) {
          this.deliveredSinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** True when the peer's `<close/>`, the end of the WebSocket or an input error waits in the queue. */
  private inputEndQueued(): boolean {
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i]!.kind !== 'frame') return true;
    return false;
  }

  private async deliver(item: Item): Promise<void> {
    switch (item.kind) {
      case 'frame': {
        const el = item.el;
        const isOpen = el.name === 'open' && el.getNS() === NS.FRAMING;
        if (this.awaitingOpen) {
          if (!isOpen) {
            // As a TCP stream whose root is not <stream:stream> (RFC 6120 §4.9.3.10).
            return this.inputError({
              condition: 'invalid-namespace',
              text: `expected <open/> in the ${NS.FRAMING} namespace (RFC 7395 §3.4)`,
            });
          }
          if (el.children.length > 0) return this.inputError({ condition: 'bad-format', text: '<open/> must be empty' });
          this.awaitingOpen = false;
          const attrs: Record<string, string> = {};
          for (const name in el.attrs) {
            if (name !== 'xmlns' && !name.startsWith('xmlns:')) attrs[name] = el.attrs[name] as string;
          }
          // The framed header stands for <stream:stream xmlns='jabber:client'> (RFC 7395 §3.3.2).
          attrs.xmlns = NS.CLIENT;
          this.lang = attrs['xml:lang'] ?? 'en';
          await this.delegate.onHeader(this, attrs);
          return;
        }
        if (isOpen) return this.inputError({ condition: 'bad-format', text: 'unexpected <open/>: the stream is already open' });
        await this.delegate.onElement(this, el);
        return;
      }
      case 'peer-close':
        this.inputDone = true;
        if (this._state === 'closing') return this.endIfHandshakeDone();
        this.peerClosedFirst = true;
        try {
          await this.delegate.onPeerClose(this);
        } finally {
          void this.close({ reason: 'peer-close' });
        }
        return;
      case 'error':
        return this.inputError(item.spec);
      case 'eof':
        this.inputDone = true;
        return this.endIfHandshakeDone();
    }
  }

  /** Closes with `spec` and ignores every later message. */
  private inputError(spec: StreamErrorSpec): void {
    this.inputEnded = this.inputDone = true;
    this.queue = this.queue.slice(this.head).filter((i) => i.kind === 'eof');
    this.head = 0;
    this.resumeIfDrained();
    void this.close({ error: spec, endSession: true, reason: 'stream-error' });
    this.endIfHandshakeDone();
  }

  // ---------------------------------------------------------------- output and closing

  private send(text: string): boolean {
    if (this.outputClosed || this._state === 'closed' || this.ws.readyState !== XmppWebSocket.OPEN) return false;
    const socket = this.ws.rawSocket;
    if (socket && !this.corked && !socket.destroyed) {
      // Every message of this tick (the microtask cascade of processing one input) leaves in one
      // writev instead of a syscall per frame; the frames stay separate messages.
      this.corked = true;
      socket.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(text);
    this._lastWriteAt = this.clock.now();
    return true;
  }

  private corked = false;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    this.ws.rawSocket?.uncork();
  };

  private openXml(attrs: Record<string, string | undefined>): string {
    const all: Record<string, string | undefined> = {
      xmlns: NS.FRAMING,
      id: undefined,
      from: undefined,
      to: undefined,
      version: '1.0',
      'xml:lang': 'en',
      ...this.headerDefaults,
      ...attrs,
    };
    all.xmlns = NS.FRAMING;
    all.id = this._streamId;
    let out = '<open';
    for (const name in all) {
      const value = all[name];
      if (value !== undefined) out += ` ${name}='${escapeXML(value)}'`;
    }
    return `${out}/>`;
  }

  private async runClose(options: CloseOptions): Promise<void> {
    this._state = 'closing';
    this.closeOptions = options;
    this.releaseInFlight?.();
    this.closeTimer = this.scheduler.setTimeout(() => {
      if (this._state === 'closed') return;
      this.log.debug('close handshake timed out');
      this.ws.terminate();
      this.finishClose(true);
    }, options.timeoutMs ?? this.closeHandshakeMs);
    try {
      await this.delegate.onClosing(this, { error: options.error, reason: options.reason });
    } catch (err) {
      this.log.error({ err }, 'onClosing failed');
    }
    if ((this._state as StreamState) !== 'closed') {
      if (!this.headerSent) this.send(this.openXml({}));
      if (options.error) this.send(framed(streamError(options.error)));
      this.send(CLOSE_XML);
      this.outputClosed = true;
      this.endIfHandshakeDone();
    }
    await this.closed;
  }

  /** Starts the WebSocket closing handshake once our `<close/>` is written and input is done. */
  private endIfHandshakeDone(): void {
    if (!this.outputClosed || !this.inputDone || this._state === 'closed') return;
    const ws = this.ws;
    if (ws.readyState === XmppWebSocket.OPEN || ws.readyState === XmppWebSocket.CLOSING) {
      if (this.paused) ws.resume();
      const code = this.frameErrorCode ?? WS_NORMAL_CLOSURE;
      // RFC 7395 §3.6: the closing party starts the WebSocket closing handshake; when the peer
      // closed first, give it the handshake timeout to do so before we do.
      const startAfter = this.peerClosedFirst && this.frameErrorCode === undefined ? this.closeHandshakeMs : 0;
      const start = this.scheduler.setTimeout(() => {
        if (ws.readyState === XmppWebSocket.OPEN) ws.closeWebSocket(code);
      }, startAfter);
      // A peer that never completes the WebSocket close must not hold the connection.
      const kill = this.scheduler.setTimeout(() => ws.terminate(), startAfter + this.closeHandshakeMs);
      ws.once('close', () => {
        start.cancel();
        kill.cancel();
      });
    }
    this.finishClose(false);
  }

  private finishClose(handshakeTimedOut: boolean): void {
    this.finish({
      initiator: this.peerClosedFirst ? 'peer' : 'server',
      error: this.closeOptions.error ?? this.peerError,
      handshakeTimedOut,
      endSession: this.closeOptions.endSession ?? true,
      reason: this.closeOptions.reason,
    });
  }

  private finish(info: CloseInfo): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.closeTimer?.cancel();
    this.queue = [];
    this.head = 0;
    this.ws.protocolErrorHandler = undefined;
    if (info.error === undefined) delete info.error;
    if (info.reason === undefined) delete info.reason;
    this.resolveClosed(info);
    try {
      void Promise.resolve(this.delegate.onClosed(this, info)).catch((err: unknown) => this.log.error({ err }, 'onClosed failed'));
    } catch (err) {
      this.log.error({ err }, 'onClosed failed');
    }
  }
}

/**
 * Serialises a top-level element as a complete document (RFC 7395 §3.3.3): a stanza without
 * `xmlns` gets `jabber:client`, a `stream:` element without `xmlns:stream` gets the stream
 * namespace. The element itself is not modified (it may be shared with other streams).
 */
export function framed(el: Element): string {
  const addNs = el.attrs.xmlns === undefined && isStanza(el);
  const addStream = el.name.startsWith('stream:') && el.attrs['xmlns:stream'] === undefined;
  if (!addNs && !addStream) return el.toString();
  const copy = new Element(el.name, {
    ...(addNs ? { xmlns: NS.CLIENT } : {}),
    ...(addStream ? { 'xmlns:stream': NS.STREAM } : {}),
    ...el.attrs,
  });
  if (addNs) copy.attrs.xmlns = NS.CLIENT;
  if (addStream) copy.attrs['xmlns:stream'] = NS.STREAM;
  copy.children = el.children;
  return copy.toString();
}

/** Reads a peer's `<stream:error/>` (RFC 6120 §4.9.2). */
function parseStreamError(el: Element): StreamErrorSpec {
  const spec: StreamErrorSpec = { condition: 'undefined-condition' };
  for (const child of el.getChildElements()) {
    if (child.getNS() !== NS.STREAMS) continue;
    if (child.name === 'text') spec.text = child.getText();
    else spec.condition = child.name as StreamErrorCondition;
  }
  return spec;
}
