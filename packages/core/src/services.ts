/**
 * Single-bound service tokens with default `XxxImpl`s provided by the host (or by
 * `@strand/testing`). Replace one with `rebind(Token)` in an override module.
 */
import type { Element } from './xml.js';
import type { JID } from './jid.js';
import type { Session, SessionEndReason, XmlStream } from './stream.js';

/** Source of time. All values are epoch **milliseconds**. */
export interface Clock {
  now(): number;
}
export const Clock = Symbol.for('@strand/core/Clock');

/** A scheduled callback. */
export interface Timer {
  /** Cancels the callback; idempotent. */
  cancel(): void;
  /** False once fired (one-shot) or cancelled. */
  readonly active: boolean;
}

/**
 * All timers go through the scheduler so that tests can use a fake clock. Delays are in
 * **milliseconds**. Callbacks that throw or reject are logged, never crash the process.
 */
export interface Scheduler {
  setTimeout(fn: () => void | Promise<void>, delayMs: number): Timer;
  setInterval(fn: () => void | Promise<void>, intervalMs: number): Timer;
}
export const Scheduler = Symbol.for('@strand/core/Scheduler');

type LogFn = {
  (msg: string): void;
  (obj: object, msg?: string): void;
};

/** A pino-compatible logger. */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}
export const Logger = Symbol.for('@strand/core/Logger');

/** A labelled counter (prom-client compatible subset). */
export interface CounterMetric {
  inc(labels?: Record<string, string>, value?: number): void;
}
/** A labelled gauge. */
export interface GaugeMetric {
  set(labels: Record<string, string>, value: number): void;
  inc(labels?: Record<string, string>, value?: number): void;
  dec(labels?: Record<string, string>, value?: number): void;
}
/** A labelled histogram; observed values carry their unit in the metric name (`_seconds`). */
export interface HistogramMetric {
  observe(labels: Record<string, string>, value: number): void;
}

/**
 * Metrics registry. Getters are idempotent: asking twice for the same name returns the same
 * metric. Names follow Prometheus conventions and are prefixed `strand_`.
 */
export interface Metrics {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterMetric;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeMetric;
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: number[]): HistogramMetric;
  /** Prometheus text exposition of every metric. */
  expose(): Promise<string>;
}
export const Metrics = Symbol.for('@strand/core/Metrics');

/** Facts about the running server. */
export interface ServerInfo {
  /** The served XMPP domain, e.g. `localhost`. */
  readonly domain: string;
  /** When the server started (epoch ms), answered to probes of the server JID (XEP-0318). */
  readonly startedAt: number;
  readonly name: string;
  readonly version: string;
  /** Connected external component domains with the time each connected (epoch ms). */
  readonly components: ReadonlyMap<string, { connectedAt: number }>;
}
export const ServerInfo = Symbol.for('@strand/core/ServerInfo');

/**
 * The host configuration as plugins see it (the host's loader validates the file). Durations in
 * this object are in **seconds**, as in the file.
 */
export interface HostConfig {
  readonly domain: string;
  readonly timeouts: {
    /** A connection must authenticate within this many seconds. */
    readonly preAuth: number;
    /** How long `XmlStream.close()` waits for the peer's close tag. */
    readonly closeHandshake: number;
    /** Silence after which `StreamListener.onReadTimeout` runs (0 = never). */
    readonly read: number;
  };
  /**
   * Host limits plugins honour. `exemptAddresses`: addresses and CIDR blocks exempt from
   * per-address limits (default loopback, `DEFAULT_EXEMPT_ADDRESSES`; match with `addressMatcher`).
   */
  readonly limits?: {
    readonly exemptAddresses?: readonly string[];
  };
  /** Raw sections of enabled plugins (already validated by each plugin's schema). */
  readonly plugins: Readonly<Record<string, unknown>>;
}
export const HostConfig = Symbol.for('@strand/core/HostConfig');

/** Options for {@link Router.route}. */
export interface RouteOptions {
  /**
   * When the stanza was first accepted by the server (epoch ms). Offline storage stamps it as the
   * XEP-0203 delay; used when re-routing held stanzas of an ended session.
   */
  originalTime?: number;
}

/**
 * Delivers stanzas by RFC 6121 §8.5 (local domain) and to components; produces error bounces
 * for undeliverable stanzas (`service-unavailable`, never a silent drop of messages).
 */
export interface Router {
  /** Routes a stanza whose `from` and `to` are set. Resolves once delivered, stored or bounced. */
  route(stanza: Element, options?: RouteOptions): Promise<void>;
}
export const Router = Symbol.for('@strand/core/Router');

/**
 * Registry of bound sessions on this node. Lookups are async so that a cluster-wide
 * implementation (Redis) fits the same interface.
 */
export interface SessionRegistry {
  /** The session bound to `fullJid`, active or detached. */
  get(fullJid: JID | string): Promise<Session | undefined>;
  /** Every session of the account `bareJid` (active or detached). */
  getByBareJid(bareJid: JID | string): Promise<Session[]>;
  /** Number of sessions on this node. */
  count(): number;
  /**
   * Attaches `stream` to an existing session (stream resumption). The previous stream, if still
   * open, is closed with a `<conflict/>` stream error — which fires stream events only, never
   * {@link SessionListener.onEnded}. Completes negotiation of `stream` (no bind needed).
   * Fires {@link SessionListener.onResumed}.
   * @throws Error if the session has ended or `stream` is not authenticated as the session's bare JID.
   */
  attachStream(session: Session, stream: XmlStream): Promise<void>;
  /**
   * Ends a session for good: closes its stream (if attached) with the handshake and the optional
   * stream error, removes it from the registry and fires `onEnded` once. Used by claimers on
   * expiry and by admin modules.
   */
  end(session: Session, reason: SessionEndReason): Promise<void>;
}
export const SessionRegistry = Symbol.for('@strand/core/SessionRegistry');

/** XMPP IM subscription states (RFC 6121 §3, Appendix A). */
export type Subscription = 'none' | 'to' | 'from' | 'both';

/** One roster item of a user (RFC 6121 §2.1.2) plus the server-side subscription flags. */
export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name?: string;
  subscription: Subscription;
  /** Pending outbound subscription request (`ask='subscribe'`). */
  ask: boolean;
  /** Pending inbound subscription request from the contact ("Pending In"). */
  pendingIn: boolean;
  /** Pre-approved inbound subscription (RFC 6121 §3.4). */
  approved: boolean;
  groups: string[];
  /**
   * False for server-side state the user never added to the roster (e.g. only a pending inbound
   * request); such entries are not returned in roster results or pushes.
   */
  visible: boolean;
  /** The last inbound `subscribe` stanza (serialised), redelivered on login while pending. */
  pendingInStanza?: string;
}

/** A roster with its version (RFC 6121 §2.6). */
export interface Roster {
  version: string;
  items: RosterItem[];
}

/** Roster storage. Users and contacts are bare JID strings. */
export interface RosterStore {
  get(user: string): Promise<Roster>;
  getItem(user: string, contact: string): Promise<RosterItem | undefined>;
  /** Creates or replaces an item. @returns the new roster version. */
  setItem(user: string, item: RosterItem): Promise<string>;
  /** Removes an item. @returns the new roster version. */
  removeItem(user: string, contact: string): Promise<string>;
  /** Removes the whole roster (account deletion). */
  clear(user: string): Promise<void>;
}
export const RosterStore = Symbol.for('@strand/core/RosterStore');

/** A stored presence stanza and when it was set. */
export interface TimedPresence {
  /** The presence as broadcast (its `from` is the full JID, no `to`). */
  stanza: Element;
  /** When it was set (epoch ms). */
  at: number;
}

/** The presence record of one resource. */
export interface ResourcePresence {
  resource: string;
  /** Current broadcast presence while available. */
  current?: TimedPresence;
  /** The last unavailable presence (status and children kept). */
  lastUnavailable?: TimedPresence;
}

/**
 * Per-resource broadcast presence with times (RFC 6121 §4; XEP-0318 reads it). Directed
 * presence is never stored here.
 */
export interface PresenceStore {
  /** Records an available broadcast presence of `fullJid`. */
  setAvailable(fullJid: string, stanza: Element, at: number): Promise<void>;
  /** Records an unavailable presence of `fullJid`: clears `current`, sets `lastUnavailable`. */
  setUnavailable(fullJid: string, stanza: Element, at: number): Promise<void>;
  /** Every resource record of an account. */
  get(bareJid: string): Promise<ResourcePresence[]>;
  /**
   * Turns every `current` into an unavailable presence at `at` (host start after a crash: no
   * session survives a restart). @returns how many were converted.
   */
  markAllUnavailable(at: number): Promise<number>;
  /** Removes everything of an account. */
  clear(bareJid: string): Promise<void>;
}
export const PresenceStore = Symbol.for('@strand/core/PresenceStore');

/** A message waiting in offline storage. */
export interface OfflineMessage {
  /** Store-assigned id, increasing in storage order. */
  id: number;
  stanza: Element;
  /** Original time (epoch ms) — the XEP-0203 delay stamp on delivery. */
  at: number;
}

/** Outcome of storing an offline message. */
export type OfflineStoreResult = 'stored' | 'quota-exceeded';

/** Offline message storage (XEP-0160 behaviour), ordered by original time. */
export interface OfflineStore {
  /** Stores a message for `bareJid`, unless the per-user quota is reached. */
  store(bareJid: string, stanza: Element, at: number): Promise<OfflineStoreResult>;
  /** Messages for `bareJid` ordered by original time, then storage order. */
  list(bareJid: string): Promise<OfflineMessage[]>;
  /** Removes delivered messages by id. */
  remove(bareJid: string, ids: readonly number[]): Promise<void>;
  count(bareJid: string): Promise<number>;
}
export const OfflineStore = Symbol.for('@strand/core/OfflineStore');

/** Salted SCRAM credentials for one hash (RFC 5802 §3); keys base64. */
export interface ScramCredentials {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

/** A stored account: never the password itself. */
export interface AccountRecord {
  /** Localpart (nodeprepped, lower-case). */
  username: string;
  scram: { 'SHA-1': ScramCredentials; 'SHA-256': ScramCredentials };
  createdAt: number;
}

/** Account storage. */
export interface AccountStore {
  get(username: string): Promise<AccountRecord | undefined>;
  /** Creates or replaces an account. */
  put(record: AccountRecord): Promise<void>;
  delete(username: string): Promise<boolean>;
  list(): Promise<string[]>;
}
export const AccountStore = Symbol.for('@strand/core/AccountStore');

/**
 * Creates and verifies accounts. The host's SASL mechanisms use it; admin modules and the CLI
 * create accounts through it.
 */
export interface Authenticator {
  /** Creates (or replaces the password of) an account with salted SCRAM keys. */
  createAccount(username: string, password: string): Promise<void>;
  /** Checks a plaintext password (SASL PLAIN) against the stored keys. */
  verifyPassword(username: string, password: string): Promise<boolean>;
  /** The stored SCRAM credentials for a mechanism hash, for SCRAM exchanges. */
  scramCredentials(username: string, hash: 'SHA-1' | 'SHA-256'): Promise<ScramCredentials | undefined>;
}
export const Authenticator = Symbol.for('@strand/core/Authenticator');

/** Re-exported so that listeners can type `XmlStream` without another import. */
export type { XmlStream };
