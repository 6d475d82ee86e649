/**
 * Session lifecycle and lookup on this node (`SessionRegistry`), including the rules of
 * DESIGN.md: which stream closes end a session, transport-loss claims, resumption, and
 * `onEnded` fired exactly once.
 */
import { inject, injectable, optional } from 'inversify';
import {
  bareOf,
  randomToken,
  sessionKeyNamed,
  type JsonValue,
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
import { SessionImpl, type SessionView } from './session.js';
import { ClusterLinkToken, type ClusterLink, type EncodedSession } from './cluster-link.js';
import { parseXml } from './xml-parse.js';

/** Thrown by {@link SessionRegistryImpl.bind} when the account has too many resources. */
export class ResourceLimitError extends Error {}

/** Host limit on resources per account; bound by the server from `limits.maxResourcesPerAccount`. */
export const MaxResourcesPerAccount = Symbol.for('@strand/server/MaxResourcesPerAccount');

@injectable()
export class SessionRegistryImpl implements SessionRegistry {
  private readonly byFull = new Map<string, SessionImpl>();
  private readonly bareIndex = new Map<string, Set<SessionImpl>>();

  constructor(
    @inject(HookSetToken) private readonly hooks: HookSet,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly logger: Logger,
    @inject(MaxResourcesPerAccount) private readonly maxResources: number,
    @inject(ClusterLinkToken) @optional() private readonly cluster?: ClusterLink,
  ) {}

  /** The cluster link, when this node is part of a cluster. */
  get clusterLink(): ClusterLink | undefined {
    return this.cluster;
  }

  /**
   * Every session of an account on any node: this node's sessions, then (in a cluster) those on
   * other live nodes.
   */
  byBare(bare: string): SessionView[] {
    const local: SessionView[] = this.localByBare(bare);
    return this.cluster ? local.concat(this.cluster.remoteByBare(bare)) : local;
  }

  /**
   * The session bound to `full` on any node (this node first). A session being handed over to
   * another node is still found here (ended, with `moving` set) until the new owner has it.
   */
  sessionAt(full: JID | string): SessionView | undefined {
    const key = typeof full === 'string' ? full : full.toString();
    return this.byFull.get(key) ?? this.leavingByFull.get(key) ?? this.cluster?.remoteByFull(key);
  }

  /** Sessions leaving this node (hand-over in progress), by full JID. */
  private readonly leavingByFull = new Map<string, SessionImpl>();

  /** The session of `full` being handed over from this node right now, if any. */
  leaving(full: JID | string): SessionImpl | undefined {
    return this.leavingByFull.get(typeof full === 'string' ? full : full.toString());
  }

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
    return [...(this.bareIndex.get(bare) ?? [])];
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
    const res = resource && resource.length > 0 ? resource : randomToken(9);
    const jid = parseJid(`${account.bare().toString()}/${res}`);
    const existing = this.sessionAt(jid);
    const others = this.byBare(jid.bare().toString()).filter((s) => s.jid.toString() !== jid.toString());
    if (others.length >= this.maxResources) throw new ResourceLimitError();
    if (existing instanceof SessionImpl) {
      // Leaves the registry now; its stream finishes the close handshake in the background.
      void this.end(existing, 'replaced', { condition: 'conflict', text: 'Replaced by a new connection' });
    } else if (existing) {
      this.cluster?.kick(existing); // bound on another node: that node ends it with <conflict/>
    }
    const session = new SessionImpl(randomToken(12), jid, stream, this.clock.now(), this.outbound);
    const published = this.add(session);
    stream.session = session;
    if (published) await published; // in a cluster, every node can find the session from now on
    await notifyAll(this.hooks.sessionListeners, 'onBound', this.logger, session);
    return session;
  }

  /**
   * Registers a session locally (and, in a cluster, publishes it).
   * @returns in a cluster, resolves once the directory entry is written
   */
  private add(session: SessionImpl): Promise<void> | undefined {
    this.byFull.set(session.jid.toString(), session);
    let set = this.bareIndex.get(session.bare);
    if (!set) {
      set = new Set();
      this.bareIndex.set(session.bare, set);
    }
    set.add(session);
    if (this.cluster) {
      const cluster = this.cluster;
      session.onChange = (s) => void cluster.published(s);
      return cluster.published(session);
    }
    return undefined;
  }

  // ================================================================== hand-over (cluster)

  /**
   * Hands `session` over to another node (`SessionHandover.claim` there, or a node that stops):
   * detaches its stream and closes it with `error` (default `<conflict/>`; stream events only), lets every `onDeparting` listener quiesce,
   * then removes the session from this node **without** `onEnded` and serialises it. Later sends
   * to the session object are refused; its `moving` promise tells where it went.
   * @returns the encoded session, or undefined if it ended meanwhile
   */
  async depart(
    session: SessionImpl,
    error: StreamErrorSpec = { condition: 'conflict', text: 'Session resumed on another node' },
  ): Promise<EncodedSession | undefined> {
    if (session.state === 'ended') return undefined;
    session.beginMove(); // the caller ends it once the new owner was sent the session
    const key = session.jid.toString();
    this.leavingByFull.set(key, session);
    void session.moving!.then(() => {
      if (this.leavingByFull.get(key) === session) this.leavingByFull.delete(key);
    });
    const previous = session.stream;
    if (previous) {
      previous.session = undefined;
      session.stream = undefined;
      session.state = 'detached';
      if (previous.state === 'open' || previous.state === 'opening') {
        void previous.close({ error, reason: 'resumed', endSession: false });
      }
    }
    for (const l of this.hooks.sessionListeners) {
      if (!l.onDeparting) continue;
      try {
        await l.onDeparting(session);
      } catch (err) {
        this.logger.error({ err, listener: l.constructor?.name }, 'onDeparting failed');
      }
    }
    if ((session.state as string) === 'ended') {
      session.endMove(undefined); // ended while listeners ran
      return undefined;
    }
    const slots: Record<string, JsonValue> = {};
    for (const [key, value] of session.slots.entries()) {
      try {
        slots[key.name] = key.codec.encode(value);
      } catch (err) {
        this.logger.error({ err, slot: key.name }, 'a session slot could not be encoded; it is not handed over');
      }
    }
    const encoded: EncodedSession = {
      v: 1,
      id: session.id,
      jid: session.jid.toString(),
      boundAt: session.boundAt,
      available: session.available,
      priority: session.priority,
      interested: session.interested,
      presence: session.presence ? session.presence.toString() : null,
      directedTo: [...session.directedTo],
      slots,
    };
    session.onChange = undefined;
    session.state = 'ended';
    this.unregister(session, false);
    return encoded;
  }

  /**
   * Rebuilds a session handed over by another node: registered `detached` (no stream), slots
   * decoded by the codecs of the keys declared under their names (unknown or undecodable slots
   * are logged and left out), then `onArrived` fires. The caller attaches a stream next.
   * Sends are held until `releaseSends()` (the previous node's forwarded stanzas go first).
   */
  async adopt(encoded: EncodedSession): Promise<SessionImpl> {
    const jid = parseJid(encoded.jid);
    const session = new SessionImpl(encoded.id, jid, undefined, encoded.boundAt, this.outbound);
    session.state = 'detached';
    session.available = encoded.available;
    session.priority = encoded.priority;
    session.interested = encoded.interested;
    if (encoded.presence) session.presence = parseXml(encoded.presence);
    for (const d of encoded.directedTo) session.directedTo.add(d);
    for (const [name, json] of Object.entries(encoded.slots)) {
      const key = sessionKeyNamed(name);
      if (!key) {
        this.logger.warn({ slot: name }, 'handed-over session slot of an unknown key (plugin not loaded here?) left out');
        continue;
      }
      try {
        session.slots.set(key, key.codec.decode(json));
      } catch (err) {
        this.logger.error({ err, slot: name }, 'a handed-over session slot could not be decoded; left out');
      }
    }
    session.holdSends();
    const replaced = this.byFull.get(session.jid.toString());
    if (replaced) void this.end(replaced, 'replaced', { condition: 'conflict', text: 'Replaced by a resumed session' });
    void this.add(session);
    await notifyAll(this.hooks.sessionListeners, 'onArrived', this.logger, session);
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

  /** Removes `s` from this node's maps; `withdraw`: also from the cluster directory. */
  private unregister(s: SessionImpl, withdraw = true): void {
    const key = s.jid.toString();
    const registered = this.byFull.get(key) === s;
    if (registered) this.byFull.delete(key);
    const set = this.bareIndex.get(s.bare);
    set?.delete(s);
    if (set && set.size === 0) this.bareIndex.delete(s.bare);
    s.onChange = undefined;
    if (registered && withdraw) this.cluster?.removed(s);
  }

  private async finalize(s: SessionImpl, reason: SessionEndReason): Promise<void> {
    if (s.state === 'ended') return;
    s.state = 'ended';
    this.unregister(s);
    s.stream = undefined;
    await notifyAll(this.hooks.sessionListeners, 'onEnded', this.logger, s, reason);
  }
}
