/**
 * A minimal in-memory {@link Router} in the spirit of RFC 6121 §8.5, recording what it does.
 */
import { inject, injectable } from 'inversify';
import {
  Clock,
  cloneElement,
  HostConfig,
  Logger,
  OfflineStore,
  stanzaErrorReply,
  tryParseJid,
  type Clock as ClockT,
  type Element,
  type HostConfig as HostConfigT,
  type JID,
  type Logger as LoggerT,
  type OfflineStore as OfflineStoreT,
  type RouteOptions,
  type Router,
  type SendResult,
  type StanzaErrorCondition,
} from '@strand/core';
import { TestSessionRegistry } from './registry.js';
import type { SessionImpl } from './session.js';
import type { FakeStream } from './stream.js';

/** How the router disposed of a stanza. */
export type RouteOutcome =
  | 'delivered' // written or held by at least one session / component
  | 'stored-offline'
  | 'bounced'
  | 'dropped';

/** One call of {@link TestRouter.route}, recorded in {@link TestRouter.routed}. */
export interface RoutedStanza {
  /** A copy of the stanza as routed. */
  readonly stanza: Element;
  readonly options: RouteOptions | undefined;
  /** Fake time of the call. */
  readonly at: number;
  /** Filled in once routing finished. */
  outcome: RouteOutcome | undefined;
  /** Full JIDs (or component domains) it was delivered to, with each send result. */
  readonly deliveries: Array<{ to: string; result: SendResult }>;
}

/** One error bounce, recorded in {@link TestRouter.bounces}. */
export interface Bounce {
  /** The undeliverable stanza. */
  readonly original: Element;
  /** The error reply routed back to the sender. */
  readonly reply: Element;
  readonly condition: StanzaErrorCondition;
}

/**
 * The test host's router:
 * - other domains: a connected component of that domain gets the stanza on its stream; otherwise
 *   `remote-server-not-found` (get/set iq, messages) — there is no s2s.
 * - to the server's own domain: iq get/set → `service-unavailable`; the rest is dropped.
 * - message to a full JID with a session: `session.send()`; a `'refused'` result counts as
 *   if the resource were absent. Absent resource: chat/normal are handled as for the bare JID,
 *   groupchat → `service-unavailable`, headline/error → dropped (RFC 6121 §8.5.3.2.1).
 * - message to a bare JID: every *available* session with non-negative priority gets it
 *   (headline: every available one); when none accepted it, chat/normal go to the
 *   {@link OfflineStore} with `options.originalTime` or now (`quota-exceeded` →
 *   `service-unavailable` bounce), groupchat → `service-unavailable`, headline/error dropped.
 * - iq to a full JID: the session if it accepts it; otherwise get/set → `service-unavailable`.
 *   iq to a bare JID (the inbound path handles those with `IqHandler`s): get/set →
 *   `service-unavailable`.
 * - presence: to a full JID with a session → `session.send()`; everything else is dropped (the
 *   fake host does no roster or subscription processing).
 *
 * Bounces are routed back to the sender (never an error for an error). Every call is recorded in
 * {@link TestRouter.routed}, every bounce in {@link TestRouter.bounces}.
 */
@injectable()
export class TestRouter implements Router {
  /** Every routed stanza, in call order. */
  readonly routed: RoutedStanza[] = [];
  /** Every error bounce, in order. */
  readonly bounces: Bounce[] = [];
  /** Connected component streams by domain (maintained by the test host). */
  readonly components = new Map<string, FakeStream>();

  constructor(
    @inject(TestSessionRegistry) private readonly registry: TestSessionRegistry,
    @inject(OfflineStore) private readonly offline: OfflineStoreT,
    @inject(Clock) private readonly clock: ClockT,
    @inject(HostConfig) private readonly config: HostConfigT,
    @inject(Logger) private readonly logger: LoggerT,
  ) {}

  /** {@inheritDoc Router.route} */
  async route(stanza: Element, options?: RouteOptions): Promise<void> {
    const record: RoutedStanza = {
      stanza: cloneElement(stanza),
      options,
      at: this.clock.now(),
      outcome: undefined,
      deliveries: [],
    };
    this.routed.push(record);
    record.outcome = await this.dispatch(stanza, options, record);
  }

  /** Routed stanzas addressed to `to` (exact string match on the `to` attribute). */
  routedTo(to: string): RoutedStanza[] {
    return this.routed.filter((r) => r.stanza.attrs.to === to);
  }

  private async dispatch(stanza: Element, options: RouteOptions | undefined, record: RoutedStanza): Promise<RouteOutcome> {
    const to = tryParseJid(stanza.attrs.to);
    if (!to) {
      this.logger.warn({ stanza: stanza.toString() }, 'router: stanza without a valid to; dropped');
      return 'dropped';
    }
    const type = stanza.attrs.type as string | undefined;
    if (to.domain !== this.config.domain) {
      const component = this.components.get(to.domain);
      if (component && component.isOpen) {
        const ok = component.writeStanza(stanza);
        record.deliveries.push({ to: to.domain, result: ok ? 'written' : 'refused' });
        if (ok) return 'delivered';
      }
      return this.bounceIfAnswerable(stanza, component ? 'service-unavailable' : 'remote-server-not-found');
    }
    if (!to.local) {
      // Addressed to the server itself; the inbound path handles the client's own requests.
      if (stanza.name === 'iq' && (type === 'get' || type === 'set')) return this.bounce(stanza, 'service-unavailable');
      return 'dropped';
    }
    switch (stanza.name) {
      case 'message':
        return this.routeMessage(stanza, to, options, record);
      case 'iq':
        return this.routeIq(stanza, to, record);
      case 'presence':
        return this.routePresence(stanza, to, record);
      default:
        this.logger.warn({ name: stanza.name }, 'router: not a stanza; dropped');
        return 'dropped';
    }
  }

  private async deliver(session: SessionImpl, stanza: Element, record: RoutedStanza): Promise<SendResult> {
    const result = await session.send(stanza);
    record.deliveries.push({ to: session.jid.toString(), result });
    return result;
  }

  private async routeMessage(
    stanza: Element,
    to: JID,
    options: RouteOptions | undefined,
    record: RoutedStanza,
  ): Promise<RouteOutcome> {
    const type = (stanza.attrs.type as string | undefined) ?? 'normal';
    if (to.resource) {
      const s = this.registry.getSync(to);
      if (s && s.state !== 'ended' && (await this.deliver(s, stanza, record)) !== 'refused') return 'delivered';
      if (type === 'groupchat') return this.bounce(stanza, 'service-unavailable');
      if (type === 'error' || type === 'headline') return 'dropped';
    }
    const sessions = (await this.registry.getByBareJid(to.bare())).filter(
      (s) => s.state !== 'ended' && s.available && (type === 'headline' || s.priority >= 0),
    );
    let accepted = false;
    for (const s of sessions) if ((await this.deliver(s, stanza, record)) !== 'refused') accepted = true;
    if (accepted) return 'delivered';
    if (type === 'chat' || type === 'normal') {
      const bare = to.bare().toString();
      const result = await this.offline.store(bare, stanza, options?.originalTime ?? this.clock.now());
      if (result === 'stored') return 'stored-offline';
      this.logger.warn({ to: bare }, 'router: offline quota exceeded');
      return this.bounce(stanza, 'service-unavailable');
    }
    if (type === 'groupchat') return this.bounce(stanza, 'service-unavailable');
    return 'dropped';
  }

  private async routeIq(stanza: Element, to: JID, record: RoutedStanza): Promise<RouteOutcome> {
    if (to.resource) {
      const s = this.registry.getSync(to);
      if (s && s.state !== 'ended' && (await this.deliver(s, stanza, record)) !== 'refused') return 'delivered';
    }
    return this.bounceIfAnswerable(stanza, 'service-unavailable');
  }

  private async routePresence(stanza: Element, to: JID, record: RoutedStanza): Promise<RouteOutcome> {
    if (!to.resource) return 'dropped';
    const s = this.registry.getSync(to);
    if (s && s.state !== 'ended' && (await this.deliver(s, stanza, record)) !== 'refused') return 'delivered';
    return 'dropped';
  }

  /** Bounces iq get/set and messages (not errors); drops the rest. */
  private async bounceIfAnswerable(stanza: Element, condition: StanzaErrorCondition): Promise<RouteOutcome> {
    const type = stanza.attrs.type as string | undefined;
    if (stanza.name === 'iq' && type !== 'get' && type !== 'set') return 'dropped';
    if (stanza.name === 'presence') return 'dropped';
    return this.bounce(stanza, condition);
  }

  private async bounce(stanza: Element, condition: StanzaErrorCondition): Promise<RouteOutcome> {
    const reply = stanzaErrorReply(stanza, condition);
    if (!reply) return 'dropped';
    if (!reply.attrs.from) reply.attrs.from = this.config.domain;
    this.bounces.push({ original: cloneElement(stanza), reply: cloneElement(reply), condition });
    if (reply.attrs.to) await this.route(reply);
    return 'bounced';
  }
}
