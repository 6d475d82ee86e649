/**
 * Contribution points (multi-bound tokens) collected by the host. See the priority table in
 * the package README: **higher priority runs first** (outermost for interceptors).
 *
 * Contribute through your concrete class so that users can `rebind` it:
 * ```ts
 * bind(SmFeatureImpl).toSelf().inSingletonScope();
 * bind(StreamFeatureProvider).toService(SmFeatureImpl);
 * ```
 */
import type { Element } from './xml.js';
import type { JID } from './jid.js';
import type { CloseInfo, SendResult, Session, SessionEndReason, XmlStream } from './stream.js';

/** The context of a stream-level event before or after binding. */
export interface StreamContext {
  readonly stream: XmlStream;
  /** Authenticated JID (bare for c2s); undefined before SASL success. */
  readonly authenticatedJid: JID | undefined;
  /** The bound session; undefined before bind (or resumption). */
  readonly session: Session | undefined;
}

/** When stream features are offered: before authentication (after TLS) or after it. */
export type FeatureStage = 'pre-auth' | 'post-auth';

/** Contributes children of `<stream:features/>` (RFC 6120 §4.3.2). */
export interface StreamFeatureProvider {
  /** Features are emitted in descending priority. */
  readonly priority: number;
  /** Elements to add at `stage`; return `[]` to offer nothing on this stream. */
  offer(ctx: StreamContext, stage: FeatureStage): Element[];
}
export const StreamFeatureProvider = Symbol.for('@strand/core/StreamFeatureProvider');

/**
 * Handles top-level non-stanza elements (nonzas) by namespace and local name. Nonzas with no
 * handler get the `unsupported-stanza-type` stream error. Handlers run for authenticated and
 * unauthenticated streams alike and must check `ctx` themselves.
 *
 * A handler may complete negotiation instead of resource binding (XEP-0198 resumption) by calling
 * {@link SessionRegistry.attachStream}. Throw {@link StreamErrorException} to close the stream
 * with a stream error.
 */
export interface NonzaHandler {
  readonly xmlns: string;
  readonly names: readonly string[];
  handle(ctx: StreamContext, el: Element): void | Promise<void>;
}
export const NonzaHandler = Symbol.for('@strand/core/NonzaHandler');

/** The context of an iq addressed to the server or to a user's bare JID. */
export interface IqContext {
  /** The iq with `from` stamped by the host. */
  readonly iq: Element;
  /** The sender's session when the iq comes from a local client; undefined otherwise. */
  readonly session: Session | undefined;
  readonly from: JID;
  /** The addressee: the server's domain or a bare JID (the sender's own when `to` was absent). */
  readonly to: JID;
  /** The payload (first child element). */
  readonly payload: Element;
}

/**
 * Handles iq get/set by payload (namespace, local name) and type, for iqs addressed to the server
 * (also iqs without `to`, RFC 6120 §8.1.1.1) or to a user's bare JID (RFC 6121 §8.5.1).
 * Return the result payload (or nothing for an empty result); throw {@link StanzaError} for an
 * error reply. Unhandled get/set get `service-unavailable` (RFC 6120 §8.4).
 */
export interface IqHandler {
  readonly xmlns: string;
  readonly element: string;
  readonly types: readonly ('get' | 'set')[];
  /** `server`: only iqs to the domain (or without `to`); `account`: to a bare JID; `both`. */
  readonly target: 'server' | 'account' | 'both';
  handle(ctx: IqContext): Promise<Element | void> | Element | void;
}
export const IqHandler = Symbol.for('@strand/core/IqHandler');

/** The context of one inbound stanza from a local stream. */
export interface StanzaContext {
  /** The stanza, `from` already stamped with the sender's full JID. */
  readonly stanza: Element;
  /** The stream it came from. */
  readonly stream: XmlStream;
  /** The sending session (c2s); undefined for component streams. */
  readonly session: Session | undefined;
  readonly from: JID;
  /** The parsed `to`; undefined when absent. */
  readonly to: JID | undefined;
}

/**
 * Consumes stanzas before default routing, by priority. Return true when the stanza was
 * consumed (answered, dropped on purpose, or routed elsewhere). Throw {@link StanzaError}
 * to answer with an error.
 */
export interface StanzaHandler {
  readonly priority: number;
  handle(ctx: StanzaContext): Promise<boolean> | boolean;
}
export const StanzaHandler = Symbol.for('@strand/core/StanzaHandler');

/**
 * Wraps the processing of every inbound stanza of a stream. Inbound stanzas of one stream are
 * processed strictly one at a time, in order; `next()` resolves when the host is done with it
 * (including when the host answered with a stanza error, which still counts as handled).
 * Higher priority is further outside.
 */
export interface InboundStanzaInterceptor {
  readonly priority: number;
  intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void>;
}
export const InboundStanzaInterceptor = Symbol.for('@strand/core/InboundStanzaInterceptor');

/** The context of one stanza on its way to a client session. */
export interface OutboundContext {
  readonly session: Session;
  readonly stanza: Element;
  /**
   * Present only when the interceptor receiving this context is the innermost one (its `next` is
   * the host's write itself): writes {@link stanza} to the attached stream synchronously and
   * returns what `next()` would resolve with (`'written'` or `'refused'`). An interceptor calls
   * either this or `next()`, at most once. It lets an interceptor that must act in the same step as
   * the write (stream management records what it wrote) do without a promise per stanza.
   */
  readonly writeNow?: () => SendResult;
}

/**
 * Wraps every stanza sent to a client through {@link Session.send}. The innermost step writes to
 * the attached stream (`'written'`) or reports `'refused'` when none can take it. An interceptor
 * may resolve `'held'` without calling `next()` when it takes responsibility for the stanza
 * (stream management while the session hibernates). Higher priority is further outside.
 * Interceptors must not reorder the stanzas of one session: a send must not reach the stream
 * before an earlier send to the same session (stream management counts stanzas in wire order).
 */
export interface OutboundStanzaInterceptor {
  readonly priority: number;
  intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult>;
}
export const OutboundStanzaInterceptor = Symbol.for('@strand/core/OutboundStanzaInterceptor');

/**
 * Per-connection lifecycle. All methods optional; run in descending priority. Errors thrown by a
 * listener are logged with the plugin name and do not stop the others.
 */
export interface StreamListener {
  readonly priority: number;
  /** The stream header was received and answered. Runs again after each stream restart. */
  onOpened?(stream: XmlStream): void;
  /** SASL (or the component handshake) succeeded. */
  onAuthenticated?(ctx: StreamContext): void;
  /**
   * Nothing was read for the host's read timeout. Listeners run by priority until one returns
   * `'handled'` (e.g. SM sends `<r/>`, keepalive sends an XEP-0199 ping); it then owns the
   * follow-up (deciding the peer is dead). If all pass, the host does nothing.
   */
  onReadTimeout?(ctx: StreamContext): 'handled' | 'pass' | Promise<'handled' | 'pass'>;
  /**
   * The stream is about to write its close tag — because we called `close()` or because the peer
   * sent its `</stream:stream>` (`options.reason === 'peer-close'`): the last chance to write a
   * nonza (SM writes its final `<a/>`). Not called when the transport dies without a handshake.
   * Never await `stream.close()` from here.
   */
  onClosing?(ctx: StreamContext, options: { error?: CloseInfo['error']; reason?: string }): void | Promise<void>;
  /** The stream is gone (after handshake, EOF, error or destroy). Nothing can be written. */
  onClosed?(ctx: StreamContext, info: CloseInfo): void | Promise<void>;
}
export const StreamListener = Symbol.for('@strand/core/StreamListener');

/** Per-session lifecycle. All methods optional; run in descending priority. */
export interface SessionListener {
  readonly priority: number;
  /** A resource was bound (RFC 6120 §7). */
  onBound?(session: Session): void | Promise<void>;
  /**
   * The session's stream was lost without ending the session (transport error, ack timeout,
   * dead peer, `close({ endSession: false })`). Return true to claim the session: it stays
   * registered and `detached` until the claimer attaches a stream or ends it. If nobody claims it,
   * the session ends with reason `transport-lost`.
   */
  onTransportLost?(session: Session, info: CloseInfo): boolean | Promise<boolean>;
  /** A new stream was attached to the session (resumption); `previous` may still be closing. */
  onResumed?(session: Session, stream: XmlStream, previous: XmlStream | undefined): void | Promise<void>;
  /**
   * The session ended for good. Fired exactly once per session, after it was removed from the
   * registry (so re-routing its held stanzas does not find it again).
   */
  onEnded?(session: Session, reason: SessionEndReason): void | Promise<void>;
  /**
   * The session is being handed over to another node (`SessionHandover.claim` there). Quiesce:
   * let in-flight work on the session finish, cancel timers and forget node-local bookkeeping,
   * and from now on leave the session's slots unchanged — when every listener has resolved, the
   * host serialises the slots with their codecs. The session then leaves this node **without**
   * `onEnded` (it lives on elsewhere); its stream, if any, was already detached and is closed
   * with `<conflict/>` (stream events only). Later sends to it are refused and re-routed to the
   * new node by the host.
   */
  onDeparting?(session: Session): void | Promise<void>;
  /**
   * A session handed over from another node was rebuilt here, `detached`, with its slots
   * decoded: re-arm timers and node-local bookkeeping. The claimer attaches a stream next.
   */
  onArrived?(session: Session): void | Promise<void>;
}
export const SessionListener = Symbol.for('@strand/core/SessionListener');

/** Disco#info features/identities contributed by plugins (XEP-0030). */
export interface DiscoFeatureProvider {
  /** Features of the server's own JID (e.g. `urn:xmpp:ping`). */
  readonly serverFeatures?: readonly string[];
  /** Features of a user's bare JID (account). */
  readonly accountFeatures?: readonly string[];
}
export const DiscoFeatureProvider = Symbol.for('@strand/core/DiscoFeatureProvider');
