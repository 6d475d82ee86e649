/**
 * {@link SessionCloser}: closes a session or stream gracefully — the RFC 6120 §4.4 / XEP-0190
 * handshake of core's `XmlStream.close()` — for the idle sweep and for any other module (an
 * operator's admin module, a moderation bot…).
 * @packageDocumentation
 */
import { inject, injectable, type ResolutionContext } from 'inversify';
import {
  Clock,
  Logger,
  SessionRegistry,
  parseJid,
  type Clock as ClockT,
  type CloseInfo,
  type JID,
  type Logger as LoggerT,
  type Session,
  type SessionRegistry as SessionRegistryT,
  type StreamErrorSpec,
  type XmlStream,
} from '@strand/core';
import { IdleCloseMetricsImpl } from './metrics.js';

/** Options of a graceful close. */
export interface GracefulCloseOptions {
  /**
   * Short machine-readable reason (`[a-z][a-z0-9_-]*`), used for `CloseInfo.reason`, the log line
   * and the metrics label. Default `admin`.
   */
  reason?: string;
  /**
   * Optional stream error written before the close tag (RFC 6120 §4.9), e.g. `policy-violation`
   * for a kick. Default: none — the plain handshake, which is all XEP-0190 asks for.
   */
  error?: StreamErrorSpec;
  /** How long to wait for the peer's close tag, **milliseconds**. Default: the host's `timeouts.closeHandshake`. */
  timeoutMs?: number;
  /** Extra fields for the log line (e.g. how long the stream was idle). */
  details?: Record<string, unknown>;
}

/**
 * How a graceful close ended.
 * - `completed`: the peer answered with its close tag (or closed TCP) within the timeout.
 * - `timed-out`: the peer never answered; the socket was destroyed at the timeout, with no error
 *   element written after the close tag (XEP-0190 §2.2).
 * - `aborted`: someone destroyed the transport during the handshake.
 * - `detached`: the session had no stream (stream management hibernation); it was ended directly
 *   through `SessionRegistry.end`, which spills what it held.
 * - `not-open`: nothing to do — the session had ended, or the stream was already closing or closed
 *   (its close then ended the session, else it was ended directly).
 */
export type GracefulCloseOutcome = 'completed' | 'timed-out' | 'aborted' | 'detached' | 'not-open';

/**
 * Closes sessions and streams with the close handshake: `onClosing` listeners run (stream
 * management writes its final `<a/>`), then `</stream:stream>`, then nothing more is written while
 * the peer's last stanzas are still read and processed, until its close tag or the timeout. The
 * session ends (`server-close`): stanzas still routed to it are re-routed like for an unavailable
 * resource (another resource or offline storage), and stream management spills what was unacked.
 *
 * Every method resolves once the stream is closed (at the latest after the handshake timeout);
 * callers that do not want to wait may ignore the promise (it never rejects).
 */
export interface SessionCloser {
  /** Closes the session's stream gracefully and ends the session. */
  closeSession(session: Session, options?: GracefulCloseOptions): Promise<GracefulCloseOutcome>;
  /** Closes a stream gracefully (c2s or component); a session it carries ends with it. */
  closeStream(stream: XmlStream, options?: GracefulCloseOptions): Promise<GracefulCloseOutcome>;
  /**
   * Closes the session of a full JID, or every session of a bare JID, in parallel.
   * @returns one outcome per session found (empty when none)
   */
  closeJid(jid: JID | string, options?: GracefulCloseOptions): Promise<GracefulCloseOutcome[]>;
}
/** DI token of the {@link SessionCloser} service. */
export const SessionCloser = Symbol.for('@strand/idle-close/SessionCloser');

/**
 * Host services resolved on first use. The host builds its hook set (which instantiates this
 * plugin's stream listener, and through it the closer) while resolving the session registry, so
 * the closer must not ask for the registry at construction.
 */
export interface IdleCloseHostAccess {
  readonly registry: SessionRegistryT;
}
/** DI token of {@link IdleCloseHostAccess}. */
export const IdleCloseHostAccess = Symbol.for('@strand/idle-close/HostAccess');

/** Builds {@link IdleCloseHostAccess} on a resolution context (bind with `toDynamicValue`). */
export function lazyIdleCloseHostAccess(ctx: ResolutionContext): IdleCloseHostAccess {
  let registry: SessionRegistryT | undefined;
  return {
    get registry() {
      return (registry ??= ctx.get<SessionRegistryT>(SessionRegistry));
    },
  };
}

/** The default reason of closes requested through {@link SessionCloser}. */
export const DEFAULT_CLOSE_REASON = 'admin';

/** Default {@link SessionCloser}. Override with `rebind(SessionCloserImpl).to(MyCloser)`. */
@injectable()
export class SessionCloserImpl implements SessionCloser {
  constructor(
    @inject(IdleCloseHostAccess) protected readonly host: IdleCloseHostAccess,
    @inject(IdleCloseMetricsImpl) protected readonly metrics: IdleCloseMetricsImpl,
    @inject(Clock) protected readonly clock: ClockT,
    @inject(Logger) protected readonly logger: LoggerT,
  ) {}

  async closeSession(session: Session, options: GracefulCloseOptions = {}): Promise<GracefulCloseOutcome> {
    if (session.state === 'ended') return 'not-open';
    const stream = session.stream;
    if (stream && (stream.state === 'open' || stream.state === 'opening')) {
      return this.closeStream(stream, options);
    }
    if (stream && stream.state !== 'closed') {
      // Someone else is closing it; that close may not end the session (e.g. endSession: false).
      await stream.closed;
    }
    if ((session.state as Session['state']) === 'ended') return 'not-open';
    const reason = options.reason ?? DEFAULT_CLOSE_REASON;
    this.logger.info(
      { jid: session.jid.toString(), session: session.id, reason, ...options.details },
      'ending a session without a stream',
    );
    await this.host.registry.end(session, 'server-close');
    return 'detached';
  }

  async closeStream(stream: XmlStream, options: GracefulCloseOptions = {}): Promise<GracefulCloseOutcome> {
    if (stream.state !== 'open' && stream.state !== 'opening') {
      // Already closing or closed: not ours to count. Make sure a session it carried still ends.
      if (stream.session && stream.session.state !== 'ended') {
        return (await this.closeSession(stream.session, options)) === 'detached' ? 'detached' : 'not-open';
      }
      return 'not-open';
    }
    const reason = options.reason ?? DEFAULT_CLOSE_REASON;
    const startedAt = this.clock.now();
    this.metrics.closed(stream.kind, reason);
    this.logger.info(
      {
        connectionId: stream.connectionId,
        kind: stream.kind,
        jid: (stream.session?.jid ?? stream.authenticatedJid)?.toString(),
        reason,
        ...(options.error ? { error: options.error.condition } : {}),
        ...options.details,
      },
      reason === 'idle' ? 'closing idle stream with the close handshake' : 'closing stream with the close handshake',
    );
    const closing = stream.close({
      reason,
      endSession: true,
      ...(options.error ? { error: options.error } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
    let info: CloseInfo;
    try {
      await closing;
      info = await stream.closed;
    } catch (err) {
      this.logger.error({ err, connectionId: stream.connectionId }, 'graceful close failed');
      return 'aborted';
    }
    const outcome = outcomeOf(info);
    const seconds = (this.clock.now() - startedAt) / 1000;
    if (outcome !== 'aborted') this.metrics.handshake(reason, outcome, seconds);
    this.logger.debug({ connectionId: stream.connectionId, reason, outcome, seconds }, 'close handshake finished');
    return outcome;
  }

  async closeJid(jid: JID | string, options: GracefulCloseOptions = {}): Promise<GracefulCloseOutcome[]> {
    const j = typeof jid === 'string' ? parseJid(jid) : jid;
    const registry = this.host.registry;
    const sessions = j.resource ? [await registry.get(j)].filter((s): s is Session => s !== undefined) : await registry.getByBareJid(j);
    return Promise.all(sessions.map((s) => this.closeSession(s, options)));
  }
}

function outcomeOf(info: CloseInfo): 'completed' | 'timed-out' | 'aborted' {
  if (info.handshakeTimedOut) return 'timed-out';
  if (info.initiator === 'transport') return 'aborted';
  return 'completed';
}
