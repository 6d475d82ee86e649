/**
 * The transport-level XML stream and the logical session (DESIGN.md "Stream ≠ session").
 */
import type { Element } from './xml.js';
import type { JID } from './jid.js';
import type { StreamErrorSpec } from './errors.js';
import type { SessionKey, Slots, StreamKey } from './slots.js';

/** What the stream carries: client-to-server or external component (XEP-0114). */
export type StreamKind = 'c2s' | 'component';

/** The transport under the stream. */
export type TransportKind = 'tcp' | 'websocket';

/**
 * Lifecycle of an XML stream. `closing` starts when `close()` is called (or the peer's close tag
 * arrived): `onClosing` listeners may still write nonzas, then our close tag is written and
 * nothing more; we keep reading until the peer's close tag, EOF or the handshake timeout.
 */
export type StreamState = 'opening' | 'open' | 'closing' | 'closed';

/** Options of {@link XmlStream.close}. */
export interface CloseOptions {
  /** Stream error written before the close tag (RFC 6120 §4.9). */
  error?: StreamErrorSpec;
  /**
   * How long to wait for the peer's close tag, in **milliseconds**, before destroying the socket
   * without writing anything more. Default: the host's `timeouts.closeHandshake`.
   */
  timeoutMs?: number;
  /**
   * Whether closing ends the bound session (default `true`): deliberate ends such as idle close,
   * kick, shutdown or a protocol violation. `false` treats the close as a loss of transport, so a
   * {@link SessionListener.onTransportLost} claim (stream management) may keep the session.
   */
  endSession?: boolean;
  /** Short machine-readable reason for logs and metrics, e.g. `idle`, `shutdown`, `conflict`. */
  reason?: string;
}

/** How a stream ended, passed to {@link StreamListener.onClosed}. */
export interface CloseInfo {
  /** Who started the end: the peer's close tag, our `close()`, or a transport failure/`destroy()`. */
  initiator: 'peer' | 'server' | 'transport';
  /** The stream error we sent or received, if any. */
  error?: StreamErrorSpec;
  /** True when our close handshake timed out waiting for the peer's close tag. */
  handshakeTimedOut: boolean;
  /** Whether the bound session (if any) ends with this stream. See {@link CloseOptions.endSession}. */
  endSession: boolean;
  reason?: string;
}

/**
 * One transport connection carrying an XML stream (TCP/TLS, WebSocket, component socket).
 *
 * All times are epoch **milliseconds** from the host's {@link Clock}.
 */
export interface XmlStream {
  /** Host-assigned connection id (for logs), not the stream header id. */
  readonly connectionId: string;
  /** The current stream header `id` (changes at every stream restart, RFC 6120 §4.3.3). */
  readonly streamId: string;
  readonly kind: StreamKind;
  readonly transport: TransportKind;
  /** True when the bytes are protected by TLS. */
  readonly secure: boolean;
  /** Remote IP address. */
  readonly remoteAddress: string;
  readonly state: StreamState;
  /** The `xml:lang` of the peer's stream header, default `en`. */
  readonly lang: string;
  /** Authenticated JID (bare for c2s, the component domain for components); undefined before. */
  readonly authenticatedJid: JID | undefined;
  /** The session this stream carries, once bound or resumed. */
  readonly session: Session | undefined;
  /** Last time any byte was read (a WebSocket pong counts as a read). */
  readonly lastReadAt: number;
  /** Last time any byte was written. */
  readonly lastWriteAt: number;
  /** Last time a complete inbound *stanza* was read (not nonzas, not whitespace). */
  readonly lastStanzaAt: number;
  /** False on WebSocket (RFC 7395 forbids whitespace between frames). */
  readonly supportsWhitespaceKeepalive: boolean;
  /** Per-stream plugin state. */
  readonly slots: Slots<StreamKey<unknown>>;

  /**
   * Writes a nonza (a top-level element that is not a stanza: SM acks, SASL, features…).
   * Still allowed during `onClosing`, i.e. until our close tag is written.
   * @returns false when nothing may be written any more (our close tag was written).
   * @throws Error if `el` is a message, presence or iq — stanzas go through {@link Session.send}.
   */
  writeNonza(el: Element): boolean;
  /**
   * Sends a keepalive: a single space on TCP (RFC 6120 §4.6.1), a ping frame on WebSocket.
   * No-op when closing or closed.
   */
  sendKeepalive(): void;
  /**
   * Closes the stream with the RFC 6120 §4.4 / XEP-0190 handshake: runs
   * {@link StreamListener.onClosing}, writes the optional stream error and `</stream:stream>`,
   * then writes nothing more; keeps reading and processing until the peer's close tag or EOF, or
   * until `timeoutMs` passes (then destroys the socket). Idempotent.
   * @returns resolves when the stream is fully closed.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Destroys the transport immediately, without a handshake (the peer is gone or hostile).
   * Counts as a loss of transport: {@link SessionListener.onTransportLost} runs for its session.
   */
  destroy(reason?: string): void;
  /** Resolves once the stream is closed, with how it ended. */
  readonly closed: Promise<CloseInfo>;
}

/** Result of sending a stanza to a session through the outbound interceptor chain. */
export type SendResult = 'written' | 'held' | 'refused';

/** Lifecycle of a session. `detached`: no stream attached but claimed (e.g. SM hibernation). */
export type SessionState = 'active' | 'detached' | 'ended';

/** Why a session ended, passed to {@link SessionListener.onEnded}. */
export type SessionEndReason =
  | 'closed' // the client closed its stream
  | 'transport-lost' // the transport died and nobody claimed the session
  | 'expired' // a claim (e.g. SM resumption window) ran out
  | 'replaced' // a new bind with the same resource took over (resource conflict)
  | 'server-close' // a deliberate server close: idle, kick, protocol violation, queue overflow
  | 'shutdown'; // the server is stopping

/**
 * A logical client session bound to a full JID (RFC 6120 §7). Its stream may be detached and
 * another attached (resumption) without the session ending.
 */
export interface Session {
  /** Host-assigned unique id (for logs and maps). */
  readonly id: string;
  /** The bound full JID. */
  readonly jid: JID;
  readonly state: SessionState;
  /** The attached stream, or undefined while detached. */
  readonly stream: XmlStream | undefined;
  /** When the resource was bound (epoch ms). */
  readonly boundAt: number;
  /** True after initial presence and until unavailable (RFC 6121 §4.2). */
  readonly available: boolean;
  /** Presence priority (RFC 6121 §4.7.2.3), 0 when unset. */
  readonly priority: number;
  /** True once the client requested its roster (it is then an "interested resource", §2.1.6). */
  readonly interested: boolean;
  /** Per-session plugin state; survives resumption. */
  readonly slots: Slots<SessionKey<unknown>>;

  /**
   * Sends a stanza to the client through the {@link OutboundStanzaInterceptor} chain; the final
   * step writes it to the attached stream while that stream is `open` (once a close has started,
   * stanzas are refused and re-routed, or held by stream management). This is the only way
   * stanzas reach a client. The stanza must not be modified once passed here: stream management
   * keeps the element itself for retransmission, and one element may go to several sessions (copy
   * it — `cloneElement` — to send a variant).
   * @returns `'written'`, `'held'` (an interceptor took responsibility, e.g. SM hibernation) or
   *   `'refused'` (no stream could take it; the caller re-routes it like for an unavailable resource).
   */
  send(stanza: Element): Promise<SendResult>;
  /**
   * Writes a stanza on the attached stream **without** running outbound interceptors: only for
   * retransmission of stanzas an interceptor already recorded (XEP-0198 after `<resumed/>`).
   * @returns false when no stream can take it.
   */
  retransmit(stanza: Element): boolean;
}
