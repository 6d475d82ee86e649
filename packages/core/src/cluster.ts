/**
 * Services that make a plugin work unchanged on one node or on a cluster of nodes (scale-out):
 * {@link SessionHandover} (a session named by a plugin-assigned key, e.g. an XEP-0198 SM-ID, can
 * be found and moved to this node from any node) and {@link SharedState} (small JSON values with a
 * time to live, visible to every node). The host binds in-memory implementations on a single
 * node and Redis-backed ones in a cluster; plugins only see these interfaces.
 * @packageDocumentation
 */
import { injectable, inject } from 'inversify';
import type { Session } from './stream.js';
import type { JsonValue } from './slots.js';
import { Clock } from './services.js';

/**
 * Cluster-wide names for sessions, so that a client reconnecting to any node can get its session
 * back (XEP-0198 §4 resumption behind a load balancer).
 *
 * A key names one live session. On the session's own node {@link lookup} finds it synchronously;
 * on any other node {@link claim} asks the owning node to hand the session over: that node
 * closes the session's stream (if any) with `<conflict/>`, lets every `SessionListener.onDeparting`
 * quiesce, serialises the session (host fields plus every session slot through its codec) and
 * forgets it without firing `onEnded`; this node rebuilds it `detached`, fires
 * `SessionListener.onArrived`, and the claimer attaches its stream (`SessionRegistry.attachStream`).
 * Every key of the session moves with it.
 */
export interface SessionHandover {
  /** Names `session` (which must be bound on this node) by `key`, cluster-wide. Idempotent. */
  publish(key: string, session: Session): void;
  /** Removes the name `key` (the session ended, or the plugin no longer wants it found). */
  withdraw(key: string): void;
  /** The session named `key` if it is on this node (any state but ended). */
  lookup(key: string): Session | undefined;
  /**
   * The session named `key`, moved to this node first if it lives on another one — only if it
   * belongs to the account `bare` (a bare JID string), when given: another account's session is
   * neither moved nor disturbed.
   * @returns undefined when no live session has that name (or not of `bare`), when its node is dead (its sessions
   *   are lost — a crashed node's memory is gone), or when the owning node did not answer within
   *   the host's hand-over timeout. Never throws for those cases.
   */
  claim(key: string, bare?: string): Promise<Session | undefined>;
}
export const SessionHandover = Symbol.for('@strand/core/SessionHandover');

/**
 * Small cluster-wide key/value state with expiry, for plugin facts that must outlive a session
 * and be visible on every node (e.g. the final `h` of an ended SM session for `<failed h/>`).
 * Keys should be prefixed with the plugin's package name. Writes are fire-and-forget friendly:
 * their promise only reports storage errors.
 */
export interface SharedState {
  /** The value of `key`, unless absent or expired. */
  get(key: string): Promise<JsonValue | undefined>;
  /** Sets `key` for `ttlMs` **milliseconds** (must be > 0). */
  set(key: string, value: JsonValue, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
}
export const SharedState = Symbol.for('@strand/core/SharedState');

/**
 * Single-node {@link SessionHandover}: keys name sessions of this process only, so
 * {@link claim} is {@link lookup}. Keys of ended sessions are dropped on lookup.
 */
@injectable()
export class MemorySessionHandoverImpl implements SessionHandover {
  private readonly sessions = new Map<string, Session>();

  publish(key: string, session: Session): void {
    this.sessions.set(key, session);
  }

  withdraw(key: string): void {
    this.sessions.delete(key);
  }

  lookup(key: string): Session | undefined {
    const s = this.sessions.get(key);
    if (s && s.state === 'ended') {
      this.sessions.delete(key);
      return undefined;
    }
    return s;
  }

  async claim(key: string, bare?: string): Promise<Session | undefined> {
    const s = this.lookup(key);
    return s && (bare === undefined || s.jid.bare().toString() === bare) ? s : undefined;
  }

  /** Keys currently published (tests, metrics). */
  get size(): number {
    return this.sessions.size;
  }
}

/**
 * Single-node {@link SharedState} in a Map. Expired entries are pruned lazily in insertion order
 * and on read; memory stays bounded by the number of live keys plus those not yet read.
 */
@injectable()
export class MemorySharedStateImpl implements SharedState {
  private readonly values = new Map<string, { value: JsonValue; expiresAt: number }>();

  constructor(@inject(Clock) private readonly clock: Clock) {}

  async get(key: string): Promise<JsonValue | undefined> {
    this.prune();
    const e = this.values.get(key);
    return e && e.expiresAt > this.clock.now() ? e.value : undefined;
  }

  async set(key: string, value: JsonValue, ttlMs: number): Promise<void> {
    this.prune();
    if (!(ttlMs > 0)) throw new RangeError(`SharedState.set: ttlMs must be > 0 (got ${ttlMs})`);
    this.values.delete(key);
    this.values.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }

  /** Drops expired entries from the front while they are expired (cheap, amortised). */
  private prune(): void {
    const now = this.clock.now();
    for (const [k, e] of this.values) {
      if (e.expiresAt > now) break;
      this.values.delete(k);
    }
  }
}
