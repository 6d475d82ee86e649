/**
 * In-memory {@link SessionRegistry} with the session lifecycle contract of DESIGN.md.
 */
import { inject, injectable } from 'inversify';
import {
  byPriority,
  Clock,
  contributionName,
  JID,
  Logger,
  notifyAll,
  parseJid,
  type CloseInfo,
  type Clock as ClockT,
  type Logger as LoggerT,
  type Session,
  type SessionEndReason,
  type SessionState,
  type SessionRegistry,
  type StreamErrorSpec,
  type XmlStream,
} from '@strand/core';
import { TestHostHooks } from './hooks.js';
import { SessionImpl } from './session.js';
import { FakeStream } from './stream.js';

/** The stream error a registry-initiated end writes before closing the session's stream. */
function errorForReason(reason: SessionEndReason): StreamErrorSpec | undefined {
  if (reason === 'replaced') return { condition: 'conflict', text: 'Replaced by new connection' };
  if (reason === 'shutdown') return { condition: 'system-shutdown' };
  return undefined;
}

/** The session end reason of a stream close that ends its session. */
function reasonForClose(info: CloseInfo): SessionEndReason {
  if (info.initiator === 'peer') return 'closed';
  if (info.reason === 'shutdown' || info.error?.condition === 'system-shutdown') return 'shutdown';
  return 'server-close';
}

const key = (j: JID | string): string => (typeof j === 'string' ? parseJid(j) : j).toString();

/**
 * The test host's session registry. The contract (the real server follows it too):
 *
 * - `bind(stream, resource)`: a bind of a full JID that is already bound ends the old session with
 *   `replaced` (its stream gets a `conflict` stream error), then registers the new one and fires
 *   `onBound`.
 * - `attachStream(session, stream)`: the previous stream (if any) stops carrying the session
 *   (its `session` becomes undefined) and, if still open, is closed with a `conflict` stream error
 *   — that close fires stream events only (`onClosing`/`onClosed`), never `onTransportLost` nor
 *   `onEnded`. Then the session gets the new stream (state `active`) and `onResumed` fires.
 * - When a session's stream closes and the close ends the session (peer's close tag, or
 *   `close({ endSession: true })`, the default) the session is removed from the registry, then
 *   `onEnded(reason)` fires — always after the stream's `onClosed`. Otherwise (destroy, transport
 *   error, `endSession: false`) the session becomes `detached` and `onTransportLost` runs by
 *   priority until one listener returns true (claim: the session stays registered and detached);
 *   unclaimed, it ends with `transport-lost`.
 * - `end(session, reason)`: removes the session at once (state `ended`) and closes its stream if
 *   attached (`conflict` for `replaced`, `system-shutdown` for `shutdown`); it resolves once our
 *   close tag is written. `onEnded` fires once that stream is closed (after its `onClosed`), or
 *   at once when no stream is attached.
 * - `onEnded` fires exactly once per session.
 */
@injectable()
export class TestSessionRegistry implements SessionRegistry {
  private readonly sessions = new Map<string, SessionImpl>();
  private nextId = 1;
  /** Every session that ever ended here, with its reason, in order (assertion helper). */
  readonly endedSessions: Array<{ session: SessionImpl; reason: SessionEndReason }> = [];

  constructor(
    @inject(TestHostHooks) private readonly hooks: TestHostHooks,
    @inject(Logger) private readonly logger: LoggerT,
    @inject(Clock) private readonly clock: ClockT,
  ) {}

  /** {@inheritDoc SessionRegistry.get} */
  async get(fullJid: JID | string): Promise<SessionImpl | undefined> {
    return this.sessions.get(key(fullJid));
  }

  /** {@inheritDoc SessionRegistry.getByBareJid} */
  async getByBareJid(bareJid: JID | string): Promise<SessionImpl[]> {
    const bare = key(typeof bareJid === 'string' ? parseJid(bareJid).bare() : bareJid.bare());
    return [...this.sessions.values()].filter((s) => s.jid.bare().toString() === bare);
  }

  /** {@inheritDoc SessionRegistry.count} */
  count(): number {
    return this.sessions.size;
  }

  /** Every registered session (active or detached), synchronously. */
  all(): SessionImpl[] {
    return [...this.sessions.values()];
  }

  /** The registered session of `fullJid`, synchronously. */
  getSync(fullJid: JID | string): SessionImpl | undefined {
    return this.sessions.get(key(fullJid));
  }

  /**
   * Binds `resource` on an authenticated c2s stream (RFC 6120 §7) and fires `onBound`.
   * @throws Error if the stream is not open, not authenticated or already carries a session
   */
  async bind(stream: FakeStream, resource: string): Promise<SessionImpl> {
    const auth = stream.authenticatedJid;
    if (!auth) throw new Error('bind: stream is not authenticated');
    if (stream.session) throw new Error('bind: stream already carries a session');
    if (!stream.isOpen) throw new Error(`bind: stream is ${stream.state}`);
    if (!resource) throw new Error('bind: empty resource');
    const jid = new JID(auth.local, auth.domain, resource);
    const old = this.sessions.get(key(jid));
    if (old) await this.end(old, 'replaced');
    const session = new SessionImpl({
      id: `sess${this.nextId++}`,
      jid,
      boundAt: this.clock.now(),
      stream,
      outbound: () => this.hooks.outboundInterceptors,
    });
    this.sessions.set(key(jid), session);
    stream.setSession(session);
    await notifyAll(this.listeners(), 'onBound', this.logger, session);
    return session;
  }

  /** {@inheritDoc SessionRegistry.attachStream} */
  async attachStream(session: Session, stream: XmlStream): Promise<void> {
    const s = asSession(session);
    const st = asStream(stream);
    if (s.state === 'ended') throw new Error(`attachStream: session ${s.jid.toString()} has ended`);
    const auth = st.authenticatedJid;
    if (!auth || auth.bare().toString() !== s.jid.bare().toString()) {
      throw new Error(`attachStream: stream is not authenticated as ${s.jid.bare().toString()}`);
    }
    if (!st.isOpen) throw new Error(`attachStream: stream is ${st.state}`);
    if (st.session && st.session !== s) throw new Error('attachStream: stream already carries another session');
    const previous = s.stream;
    if (previous === st) return;
    if (previous) {
      previous.setSession(undefined);
      if (previous.state !== 'closed') {
        await previous.beginClose({
          error: { condition: 'conflict', text: 'Replaced by new connection' },
          endSession: false,
          reason: 'conflict',
        });
      }
    }
    if ((s.state as SessionState) === 'ended') {
      throw new Error(`attachStream: session ${s.jid.toString()} ended meanwhile`);
    }
    s.stream = st;
    s.state = 'active';
    st.setSession(s);
    await notifyAll(this.listeners(), 'onResumed', this.logger, s, st, previous);
  }

  /** {@inheritDoc SessionRegistry.end} */
  async end(session: Session, reason: SessionEndReason): Promise<void> {
    const s = asSession(session);
    if (s.state === 'ended') return;
    this.remove(s);
    s.state = 'ended';
    s.endReason = reason;
    const st = s.stream;
    if (st && st.state !== 'closed') {
      const error = errorForReason(reason);
      await st.beginClose({ ...(error ? { error } : {}), endSession: true, reason });
      // onEnded fires from streamClosed() once the stream is closed.
      return;
    }
    await this.fireEnded(s, reason);
  }

  /**
   * Host side: every stream of the test host reports its close here (after its `onClosed`
   * listeners). Ends the session, or detaches it and asks `onTransportLost` listeners.
   */
  async streamClosed(stream: FakeStream, info: CloseInfo): Promise<void> {
    const s = stream.session;
    if (!(s instanceof SessionImpl) || s.stream !== stream) return;
    if (s.state === 'ended') {
      await this.fireEnded(s, s.endReason ?? reasonForClose(info));
      return;
    }
    if (info.endSession) {
      await this.fireEnded(s, reasonForClose(info));
      return;
    }
    s.stream = undefined;
    s.state = 'detached';
    let claimed = false;
    for (const l of this.listeners()) {
      if (typeof l.onTransportLost !== 'function') continue;
      try {
        if ((await l.onTransportLost(s, info)) === true) {
          claimed = true;
          this.logger.debug({ session: s.id, listener: contributionName(l) }, 'session claimed after transport loss');
          break;
        }
      } catch (err) {
        this.logger.error({ err, listener: contributionName(l), hook: 'onTransportLost' }, 'listener failed');
      }
    }
    if (!claimed && s.state === 'detached' && !s.stream) await this.fireEnded(s, 'transport-lost');
  }

  private listeners() {
    return byPriority(this.hooks.sessionListeners);
  }

  private remove(s: SessionImpl): void {
    const k = key(s.jid);
    if (this.sessions.get(k) === s) this.sessions.delete(k);
  }

  private async fireEnded(s: SessionImpl, reason: SessionEndReason): Promise<void> {
    if (s.endedFired) return;
    s.endedFired = true;
    this.remove(s);
    s.state = 'ended';
    s.endReason ??= reason;
    s.stream = undefined;
    this.endedSessions.push({ session: s, reason: s.endReason });
    await notifyAll(this.listeners(), 'onEnded', this.logger, s, s.endReason);
  }
}

function asSession(session: Session): SessionImpl {
  if (!(session instanceof SessionImpl)) throw new TypeError('the test registry only manages its own SessionImpl objects');
  return session;
}

function asStream(stream: XmlStream): FakeStream {
  if (!(stream instanceof FakeStream)) throw new TypeError('the test registry only attaches FakeStream objects');
  return stream;
}
