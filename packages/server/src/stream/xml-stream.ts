/**
 * {@link XmlStreamImpl}: the XML stream of one TCP (or TLS) connection — header, parsing with
 * limits, in-order delivery of top-level elements, STARTTLS, restarts and the RFC 6120 §4.4 /
 * XEP-0190 close handshake.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { Element, escapeXML } from '@xmpp/xml';
import {
  NS,
  randomToken,
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
import { StreamParser, type StreamParserLimits } from './parser.js';

/**
 * What the host does with a stream's input. Calls happen in input order, one at a time: each is
 * awaited before the next header/element/close is delivered. `S` is the stream type (TCP here,
 * `WebSocketXmlStream` for RFC 7395): both transports share this contract.
 */
export interface StreamDelegate<S = XmlStreamImpl> {
  /**
   * The peer's stream header (initial or after a restart). `attrs` holds every attribute of the
   * open tag, namespace declarations included (`xmlns`, `xmlns:stream`, `to`, `version`,
   * `xml:lang`…). The host validates it (RFC 6120 §4.2, §4.7) and answers with
   * {@link XmlStreamImpl.openStream} and features, or closes with a stream error.
   * The stream namespace and prefix are already checked by the parser.
   */
  onHeader(stream: S, attrs: Record<string, string>): void | Promise<void>;
  /**
   * A top-level element (stanza or nonza), delivered strictly one at a time: the next one only
   * after the returned promise settles. A peer's `<stream:error/>` is not delivered (it is
   * recorded for {@link CloseInfo.error}). Rejections are logged.
   *
   * A handler may await `close()`, which needs the input queued behind it: the stream stops
   * waiting for the item in flight when `close()` starts, and while closing when the peer's close
   * tag or EOF arrives; later items may then be delivered while that handler still runs.
   */
  onElement(stream: S, el: Element): Promise<void>;
  /**
   * The peer sent `</stream:stream>` first (delivered after the elements before it). The host
   * normally answers with `close()`; if it has not when this settles, the stream closes itself.
   * Not called when the peer's close tag answers our own `close()`.
   */
  onPeerClose(stream: S): void | Promise<void>;
  /**
   * `close()` started: writes still work here (run `StreamListener.onClosing`). Not called when
   * the transport dies without a handshake.
   */
  onClosing(stream: S, options: { error?: StreamErrorSpec; reason?: string }): Promise<void>;
  /** The stream is closed; called exactly once, with the same value `closed` resolves with. */
  onClosed(stream: S, info: CloseInfo): void | Promise<void>;
}

/** Options of {@link XmlStreamImpl}. */
export interface XmlStreamOptions {
  /** An accepted plain TCP socket, or a `tls.TLSSocket` for direct TLS. */
  socket: net.Socket;
  kind: StreamKind;
  /** True when `socket` is already TLS (direct TLS port). */
  secure: boolean;
  clock: Clock;
  scheduler: Scheduler;
  logger: Logger;
  limits: StreamParserLimits;
  /** Default {@link CloseOptions.timeoutMs} of `close()`, in **milliseconds**. */
  closeHandshakeMs: number;
  /**
   * Attributes every header we write carries unless `openStream` overrides them, typically
   * `{ from: <served domain> }`: RFC 6120 §4.7.1 requires `from` on the receiving entity's
   * header, including the one `close()` writes only to carry a stream error when the peer's
   * header was never accepted (§4.9.1.2: garbage, a DTD or a wrong stream namespace first).
   */
  headerDefaults?: Record<string, string>;
  delegate: StreamDelegate;
  /** Host-assigned id for logs. */
  connectionId: string;
}

type Item =
  | { kind: 'header'; attrs: Record<string, string> }
  | { kind: 'element'; el: Element }
  | { kind: 'peer-close' }
  | { kind: 'error'; spec: StreamErrorSpec }
  | { kind: 'eof' };

/** Parsed elements waiting beyond this count pause reading until the queue is drained. */
const QUEUE_HIGH_WATER = 100;
/** Elements delivered in a row before yielding to the event loop (fairness between streams). */
const YIELD_EVERY = 32;

/**
 * While a stream still has parsed input waiting (its own backlog), what its processing writes is
 * kept for one more tick — up to this many characters and {@link COALESCE_MAX_MS} — so that the
 * answers to a burst of requests (XEP-0198 `<a/>` to `<r/>`, iq results) leave in one socket write
 * instead of one per fairness yield.
 */
const COALESCE_MAX_CHARS = 16_384;
/** Longest time, in **ms**, a batch is held back by {@link COALESCE_MAX_CHARS}' rule. */
const COALESCE_MAX_MS = 2;
const CLOSE_TAG = '</stream:stream>';

/** A fresh stream id: 128 random bits, base64url (RFC 6120 §4.7.3). */
function newStreamId(): string {
  return randomToken(16);
}

/**
 * {@link XmlStream} over a Node socket (plain TCP, STARTTLS-upgraded, or direct TLS).
 *
 * Input: bytes go through a {@link StreamParser}; parsed items are queued and handed to the
 * {@link StreamDelegate} one at a time (reading pauses while more than 100 wait). A parser error
 * closes the stream with that stream error (`endSession: true`) once the elements before it have
 * been delivered.
 *
 * Output: every write refuses (returns false) once our `</stream:stream>` is written. Writes are
 * never dropped for backpressure: see {@link writableNeedDrain}.
 *
 * All times are epoch **milliseconds** from the {@link Clock}.
 */
export class XmlStreamImpl implements XmlStream {
  readonly connectionId: string;
  readonly kind: StreamKind;
  readonly transport = 'tcp' as const;
  readonly remoteAddress: string;
  readonly supportsWhitespaceKeepalive = true;
  readonly slots = new SlotMap<StreamKey<unknown>>();
  readonly closed: Promise<CloseInfo>;
  /** The `xml:lang` of the peer's header (set when it is delivered), default `en`; the host may override. */
  lang = 'en';
  /** Set by the host after SASL (c2s) or the handshake (component). */
  authenticatedJid: JID | undefined;
  /** Set by the host once a session is bound or resumed. */
  session: Session | undefined;
  /**
   * Last time a stanza (message, presence, iq) was parsed; starts at construction time.
   * Updated automatically; the host may set it.
   */
  lastStanzaAt: number;

  private socket: net.Socket;
  /** The accepted socket; differs from `socket` after STARTTLS. */
  private readonly rawSocket: net.Socket;
  private readonly parser: StreamParser;
  private readonly delegate: StreamDelegate;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly closeHandshakeMs: number;
  private readonly headerDefaults: Record<string, string>;
  private resolveClosed!: (info: CloseInfo) => void;

  private _streamId = newStreamId();
  private _secure: boolean;
  private _state: StreamState = 'opening';
  private _lastReadAt: number;
  private _lastWriteAt: number;
  private _incompleteSince: number | undefined;
  private headerSent = false;

  private queue: Item[] = [];
  private head = 0;
  private pumping = false;
  private paused = false;

  private closing: Promise<void> | undefined;
  /** Stops the pump from waiting for the delivery in flight. */
  private releaseInFlight: (() => void) | undefined;
  private closeOptions: CloseOptions = {};
  private closeTimer: Timer | undefined;
  /** Our close tag is written: nothing more may be written. */
  private outputClosed = false;
  /** No more input will be delivered (peer's close tag or EOF processed, or a parse error). */
  private inputDone = false;
  private peerCloseParsed = false;
  private peerClosedFirst = false;
  private eofQueued = false;
  private peerError: StreamErrorSpec | undefined;

  constructor(options: XmlStreamOptions) {
    this.socket = this.rawSocket = options.socket;
    this.kind = options.kind;
    this._secure = options.secure;
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.delegate = options.delegate;
    this.connectionId = options.connectionId;
    this.closeHandshakeMs = options.closeHandshakeMs;
    this.headerDefaults = options.headerDefaults ?? {};
    this.log = options.logger.child({ connectionId: options.connectionId });
    this.remoteAddress = options.socket.remoteAddress ?? '';
    this._lastReadAt = this._lastWriteAt = this.lastStanzaAt = this.clock.now();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));

    this.parser = new StreamParser(options.limits);
    this.parser.on('streamStart', (attrs, nsAttrs) => this.enqueue({ kind: 'header', attrs: { ...nsAttrs, ...attrs } }));
    this.parser.on('element', this.onParsedElement);
    this.parser.on('streamEnd', () => {
      this.peerCloseParsed = true;
      this.enqueue({ kind: 'peer-close' });
    });
    this.parser.on('error', (condition, text) => this.enqueue({ kind: 'error', spec: { condition, text } }));
    this.wire(this.socket);
  }

  /** The current stream header id; a new one is generated at every (re)start. */
  get streamId(): string {
    return this._streamId;
  }
  /** True when the bytes are protected by TLS (direct TLS, or after {@link startTls}). */
  get secure(): boolean {
    return this._secure;
  }
  /**
   * `opening` until our header is written (again after each restart), `open`, `closing` from the
   * call to `close()` (our close tag follows `onClosing`), `closed`.
   */
  get state(): StreamState {
    return this._state;
  }
  /** Last time bytes were read. */
  get lastReadAt(): number {
    return this._lastReadAt;
  }
  /** Last time bytes were written. */
  get lastWriteAt(): number {
    return this._lastWriteAt;
  }
  /**
   * When the stream header or top-level element being received began to arrive (epoch ms), while
   * one is incomplete; undefined otherwise, and while reading is paused by us (our backlog must not
   * count against the peer). The host closes streams that stay incomplete for `timeouts.stanza`.
   */
  get incompleteSince(): number | undefined {
    return this.paused ? undefined : this._incompleteSince;
  }
  /** True while the socket's write buffer is above its high-water mark (writes are still accepted). */
  get writableNeedDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  /**
   * Writes our stream header `<?xml version='1.0'?><stream:stream …>` with the current
   * {@link streamId} (RFC 6120 §4.2). Defaults: `xmlns` by kind (`jabber:client` or
   * `jabber:component:accept`), `xmlns:stream`, and for c2s `version='1.0'` and `xml:lang='en'`;
   * `attrs` (typically `from`) add to or override them, an `undefined` value removes one. `id`
   * is always {@link streamId}.
   * @returns false when nothing may be written any more.
   */
  openStream(attrs: Record<string, string | undefined> = {}): boolean {
    if (!this.write(this.headerXml(attrs))) return false;
    this.headerSent = true;
    if (this._state === 'opening') this._state = 'open';
    return true;
  }

  /**
   * Restarts the stream (RFC 6120 §4.3.3, after STARTTLS `<proceed/>` or SASL `<success/>`): new
   * parser, new {@link streamId}, state `opening` until {@link openStream}. Elements parsed but
   * not yet delivered are dropped: they were sent before the restart (defence against injected
   * plaintext, as in CVE-2011-0411). Call it in the same tick as writing `<success/>`, before
   * awaiting anything, so no byte of the new stream is read by the old parser; called
   * synchronously from `onElement`, bytes of the new stream that arrived in the same read as the
   * triggering element are kept (pipelining). No-op once closing.
   */
  restart(): void {
    this.restartStream(false);
  }

  private restartStream(discardRest: boolean): void {
    if (this._state === 'closing' || this._state === 'closed') return;
    this.queue = this.queue.slice(this.head).filter((item) => item.kind === 'eof');
    this.head = 0;
    // A close tag parsed before the restart belonged to the old stream and was just dropped.
    this.peerCloseParsed = false;
    this.parser.reset({ discardRest });
    this._incompleteSince = undefined;
    this._streamId = newStreamId();
    this.headerSent = false;
    this._state = 'opening';
    this.resumeIfDrained();
  }

  /**
   * Upgrades the plain socket to TLS as the server (RFC 6120 §5.4.3.3) and restarts the stream.
   * Write `<proceed/>` first and call this in the same tick.
   * @returns resolves once the TLS handshake completed ({@link secure} is then true); rejects if
   *   the stream closes first (a failed handshake closes it as a transport error).
   */
  startTls(secureContext: tls.SecureContext): Promise<void> {
    if (this._secure) return Promise.reject(new Error('the stream is already secure'));
    if (this._state === 'closing' || this._state === 'closed') {
      return Promise.reject(new Error(`cannot start TLS on a ${this._state} stream`));
    }
    const plain = this.socket;
    this.flushWrites(); // <proceed/> goes out in plaintext before the TLS layer takes the socket
    this.unwire(plain);
    plain.on('error', (err) => this.log.debug({ err }, 'error on the socket under TLS'));
    const socket = new tls.TLSSocket(plain, { isServer: true, secureContext });
    this.socket = socket;
    this.paused = false;
    this.wire(socket);
    this.restartStream(true); // plaintext read after <starttls/> is dropped
    return new Promise<void>((resolve, reject) => {
      socket.once('secure', () => {
        this._secure = true;
        resolve();
      });
      void this.closed.then(() => reject(new Error('stream closed before the TLS handshake completed')));
    });
  }

  /**
   * Writes a nonza (RFC 6120 top-level element other than a stanza).
   * @returns false when nothing may be written any more (our close tag was written, or closed).
   * @throws Error for message, presence and iq: stanzas go through `Session.send`.
   */
  writeNonza(el: Element): boolean {
    if (isStanza(el)) throw new Error(`writeNonza refuses the stanza <${el.name}/>: use Session.send`);
    return this.write(el.toString());
  }

  /**
   * Writes a stanza as is. **Only for the host's `Session` implementation** (the last step of
   * the outbound interceptor chain, and `Session.retransmit`); everything else uses `Session.send`.
   * @returns false when nothing may be written any more.
   */
  writeStanza(el: Element): boolean {
    return this.write(el.toString());
  }

  /**
   * Writes serialised XML as is, for host internals (e.g. a pre-serialised element).
   * @returns false when nothing may be written any more.
   */
  writeRaw(text: string): boolean {
    return this.write(text);
  }

  /** Writes a single space (RFC 6120 §4.6.1) while the stream is `open`; no-op otherwise. */
  sendKeepalive(): void {
    if (this._state === 'open') this.write(' ');
  }

  /**
   * Closes with the RFC 6120 §4.4 / XEP-0190 handshake: state `closing`, awaits
   * {@link StreamDelegate.onClosing}, writes our header if none was sent yet (§4.9.1.2), the
   * optional `<stream:error/>` and `</stream:stream>`, then nothing more. Input is still read and
   * delivered until the peer's close tag or EOF, then the socket is ended; if the peer closed
   * first, it is ended at once. If `timeoutMs` (default `closeHandshakeMs`, **milliseconds**,
   * counted from this call) passes first, the socket is destroyed without writing anything more.
   * Idempotent: later calls return the first call's promise and ignore their options.
   * May be awaited from `onHeader`/`onElement`/`onPeerClose`, not from `onClosing` (deadlock).
   * @returns resolves when the stream is closed.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this._state === 'closed') return Promise.resolve();
    this.closing ??= this.runClose(options);
    return this.closing;
  }

  /**
   * Destroys the socket at once, without handshake; {@link CloseInfo} has initiator `transport`
   * and `endSession: false`. Idempotent.
   */
  destroy(reason = 'destroyed'): void {
    if (this._state === 'closed') return;
    this.destroySocket();
    if (this._state === 'closing') {
      // A close already decided the session's fate (e.g. an idle close ends it): a destroy in the
      // middle of that handshake must not turn it into a resumable transport loss.
      this.finishClose(true);
      return;
    }
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason });
  }

  // ---------------------------------------------------------------- input

  private readonly onData = (chunk: Buffer): void => {
    if (this._state === 'closed') return;
    const now = (this._lastReadAt = this.clock.now());
    const boundaries = this.parser.boundaries;
    this.parser.write(chunk);
    if (!this.parser.incomplete) this._incompleteSince = undefined;
    else if (this._incompleteSince === undefined || this.parser.boundaries !== boundaries) this._incompleteSince = now;
  };

  private readonly onSocketEnd = (): void => this.transportGone('eof');
  private readonly onSocketClose = (): void => this.transportGone('socket-closed');
  private readonly onSocketError = (err: Error): void => {
    this.log.debug({ err }, 'socket error');
    this.transportGone('socket-error');
  };

  private wire(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onSocketEnd);
    socket.on('close', this.onSocketClose);
    socket.on('error', this.onSocketError);
  }

  private unwire(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onSocketEnd);
    socket.off('close', this.onSocketClose);
    socket.off('error', this.onSocketError);
  }

  /**
   * EOF or socket gone. During a close handshake (ours, or the peer's close tag already parsed)
   * the elements read before are still delivered; otherwise it is a loss of transport.
   */
  private transportGone(reason: string): void {
    if (this._state === 'closed') return;
    if (this._state === 'closing' || this.peerCloseParsed) {
      if (!this.eofQueued) {
        this.eofQueued = true;
        this.enqueue({ kind: 'eof' });
      }
      return;
    }
    this.destroySocket();
    this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason });
  }

  private readonly onParsedElement = (el: Element): void => {
    if (isStanza(el)) this.lastStanzaAt = this._lastReadAt; // parsed from the bytes just read
    else if (el.getName() === 'error' && el.getNS() === NS.STREAM) {
      this.peerError = parseStreamError(el);
      return;
    }
    this.enqueue({ kind: 'element', el });
  };

  private enqueue(item: Item): void {
    if (this._state === 'closed') return;
    this.queue.push(item);
    if (this._state === 'closing' && item.kind !== 'element' && item.kind !== 'header') this.releaseInFlight?.();
    if (!this.paused && this.queue.length - this.head > QUEUE_HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
    }
    if (!this.pumping) void this.pump();
  }

  private resumeIfDrained(): void {
    if (this.paused && this.head >= this.queue.length) {
      this.paused = false;
      if (this._incompleteSince !== undefined) this._incompleteSince = this.clock.now();
      this.socket.resume();
    }
  }

  /** Delivers queued items one at a time, in order. Started synchronously when idle. */
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
        const delivery = this.deliver(item).catch((err: unknown) =>
          this.log.error({ err, item: item.kind }, 'stream delegate failed'),
        );
        // A handler may await close(), which waits for input queued behind it: stop waiting for
        // the item in flight when close() starts or, while closing, when the input ends — also
        // when its end is already queued behind this item (else the close would wait for its
        // timeout: found by fuzzing).
        let release!: () => void;
        const released = new Promise<void>((resolve) => (release = resolve));
        this.releaseInFlight = release;
        if (this._state === 'closing' && this.inputEndQueued()) release();
        await Promise.race([delivery, released]);
        this.releaseInFlight = undefined;
        // Fairness: processing is a chain of microtasks that would otherwise run a whole burst
        // without letting the event loop read other sockets (e.g. a receiver's acks).
        if (++this.deliveredSinceYield >= YIELD_EVERY) {
          this.deliveredSinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } finally {
      this.pumping = false;
      if (this.flushWhenIdle) this.flushWrites();
    }
  }

  /** True when the peer's close tag, EOF or a parse error waits in the queue. */
  private inputEndQueued(): boolean {
    for (let i = this.head; i < this.queue.length; i++) {
      const kind = this.queue[i]!.kind;
      if (kind !== 'element' && kind !== 'header') return true;
    }
    return false;
  }

  private async deliver(item: Item): Promise<void> {
    switch (item.kind) {
      case 'header':
        this.lang = item.attrs['xml:lang'] ?? 'en';
        await this.delegate.onHeader(this, item.attrs);
        return;
      case 'element':
        await this.delegate.onElement(this, item.el);
        return;
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
        // The parser ignores everything after an error: no close tag can come from the peer.
        this.inputDone = true;
        void this.close({ error: item.spec, endSession: true, reason: 'stream-error' });
        return this.endIfHandshakeDone();
      case 'eof':
        this.inputDone = true;
        if (this._state !== 'closing') {
          // EOF queued behind a close tag that a restart dropped: a plain loss of transport.
          this.destroySocket();
          this.finish({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason: 'eof' });
          return;
        }
        return this.endIfHandshakeDone();
    }
  }

  // ---------------------------------------------------------------- output and closing

  private write(data: string): boolean {
    if (this.outputClosed || this._state === 'closed') return false;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return false;
    if (this.corkedSocket !== socket) {
      // Batch every write of this tick (the whole microtask cascade of processing one input
      // chunk) into one socket write: far fewer syscalls and TLS records per stanza. The batch is
      // one concatenated string rather than corked writes: a writev of many small strings costs
      // a write request and a conversion per chunk.
      this.flushWrites();
      this.corkedSocket = socket;
      queueMicrotask(this.scheduleFlush);
      this._lastWriteAt = this.clock.now(); // once per batch: the whole batch goes out this tick
    }
    this.pendingOut += data;
    return true;
  }

  /** A held batch (see {@link COALESCE_MAX_CHARS}) waits for the backlog to be processed. */
  private flushWhenIdle = false;

  /** Re-checks a held batch after the work queued meanwhile (bounded by the size and time limits). */
  private readonly recheckFlush = (): void => {
    if (this.flushWhenIdle) setImmediate(this.tickFlush);
  };

  /** The socket whose writes are batched until the next tick, if any. */
  private corkedSocket: net.Socket | undefined;
  /** The text batched for {@link corkedSocket}. */
  private pendingOut = '';

  /**
   * Schedules the flush after every microtask of this tick. A `process.nextTick` queued directly
   * from the synchronous part of an I/O callback (the first element of a read is delivered
   * synchronously) would run *before* the microtasks: the stream header would go out alone,
   * before the features written one `await` later (two packets and wake-ups per negotiation
   * step). Queued from a microtask, the tick runs once the microtask queue is drained.
   */
  private readonly scheduleFlush = (): void => {
    process.nextTick(this.tickFlush);
  };

  /**
   * The end of a tick's batch: sends it, unless our own backlog is still being processed (then it
   * is held, see {@link COALESCE_MAX_CHARS}, and flushed when the pump is idle or a limit is hit).
   */
  private readonly tickFlush = (): void => {
    if (!this.corkedSocket) return;
    if (
      this.pumping &&
      this.head < this.queue.length &&
      this.pendingOut.length < COALESCE_MAX_CHARS &&
      this.clock.now() - this._lastWriteAt < COALESCE_MAX_MS
    ) {
      this.flushWhenIdle = true;
      process.nextTick(this.recheckFlush);
      return;
    }
    this.flushWrites();
  };

  /** Sends the writes batched so far, now. */
  private readonly flushWrites = (): void => {
    this.flushWhenIdle = false;
    const s = this.corkedSocket;
    if (!s) return;
    const out = this.pendingOut;
    this.corkedSocket = undefined;
    this.pendingOut = '';
    if (!s.destroyed && s.writable) s.write(out);
  };

  private headerXml(attrs: Record<string, string | undefined>): string {
    const all: Record<string, string | undefined> = {
      xmlns: this.kind === 'component' ? NS.COMPONENT_ACCEPT : NS.CLIENT,
      'xmlns:stream': NS.STREAM,
      id: undefined,
      from: undefined,
      to: undefined,
      ...(this.kind === 'c2s' ? { version: '1.0', 'xml:lang': 'en' } : {}),
      ...this.headerDefaults,
      ...attrs,
    };
    all.id = this._streamId;
    let out = "<?xml version='1.0'?><stream:stream";
    for (const name in all) {
      const value = all[name];
      if (value !== undefined) out += ` ${name}='${escapeXML(value)}'`;
    }
    return `${out}>`;
  }

  private async runClose(options: CloseOptions): Promise<void> {
    this._state = 'closing';
    this.closeOptions = options;
    this.releaseInFlight?.();
    this.closeTimer = this.scheduler.setTimeout(() => {
      if (this._state === 'closed') return;
      this.log.debug('close handshake timed out');
      this.destroySocket();
      this.finishClose(true);
    }, options.timeoutMs ?? this.closeHandshakeMs);
    try {
      await this.delegate.onClosing(this, { error: options.error, reason: options.reason });
    } catch (err) {
      this.log.error({ err }, 'onClosing failed');
    }
    if ((this._state as StreamState) !== 'closed') {
      let out = this.headerSent ? '' : this.headerXml({});
      if (options.error) out += streamError(options.error).toString();
      this.write(out + CLOSE_TAG);
      this.outputClosed = true;
      this.endIfHandshakeDone();
    }
    await this.closed;
  }

  /** Ends the socket once our close tag is written and no more input will be delivered. */
  private endIfHandshakeDone(): void {
    if (!this.outputClosed || !this.inputDone || this._state === 'closed') return;
    const socket = this.socket;
    if (!socket.destroyed) {
      this.flushWrites();
      socket.end();
      if (this.paused) socket.resume(); // read the peer's FIN
      // A peer that never closes its side must not hold the connection.
      const timer = this.scheduler.setTimeout(() => this.destroySocket(), this.closeHandshakeMs);
      socket.once('close', () => timer.cancel());
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

  private destroySocket(): void {
    this.corkedSocket = undefined;
    this.pendingOut = '';
    this.socket.destroy();
    if (this.rawSocket !== this.socket) this.rawSocket.destroy();
  }

  private finish(info: CloseInfo): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.closeTimer?.cancel();
    this.queue = [];
    this.head = 0;
    if (info.error === undefined) delete info.error;
    if (info.reason === undefined) delete info.reason;
    this.resolveClosed(info);
    try {
      void Promise.resolve(this.delegate.onClosed(this, info)).catch((err: unknown) =>
        this.log.error({ err }, 'onClosed failed'),
      );
    } catch (err) {
      this.log.error({ err }, 'onClosed failed');
    }
  }
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
