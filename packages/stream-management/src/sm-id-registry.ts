/**
 * Ownership of SM-IDs: which live session an SM-ID resumes, and the final `h` of ended sessions
 * kept for `failedHRetention` seconds (XEP-0198 §4: "the server MAY also include a 'h' attribute
 * … (Note: For this to work the server has to store the SM-ID/sequence number tuple past the time
 * out of the actual session.)").
 *
 * Built on the host's core services, so the same code works on one node and on a cluster: live
 * SM-IDs are names in the `SessionHandover` (on a cluster, {@link SmIdRegistry.claim} moves a
 * session from the node that owns it), retained final `h` values go to `SharedState`.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Clock,
  Logger,
  SessionHandover,
  SharedState,
  type Clock as ClockT,
  type JsonValue,
  type Logger as LoggerT,
  type Session,
  type SessionHandover as SessionHandoverT,
  type SharedState as SharedStateT,
} from '@strand/core';
import { isSmNamespace, type SmNamespace } from './namespaces.js';
import { generateSmId } from './sm-id.js';
import { SmSessionKey } from './sm-session.js';

/** A live, resumable SM session. */
export interface SmIdRecord {
  readonly session: Session;
  /** Owner: the bare JID the session was authenticated as (normalised string). */
  readonly bare: string;
  readonly ns: SmNamespace;
}

/** What is remembered of an ended SM session. */
export interface RetainedSmId {
  readonly bare: string;
  readonly ns: SmNamespace;
  /** The final `h` (sm:3/sm:2), or the last echoed `u` (sm:1; may be undefined). */
  readonly h: number | undefined;
  /** Forgotten after this time (epoch ms). */
  readonly expiresAt: number;
}

/** SM-ID issue, lookup and retention. */
export interface SmIdRegistry {
  /**
   * Generates a fresh SM-ID (never one that is live or retained here; IDs carry 144 random bits,
   * so other nodes' IDs never collide in practice) and names `record.session` by it.
   * @returns the SM-ID
   */
  issue(record: SmIdRecord): string;
  /** The live session of `id` on this node. */
  lookup(id: string): SmIdRecord | undefined;
  /**
   * The live session of `id` on any node, moved to this node first when another node owns it
   * (`SessionHandover.claim`). Undefined when unknown, ended, owned by another account than
   * `bare` (that session is left alone), or its node is dead or silent.
   */
  claim(id: string, bare: string): Promise<SmIdRecord | undefined>;
  /** Forgets the live session of `id`. */
  unregister(id: string): void;
  /**
   * The session of `id` is moving to another node: forget it here without withdrawing the name
   * (it moves with the session).
   */
  released(id: string): void;
  /**
   * Remembers the final `h` of an ended session for `ttlMs` milliseconds (0: not at all), on
   * every node. The ID stays reserved meanwhile.
   */
  retain(id: string, record: Omit<RetainedSmId, 'expiresAt'>, ttlMs: number): void;
  /** The retained record of `id` (from any node), unless expired. */
  retained(id: string): Promise<RetainedSmId | undefined>;
}
/** DI token of the {@link SmIdRegistry}. */
export const SmIdRegistry = Symbol.for('@strand/stream-management/SmIdRegistry');

/** Key prefix of retained SM-IDs in `SharedState`. */
const RETAINED_PREFIX = '@strand/stream-management/retained/';

/**
 * The {@link SmIdRegistry}. Retained records are also kept in a local map (pruned lazily in
 * insertion order, which is expiry order since the retention time is constant), so that issuing
 * never reuses an ID retained on this node without waiting for shared storage.
 */
@injectable()
export class SmIdRegistryImpl implements SmIdRegistry {
  private readonly issued = new Set<string>();
  private readonly kept = new Map<string, RetainedSmId>();
  /** Replaceable for tests of the collision path. */
  generate: () => string = generateSmId;

  constructor(
    @inject(Clock) private readonly clock: ClockT,
    @inject(SessionHandover) private readonly handover: SessionHandoverT,
    @inject(SharedState) private readonly shared: SharedStateT,
    @inject(Logger) private readonly logger: LoggerT,
  ) {}

  /** {@inheritDoc SmIdRegistry.issue} */
  issue(record: SmIdRecord): string {
    this.prune();
    let id = this.generate();
    for (let i = 0; this.issued.has(id) || this.kept.has(id) || this.handover.lookup(id); i++) {
      if (i > 16) throw new Error('SmIdRegistry: cannot generate a fresh SM-ID');
      id = this.generate();
    }
    this.issued.add(id);
    this.handover.publish(id, record.session);
    return id;
  }

  /** {@inheritDoc SmIdRegistry.lookup} */
  lookup(id: string): SmIdRecord | undefined {
    const session = this.handover.lookup(id);
    return session ? this.recordOf(session) : undefined;
  }

  /** {@inheritDoc SmIdRegistry.claim} */
  async claim(id: string, bare: string): Promise<SmIdRecord | undefined> {
    const local = this.lookup(id);
    if (local) return local;
    const session = await this.handover.claim(id, bare);
    if (!session) return undefined;
    this.issued.add(id);
    return this.recordOf(session);
  }

  /** {@inheritDoc SmIdRegistry.unregister} */
  unregister(id: string): void {
    this.issued.delete(id);
    this.handover.withdraw(id);
  }

  /** {@inheritDoc SmIdRegistry.released} */
  released(id: string): void {
    this.issued.delete(id);
  }

  /** {@inheritDoc SmIdRegistry.retain} */
  retain(id: string, record: Omit<RetainedSmId, 'expiresAt'>, ttlMs: number): void {
    this.prune();
    if (ttlMs <= 0) return;
    const kept: RetainedSmId = { ...record, expiresAt: this.clock.now() + ttlMs };
    this.kept.delete(id);
    this.kept.set(id, kept);
    const json: JsonValue = { bare: kept.bare, ns: kept.ns, h: kept.h ?? null, expiresAt: kept.expiresAt };
    this.shared.set(RETAINED_PREFIX + id, json, ttlMs).catch((err: unknown) => {
      this.logger.warn({ err }, 'sm: could not share a retained SM-ID (other nodes answer <failed/> without h)');
    });
  }

  /** {@inheritDoc SmIdRegistry.retained} */
  async retained(id: string): Promise<RetainedSmId | undefined> {
    this.prune();
    const local = this.kept.get(id);
    if (local) return local;
    let j: JsonValue | undefined;
    try {
      j = await this.shared.get(RETAINED_PREFIX + id);
    } catch (err) {
      this.logger.warn({ err }, 'sm: reading a retained SM-ID failed');
      return undefined;
    }
    if (!j || typeof j !== 'object' || Array.isArray(j)) return undefined;
    const { bare, ns, h, expiresAt } = j;
    if (typeof bare !== 'string' || typeof ns !== 'string' || !isSmNamespace(ns) || typeof expiresAt !== 'number') return undefined;
    if (expiresAt <= this.clock.now()) return undefined;
    return { bare, ns, h: typeof h === 'number' ? h : undefined, expiresAt };
  }

  /** Number of live SM-IDs issued or claimed here and of retained ones (tests and metrics). */
  get size(): { live: number; retained: number } {
    this.prune();
    for (const id of this.issued) if (!this.handover.lookup(id)) this.issued.delete(id);
    return { live: this.issued.size, retained: this.kept.size };
  }

  private recordOf(session: Session): SmIdRecord | undefined {
    const state = session.slots.get(SmSessionKey);
    if (!state || session.state === 'ended') return undefined;
    return { session, bare: session.jid.bare().toString(), ns: state.ns };
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [id, r] of this.kept) {
      if (r.expiresAt > now) break;
      this.kept.delete(id);
    }
  }
}
