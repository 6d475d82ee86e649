/**
 * What counts as activity. The idle time of a stream is measured from its `lastStanzaAt` (the last
 * inbound stanza: whitespace keepalives, WebSocket pongs and nonzas such as stream management's
 * `<r/>`/`<a/>` or XEP-0352's `<active/>` never move it), except that XEP-0199 ping traffic is not
 * activity either: a client's `<ping/>` and its answers to the server's own requests (a keepalive
 * plugin's XEP-0199 ping after a read timeout) prove that the peer is alive, not that it is in use.
 * Without this, a server ping after every read timeout would keep every non-SM client "active".
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Clock,
  NS,
  Priority,
  ServerInfo,
  defineStreamKey,
  type Clock as ClockT,
  type InboundStanzaInterceptor,
  type ServerInfo as ServerInfoT,
  type StanzaContext,
  type XmlStream,
} from '@strand/core';

/** Per-stream activity record, present on streams the idle sweep watches. Times in epoch ms. */
export interface IdleActivity {
  /** When the last stanza that is not keepalive traffic was processed (initially the stream's `lastStanzaAt`). */
  activityAt: number;
  /** When the last keepalive stanza (XEP-0199 ping traffic) was processed, if any. */
  keepaliveAt?: number;
}
/** Stream slot of {@link IdleActivity}. */
export const IdleActivityKey = defineStreamKey<IdleActivity>('@strand/idle-close/activity');

/**
 * Since when the stream's peer has been idle (epoch ms): its `lastStanzaAt`, unless the latest
 * stanza was keepalive traffic, in which case the last real activity before it.
 */
export function idleSince(stream: XmlStream): number {
  const last = stream.lastStanzaAt;
  const a = stream.slots.get(IdleActivityKey);
  if (a && a.keepaliveAt !== undefined && a.keepaliveAt >= last) return Math.min(a.activityAt, last);
  return last;
}

/**
 * Records, for watched streams, whether each inbound stanza is activity or keepalive traffic
 * (inbound interceptor, {@link Priority.inbound.DEFAULT}; it only observes). Override
 * {@link IdleActivityTrackerImpl.isKeepalive} to change what counts.
 */
@injectable()
export class IdleActivityTrackerImpl implements InboundStanzaInterceptor {
  readonly priority: number = Priority.inbound.DEFAULT;

  constructor(
    @inject(Clock) protected readonly clock: ClockT,
    @inject(ServerInfo) protected readonly server: ServerInfoT,
  ) {}

  intercept(ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
    const a = ctx.stream.slots.get(IdleActivityKey);
    if (a) {
      const now = this.clock.now();
      if (this.isKeepalive(ctx)) a.keepaliveAt = now;
      else a.activityAt = now;
    }
    return next();
  }

  /**
   * True for XEP-0199 ping traffic: an iq get whose only child is `<ping xmlns='urn:xmpp:ping'/>`,
   * and an iq result/error addressed to the server itself (or without `to`), i.e. an answer to one
   * of the server's own requests.
   */
  protected isKeepalive(ctx: StanzaContext): boolean {
    const s = ctx.stanza;
    if (s.name !== 'iq') return false;
    const type = s.attrs.type as string | undefined;
    if (type === 'get') {
      const children = s.getChildElements();
      return children.length === 1 && children[0]!.name === 'ping' && children[0]!.getNS() === NS.PING;
    }
    if (type === 'result' || type === 'error') {
      const to = ctx.to;
      return to === undefined || (to.local === '' && to.resource === '' && to.domain === this.server.domain);
    }
    return false;
  }
}
