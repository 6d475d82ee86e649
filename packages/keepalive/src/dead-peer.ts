/**
 * Dead-peer detection (RFC 6120 §4.6): silence beyond the negotiated limit (XEP-0304 §3.2), or an
 * XEP-0199 ping after a read timeout that gets no answer within `pingTimeout`.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { inject, injectable } from 'inversify';
import {
  Clock,
  defineStreamKey,
  Logger,
  ServerInfo,
  type Clock as ClockT,
  type Logger as LoggerT,
  type ServerInfo as ServerInfoT,
  type StanzaContext,
  type StanzaHandler,
  type StreamContext,
  type XmlStream,
} from '@strand/core';
import { KeepaliveConfig, type KeepaliveConfig as KeepaliveConfigT } from './config.js';
import { pingIq } from './elements.js';
import { KeepalivePolicyImpl, type KeepalivePolicy } from './interval-policy.js';
import { KeepaliveMetricsImpl, type DeadPeerReason } from './metrics.js';
import { KeepalivePriority } from './priorities.js';

/** The XEP-0199 ping the server is waiting on for a stream. */
export interface PendingPing {
  /** The iq id of our ping. */
  readonly id: string;
  /** When it was written (epoch ms): any read at or after this proves the peer alive. */
  readonly sentAt: number;
  /** When an unanswered ping means a dead peer (epoch ms). */
  readonly deadline: number;
}

/** Per-stream slot holding the {@link PendingPing}; dies with the connection. */
export const PendingPingKey = defineStreamKey<PendingPing>('@strand/keepalive/pending-ping');

/** `CloseInfo.reason` of a transport destroyed by this plugin. */
export const DEAD_PEER_CLOSE_REASON: Readonly<Record<DeadPeerReason, string>> = {
  silence: 'keepalive-silence',
  'ping-timeout': 'keepalive-ping-timeout',
};

/**
 * Decides when a peer is dead and destroys its transport (no close handshake: the peer is gone),
 * which makes the host run `onTransportLost` — where stream management may hibernate the session.
 */
@injectable()
export class DeadPeerDetectorImpl {
  private readonly log: LoggerT;
  private seq = 0;
  private readonly idPrefix = `ka-${randomBytes(4).toString('hex')}-`;

  constructor(
    @inject(KeepaliveConfig) private readonly config: KeepaliveConfigT,
    @inject(KeepalivePolicyImpl) private readonly policy: KeepalivePolicyImpl,
    @inject(KeepaliveMetricsImpl) private readonly metrics: KeepaliveMetricsImpl,
    @inject(ServerInfo) private readonly server: ServerInfoT,
    @inject(Clock) private readonly clock: ClockT,
    @inject(Logger) logger: LoggerT,
  ) {
    this.log = logger.child({ plugin: '@strand/keepalive' });
  }

  /** When the stream must be checked next for liveness (epoch ms), or undefined. */
  nextDue(stream: XmlStream, policy: KeepalivePolicy): number | undefined {
    const ping = stream.slots.get(PendingPingKey);
    // "Longer than" the limit: the first instant after it.
    const silence = policy.silenceLimitMs !== undefined ? stream.lastReadAt + policy.silenceLimitMs + 1 : undefined;
    if (ping === undefined) return silence;
    return silence === undefined ? ping.deadline : Math.min(silence, ping.deadline);
  }

  /**
   * Checks a stream at `now`; destroys its transport when the peer is dead.
   * @returns true when the stream was declared dead
   */
  check(stream: XmlStream, policy: KeepalivePolicy, now: number): boolean {
    const ping = stream.slots.get(PendingPingKey);
    if (ping !== undefined) {
      if (stream.lastReadAt >= ping.sentAt) {
        stream.slots.delete(PendingPingKey); // something arrived since the ping: alive
      } else if (now >= ping.deadline) {
        this.metrics.pingsUnanswered.inc();
        this.declareDead(stream, 'ping-timeout', now - stream.lastReadAt);
        return true;
      }
    }
    if (policy.silenceLimitMs !== undefined && now - stream.lastReadAt > policy.silenceLimitMs) {
      this.declareDead(stream, 'silence', now - stream.lastReadAt);
      return true;
    }
    return false;
  }

  /**
   * The read-timeout probe (RFC 6120 §4.6.4 "XMPP ping"): sends `<iq type='get'><ping/></iq>` from
   * the domain to the session's full JID and owns the follow-up. Passes for streams without a bound
   * session (nothing to address), for component streams, and for negotiated streams, whose
   * liveness contract is the XEP-0304 silence limit (no extra wake-ups for such clients).
   */
  async probe(ctx: StreamContext): Promise<'handled' | 'pass'> {
    const stream = ctx.stream;
    const session = ctx.session ?? stream.session;
    if (stream.kind !== 'c2s' || stream.state !== 'open' || !session || session.stream !== stream) return 'pass';
    if (this.policy.of(stream).negotiated) return 'pass';
    if (stream.slots.get(PendingPingKey) !== undefined) return 'handled'; // already probing
    const now = this.clock.now();
    const ping: PendingPing = {
      id: `${this.idPrefix}${(++this.seq).toString(36)}`,
      sentAt: now,
      deadline: now + this.config.pingTimeoutMs,
    };
    stream.slots.set(PendingPingKey, ping);
    let result: string;
    try {
      result = await session.send(pingIq(ping.id, this.server.domain, session.jid.toString()));
    } catch (err) {
      stream.slots.delete(PendingPingKey);
      throw err;
    }
    if (result !== 'written') {
      if (stream.slots.get(PendingPingKey) === ping) stream.slots.delete(PendingPingKey);
      return 'pass';
    }
    this.metrics.pingsSent.inc();
    this.log.debug({ connectionId: stream.connectionId, jid: session.jid.toString(), id: ping.id }, 'read timeout: ping sent');
    return 'handled';
  }

  /**
   * An iq result or error from the stream's client: true when it answers our pending ping
   * (then the ping is settled and the stanza consumed).
   */
  settle(ctx: StanzaContext): boolean {
    const iq = ctx.stanza;
    const type = iq.attrs.type;
    if (iq.name !== 'iq' || (type !== 'result' && type !== 'error')) return false;
    const to = ctx.to;
    if (to && (to.local !== '' || to.resource !== '' || to.domain !== this.server.domain)) return false;
    const ping = ctx.stream.slots.get(PendingPingKey);
    if (ping === undefined || ping.id !== iq.attrs.id) return false;
    ctx.stream.slots.delete(PendingPingKey);
    this.metrics.pingsAnswered.inc({ type });
    return true;
  }

  private declareDead(stream: XmlStream, reason: DeadPeerReason, silentMs: number): void {
    this.metrics.deadPeers.inc({ reason });
    this.log.info(
      { connectionId: stream.connectionId, jid: stream.session?.jid.toString(), reason, silentMs },
      'dead peer: destroying the transport',
    );
    stream.slots.delete(PendingPingKey);
    stream.destroy(DEAD_PEER_CLOSE_REASON[reason]);
  }
}

/**
 * Consumes the client's answer to our XEP-0199 ping (an iq result — or an error, which proves the
 * peer alive just as well, XEP-0199 §4.1) so that it goes no further.
 */
@injectable()
export class PongHandlerImpl implements StanzaHandler {
  readonly priority: number = KeepalivePriority.pong;
  constructor(@inject(DeadPeerDetectorImpl) private readonly detector: DeadPeerDetectorImpl) {}
  handle(ctx: StanzaContext): boolean {
    return this.detector.settle(ctx);
  }
}
