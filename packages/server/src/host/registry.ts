/**
 * Session lifecycle and lookup on this node (`SessionRegistry`), including the rules of
 * DESIGN.md: which stream closes end a session, transport-loss claims, resumption, and
 * `onEnded` fired exactly once.
 */
import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'inversify';
import {
  bareOf,
  Clock,
  contributionName,
  Logger,
  notifyAll,
  parseJid,
  type CloseInfo,
  type JID,
  type OutboundStanzaInterceptor,
  type SendResult,
  type Session,
  type SessionEndReason,
  type SessionRegistry,
  type StreamErrorSpec,
  type XmlStream,
} from '@strand/core';
import { HookSetToken, type HookSet } from './hook-set.js';
import type { HostStream } from './host-stream.js';
import { SessionImpl } from './session.js';

/** Thrown by {@link SessionRegistryImpl.bind} when the account has too many resources. */
export class ResourceLimitError extends Error {}

/** Host limit on resources per account; bound by the server from `limits.maxResourcesPerAccount`. */
export const MaxResourcesPerAccount = Symbol.for('@strand/server/MaxResourcesPerAccount');

@injectable()
export class SessionRegistryImpl implements SessionRegistry {
  private readonly byFull = new Map<string, SessionImpl>();
  private readonly byBare = new Map<string, Set<SessionImpl>>();

  constructor(
    @inject(HookSetToken) private readonly hooks: HookSet,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly logger: Logger,
    @inject(MaxResourcesPerAccount) private readonly maxResources: number,
  ) {}

  async get(fullJid: JID | string): Promise<Session | undefined> {
    return this.getLocal(fullJid);
  }

  /** Synchronous lookup for the host's own use. */
  getLocal(fullJid: JID | string): SessionImpl | undefined {
    const j = typeof fullJid === 'string' ? parseJid(fullJid) : fullJid;
    return this.byFull.get(j.toString());
  }

  async getByBareJid(bareJid: JID | string): Promise<Session[]> {
    return this.localByBare(bareOf(bareJid));
  }

  /** Sessions of an account, synchronously. */
  localByBare(bare: string): SessionImpl[] {
    return [...(this.byBare.get(bare) ?? [])];
  }

  /** Every session on this node. */
  all(): IterableIterator<SessionImpl> {
    return this.byFull.values();
  }

  count(): number {
    return this.byFull.size;
  }

  /**
   * Binds a resource (RFC 6120 §7): creates the session for `stream`. A session already bound to
   * the same full JID is replaced (§7.7.2.2 policy "override": the old stream gets `conflict`).
   * @param resource requested resource, or undefined/empty for a server-generated one
   * @throws ResourceLimitError when the account already has `maxResourcesPerAccount` sessions
   */
  async bind(stream: HostStream, resource: string | undefined): Promise<SessionImpl> {
    const account = stream.authenticatedJid;
    if (!account) throw new Error('bind before authentication');
    const res = resource && resource.length > 0 ? resource : randomBytes(9).toString('base64url');
    const jid = parseJid(`${account.bare().toString()}/${res}`);
    const existing = this.byFull.get(jid.toString());
    const others = this.localByBare(jid.bare().toString()).filter((s) => s !== existing);
    if (others.length >= this.maxResources) throw new ResourceLimitError();
    if (existing) {
      // Leaves the registry now; its stream finishes the close handshake in the background.
      void this.end(existing, 'replaced', { condition: 'conflict', text: 'Replaced by a new connection' });
    }
    const session = new SessionImpl(randomBytes(12).toString('base64url'), jid, stream, this.clock.now(), this.outbound);
    this.byFull.set(jid.toString(), session);
    let set = this.byBare.get(session.bare);
    if (!set) {
      set = new Set();
      this.byBare.set(session.bare, set);
    }
    set.add(session);
    stream.session = session;
    await notifyAll(this.hooks.sessionListeners, 'onBound', this.logger, session);
    return session;
  }

  private guardedOutbound: OutboundStanzaInterceptor[] | undefined;

  /**
   * The outbound interceptors with fault isolation: one that throws is logged with its name and
   * the send resolves with what the inner steps did (`'written'`/`'held'`), or `'refused'` when
   * they never ran — the caller then re-routes the stanza like for an unavailable resource
   * (another resource, offline storage or an error bounce), so nothing is lost silently.
   */
  private get outbound(): OutboundStanzaInterceptor[] {
    return (this.guardedOutbound ??= this.hooks.outbound.map((i) => ({
      priority: i.priority,
      intercept: (ctx, next) => {
        let inner: Promise<SendResult> | undefined;
        const fault = (err: unknown): Promise<SendResult> => {
          this.logger.error({ err, plugin: contributionName(i), to: ctx.session.jid.toString() }, 'outbound interceptor failed');
          return inner ? inner.catch((): SendResult => 'refused') : Promise.resolve('refused');
        };
        let p: Promise<SendResult>;
        try {
          p = i.intercept(ctx, () => (inner ??= next()));
        } catch (err) {
          return fault(err);
        }
        return p.then(undefined, fault);
      },
    })));
  }

  async attachStream(session: Session, stream: XmlStream): Promise<void> {
    const s = this.byFull.get(session.jid.toString());
    if (!s || s !== session || s.state === 'ended') throw new Error('session has ended');
    const next = stream as HostStream;
    if (!next.authenticatedJid || next.authenticatedJid.bare().toString() !== s.bare) {
      throw new Error('stream is not authenticated as the session owner');
    }
    const previous = s.stream;
    if (previous) {
      // Detach first: closing the replaced stream must fire stream events only (XEP-0198 §5).
      previous.session = undefined;
      if (previous.state === 'open' || previous.state === 'opening') {
        void previous.close({ error: { condition: 'conflict', text: 'Session resumed on another stream' }, reason: 'resumed', endSession: false });
      }
    }
    s.stream = next;
    s.state = 'active';
    next.session = s;
    await notifyAll(this.hooks.sessionListeners, 'onResumed', this.logger, s, next, previous);
  }

  /**
   * Called by the transport when a stream closed. Ends the session, or asks
   * `onTransportLost` listeners to claim it (DESIGN.md "which closes end a session").
   */
  async streamClosed(stream: HostStream, info: CloseInfo): Promise<void> {
    const s = stream.session as SessionImpl | undefined;
    if (!s || s.stream !== stream || s.state === 'ended') return;
    if (s.endReason || info.endSession) {
      const derived: SessionEndReason =
        info.initiator === 'peer' ? 'closed' : info.reason === 'shutdown' ? 'shutdown' : 'server-close';
      await this.finalize(s, s.endReason ?? derived);
      return;
    }
    s.stream = undefined;
    s.state = 'detached';
    let claimed = false;
    for (const l of this.hooks.sessionListeners) {
      if (!l.onTransportLost) continue;
      try {
        if (await l.onTransportLost(s, info)) {
          claimed = true;
          break;
        }
      } catch (err) {
        this.logger.error({ err, listener: l.constructor?.name }, 'onTransportLost failed');
      }
    }
    if (!claimed) await this.finalize(s, 'transport-lost');
  }

  /**
   * Ends a session: it leaves the registry at once; its stream (if any) is closed with the
   * handshake and the optional stream error (stream listeners still see the session in
   * `onClosing`/`onClosed`), then `onEnded` fires once.
   */
  async end(
    session: Session,
    reason: SessionEndReason,
    error?: StreamErrorSpec,
  ): Promise<void> {
    const s = session as SessionImpl;
    if (s.state === 'ended') return;
    s.endReason ??= reason;
    this.unregister(s);
    const stream = s.stream;
    if (stream && stream.state !== 'closed') {
      await stream.close({ ...(error ? { error } : {}), reason, endSession: true });
      await stream.closed;
    }
    await this.finalize(s, s.endReason);
  }

  private unregister(s: SessionImpl): void {
    const key = s.jid.toString();
    if (this.byFull.get(key) === s) this.byFull.delete(key);
    const set = this.byBare.get(s.bare);
    set?.delete(s);
    if (set && set.size === 0) this.byBare.delete(s.bare);
  }

  private async finalize(s: SessionImpl, reason: SessionEndReason): Promise<void> {
    if (s.state === 'ended') return;
    s.state = 'ended';
    this.unregister(s);
    s.stream = undefined;
    await notifyAll(this.hooks.sessionListeners, 'onEnded', this.logger, s, reason);
  }
}
