/**
 * Ownership of SM-IDs: which live session an SM-ID resumes, and the final `h` of ended sessions
 * kept for `failedHRetention` seconds (XEP-0198 §4: "the server MAY also include a 'h' attribute
 * … (Note: For this to work the server has to store the SM-ID/sequence number tuple past the time
 * out of the actual session.)").
 *
 * A single-bound service so that a cluster can replace the in-memory implementation (Redis) later.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { Clock, type Clock as ClockT, type Session } from '@strand/core';
import type { SmNamespace } from './namespaces.js';
import { generateSmId } from './sm-id.js';

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
   * Generates a fresh SM-ID (never one that is live or retained) and registers `record` under it.
   * @returns the SM-ID
   */
  issue(record: SmIdRecord): string;
  /** The live session of `id`. */
  lookup(id: string): SmIdRecord | undefined;
  /** Forgets the live session of `id`. */
  unregister(id: string): void;
  /**
   * Remembers the final `h` of an ended session for `ttlMs` milliseconds (0: not at all). The ID
   * stays reserved meanwhile.
   */
  /** {@inheritDoc SmIdRegistry.retain} */
  retain(id: string, record: Omit<RetainedSmId, 'expiresAt'>, ttlMs: number): void;
  /** The retained record of `id`, unless expired. */
  retained(id: string): RetainedSmId | undefined;
}
/** DI token of the {@link SmIdRegistry}. */
export const SmIdRegistry = Symbol.for('@strand/stream-management/SmIdRegistry');

/**
 * In-memory {@link SmIdRegistry}. Retained records are pruned lazily in insertion order (which is
 * expiry order, since the retention time is constant), so pruning costs O(1) amortised.
 */
@injectable()
export class MemorySmIdRegistryImpl implements SmIdRegistry {
  private readonly live = new Map<string, SmIdRecord>();
  private readonly kept = new Map<string, RetainedSmId>();
  /** Replaceable for tests of the collision path. */
  generate: () => string = generateSmId;

  constructor(@inject(Clock) private readonly clock: ClockT) {}

  /** {@inheritDoc SmIdRegistry.issue} */
  issue(record: SmIdRecord): string {
    this.prune();
    let id = this.generate();
    for (let i = 0; this.live.has(id) || this.kept.has(id); i++) {
      if (i > 16) throw new Error('SmIdRegistry: cannot generate a fresh SM-ID');
      id = this.generate();
    }
    this.live.set(id, record);
    return id;
  }

  /** {@inheritDoc SmIdRegistry.lookup} */
  lookup(id: string): SmIdRecord | undefined {
    return this.live.get(id);
  }

  /** {@inheritDoc SmIdRegistry.unregister} */
  unregister(id: string): void {
    this.live.delete(id);
  }

  retain(id: string, record: Omit<RetainedSmId, 'expiresAt'>, ttlMs: number): void {
    this.prune();
    if (ttlMs <= 0) return;
    this.kept.delete(id);
    this.kept.set(id, { ...record, expiresAt: this.clock.now() + ttlMs });
  }

  /** {@inheritDoc SmIdRegistry.retained} */
  retained(id: string): RetainedSmId | undefined {
    this.prune();
    return this.kept.get(id);
  }

  /** Number of live and retained SM-IDs (for tests and metrics). */
  get size(): { live: number; retained: number } {
    this.prune();
    return { live: this.live.size, retained: this.kept.size };
  }

  private prune(): void {
    const now = this.clock.now();
    for (const [id, r] of this.kept) {
      if (r.expiresAt > now) break;
      this.kept.delete(id);
    }
  }
}
