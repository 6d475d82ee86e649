/**
 * Presence (RFC 6121 §4): initial presence with its broadcast and server-generated probes
 * (§4.2), replies to probes (§4.3), subsequent presence (§4.4), unavailable presence — sent by
 * the client or generated when a session ends (§4.5) —, directed presence (§4.6) and `<priority/>`
 * (§4.7.2.3). Broadcast presence is recorded in the `PresenceStore` with its time; directed
 * presence never is.
 */
import { parse as parseLtx } from 'ltx';
import { inject, injectable } from 'inversify';
import {
  bareOf,
  Clock,
  cloneElement,
  Element,
  Logger,
  NS,
  PresenceStore,
  Priority,
  ServerInfo,
  StanzaError,
  tryParseJid,
  xml,
  type JID,
  type Roster,
  type Session,
  type SessionEndReason,
  type SessionListener,
  type StanzaContext,
  type StanzaHandler,
} from '@strand/core';
import { ExternalRoutes } from '../host/router.js';
import { SessionImpl, type SessionView } from '../host/session.js';
import { ImHostServices } from './host-access.js';
import { OfflineDeliveryImpl } from './offline-delivery.js';
import { RosterServiceImpl } from './roster.js';
import { hasFrom, hasTo, isSubscriptionStanzaType } from './subscription-states.js';

/** Presence types a client may send besides the subscription types (RFC 6121 §4.7.1). */
const PRESENCE_TYPES = new Set(['unavailable', 'probe', 'error']);

/**
 * The `<priority/>` of a presence (RFC 6121 §4.7.2.3): an integer from −128 to +127, 0 when
 * absent.
 * @throws StanzaError `bad-request` for a malformed or out-of-range value, or several priorities
 */
export function parsePriority(stanza: Element): number {
  const els = stanza
    .getChildElements()
    .filter((c) => c.name === 'priority' && (c.attrs.xmlns === undefined || c.attrs.xmlns === NS.CLIENT));
  if (els.length === 0) return 0;
  if (els.length > 1) throw new StanzaError('bad-request', undefined, 'more than one <priority/>');
  const text = els[0]!.getText().trim();
  if (!/^[+-]?\d{1,3}$/.test(text)) throw new StanzaError('bad-request', undefined, '<priority/> must be an integer');
  const value = Number(text);
  if (value < -128 || value > 127) {
    throw new StanzaError('bad-request', undefined, '<priority/> must be between -128 and 127');
  }
  return value === 0 ? 0 : value; // no -0
}

/** A copy of `stanza` with `to` set (presence stanzas are never mutated once sent). */
function addressed(stanza: Element, to: string): Element {
  const copy = cloneElement(stanza);
  copy.attrs.to = to;
  return copy;
}

/** Options of {@link PresenceServiceImpl.unavailable}. */
export interface UnavailableOptions {
  /** Broadcast to contacts and own resources and record it (false: directed recipients only). */
  broadcast?: boolean;
}

/**
 * The host's presence logic. Sessions are the host's {@link SessionImpl}: `available`,
 * `priority`, `presence` and `directedTo` are maintained here.
 */
@injectable()
export class PresenceServiceImpl {
  constructor(
    @inject(ImHostServices) private readonly host: ImHostServices,
    @inject(RosterServiceImpl) private readonly roster: RosterServiceImpl,
    @inject(PresenceStore) private readonly store: PresenceStore,
    @inject(ExternalRoutes) private readonly external: ExternalRoutes,
    @inject(OfflineDeliveryImpl) private readonly offline: OfflineDeliveryImpl,
    @inject(ServerInfo) private readonly server: ServerInfo,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  /** True when `j` is an account of this server's domain (it may not exist). */
  isLocalAccount(j: JID): boolean {
    return j.local !== '' && j.domain === this.server.domain;
  }

  /**
   * Available sessions of an account on any node (a hibernated session stays available).
   */
  availableSessions(bare: string): SessionView[] {
    return this.host.registry.byBare(bare).filter((s) => s.available && s.state !== 'ended' && s.presence);
  }

  /**
   * Available presence without `to`: initial presence (§4.2) when the session was not available,
   * else a presence update (§4.4).
   *
   * 1. `<priority/>` is validated (§4.7.2.3) and the presence recorded (session and store).
   * 2. Broadcast to contacts with `from`/`both` (§4.2.2, §4.4.2) and to all of the user's
   *    available resources, including the sending one.
   * 3. Initial presence only: the current presence of every available resource of contacts with
   *    `to`/`both` and of the user's other resources is delivered to the new session (the
   *    server-generated probes of §4.2.2 answered locally, §4.3.2), then pending inbound
   *    subscription requests are delivered again (§3.1.3).
   * 4. Stored offline messages are delivered when the session became eligible for messages to
   *    the bare JID (non-negative priority, XEP-0160).
   */
  async available(session: SessionImpl, stanza: Element): Promise<void> {
    const priority = parsePriority(stanza);
    const full = session.jid.toString();
    const bare = session.bare;
    const presence = cloneElement(stanza);
    delete presence.attrs.to;
    delete presence.attrs.type;
    presence.attrs.from = full;
    const initial = !session.available;
    const wasEligible = session.available && session.priority >= 0;
    session.available = true;
    session.priority = priority;
    session.presence = presence;
    await this.record('available', full, presence);

    const roster = await this.roster.get(bare);
    await this.toContacts(roster, presence);
    for (const s of this.availableSessions(bare)) await s.send(addressed(presence, s.jid.toString()));

    if (initial) {
      await this.probeContacts(session, roster);
      await this.redeliverPendingRequests(session, roster);
    }
    if (priority >= 0 && !wasEligible && session.available) await this.offline.deliver(session);
  }

  /**
   * Unavailable presence of a session (§4.5): sent by the client without `to`, or generated when
   * the session ends. Broadcast to contacts with `from`/`both` and to the user's other available
   * resources and recorded in the store (if the session was available), and sent to every entity
   * that got directed presence from the session and is not covered by the broadcast (§4.6.3).
   */
  async unavailable(session: SessionImpl, stanza?: Element, options: UnavailableOptions = {}): Promise<void> {
    const broadcast = options.broadcast ?? true;
    const full = session.jid.toString();
    const bare = session.bare;
    const presence = stanza ? cloneElement(stanza) : xml('presence');
    delete presence.attrs.to;
    presence.attrs.type = 'unavailable';
    presence.attrs.from = full;
    const wasAvailable = session.available;
    session.available = false;
    session.presence = undefined;

    const covered = wasAvailable && broadcast ? await this.broadcastUnavailable(full, bare, presence) : new Set([bare]);
    const directed = [...session.directedTo];
    session.directedTo.clear();
    for (const target of directed) {
      const j = tryParseJid(target);
      if (!j || covered.has(j.bare().toString())) continue;
      await this.host.router.route(addressed(presence, target));
    }
  }

  /**
   * A session ended for good (not hibernated): unavailable on its behalf (§4.5.1 "the server MUST
   * … as if the client had sent unavailable presence"). When the same full JID was already bound
   * again by a new, available session (resource conflict), the new session's presence stands: no
   * broadcast, and the directed recipients it already re-sent presence to are left alone.
   */
  async sessionEnded(session: SessionImpl): Promise<void> {
    if (!session.available && session.directedTo.size === 0) return;
    const successor = this.host.registry.sessionAt(session.jid);
    const superseded = successor !== undefined && successor !== session && successor.available;
    if (superseded && successor instanceof SessionImpl) for (const t of successor.directedTo) session.directedTo.delete(t);
    await this.unavailable(session, undefined, { broadcast: !superseded });
  }

  /**
   * A session of another cluster node was lost with its node (killed without a clean stop): its
   * account's contacts with `from`/`both` and other resources get unavailable presence from
   * `full`, and the store records it, as if the session had ended on its node (§4.5.1). Directed
   * presence recipients are not known here (they lived in the dead node's memory).
   */
  async sessionLost(full: JID, at: number): Promise<void> {
    const presence = xml('presence', { from: full.toString(), type: 'unavailable' });
    await this.broadcastUnavailable(full.toString(), full.bare().toString(), presence, at);
  }

  /**
   * Records the unavailable `presence` of `full` and sends it to the contacts with `from`/`both`
   * and to the account's other available resources (§4.5.2).
   * @param at when it happened (epoch ms; default now)
   * @returns the bare JIDs it reached (the account and those contacts)
   */
  private async broadcastUnavailable(full: string, bare: string, presence: Element, at?: number): Promise<Set<string>> {
    const covered = new Set<string>([bare]);
    await this.record('unavailable', full, presence, at);
    const roster = await this.roster.get(bare);
    for (const item of roster.items) if (hasFrom(item.subscription)) covered.add(item.jid);
    await this.toContacts(roster, presence);
    for (const s of this.availableSessions(bare)) {
      if (s.jid.toString() !== full) await s.send(addressed(presence, s.jid.toString()));
    }
    return covered;
  }

  /**
   * Directed presence (§4.6): an available presence adds the addressee to the session's list, an
   * unavailable one removes it. The stanza itself is routed by the host and never stored.
   */
  trackDirected(session: SessionImpl, stanza: Element, to: JID): void {
    if (to.bare().toString() === session.bare) return; // own resources: covered by broadcasts
    if (!to.local && to.domain === this.server.domain) return; // the server itself
    const key = to.toString();
    if (stanza.attrs.type === 'unavailable') session.directedTo.delete(key);
    else session.directedTo.add(key);
  }

  /**
   * A probe of `contact` (a local bare JID) by `prober` (§4.3.2; XEP-0318 client probes when the
   * presence-probe plugin is disabled). An authorised prober — the same account, or one the
   * contact's roster gives `from`/`both` — gets the current presence of every available resource.
   * Everyone else (and an authorised prober when nothing is available) gets a bare
   * `<presence type='unavailable' from='contact'/>`: nothing is revealed to the unauthorised, and
   * no `unsubscribed` is sent (it would cancel the prober's pending request, Appendix A.3.4).
   */
  async answerProbe(prober: JID, contact: string): Promise<void> {
    const proberBare = prober.bare().toString();
    const to = prober.toString();
    let authorised = proberBare === contact;
    if (!authorised) {
      const item = await this.roster.getItem(contact, proberBare);
      authorised = item !== undefined && hasFrom(item.subscription);
    }
    const sessions = authorised ? this.availableSessions(contact) : [];
    if (sessions.length === 0) {
      await this.host.router.route(xml('presence', { from: contact, to, type: 'unavailable' }));
      return;
    }
    for (const s of sessions) await this.host.router.route(addressed(s.presence!, to));
  }

  /**
   * The owner just gave `to` a subscription (§3.1.5, §3.4): the current presence of each of the
   * owner's available resources goes to `to`'s bare JID.
   */
  async sendCurrentPresence(owner: string, to: string): Promise<void> {
    if (!this.reachable(to)) return;
    for (const s of this.availableSessions(owner)) await this.host.router.route(addressed(s.presence!, to));
  }

  /**
   * The owner's subscription `from` `to` ended (§3.2.1, §3.3.3): unavailable from each of the
   * owner's available resources goes to `to`'s bare JID.
   */
  async sendUnavailable(owner: string, to: string): Promise<void> {
    if (!this.reachable(to)) return;
    for (const s of this.availableSessions(owner)) {
      await this.host.router.route(xml('presence', { from: s.jid.toString(), to, type: 'unavailable' }));
    }
  }

  /** Sends `presence` to the bare JID of every contact with `from`/`both` that can be reached. */
  private async toContacts(roster: Roster, presence: Element): Promise<void> {
    for (const item of roster.items) {
      if (!hasFrom(item.subscription) || !this.reachable(item.jid)) continue;
      await this.host.router.route(addressed(presence, item.jid));
    }
  }

  /**
   * §4.2.2 probes for the new session: local contacts with `to`/`both` are answered at once from
   * their sessions (§4.3.2); contacts served by a component get a probe from the full JID; the
   * user's other available resources' presence is delivered too.
   */
  private async probeContacts(session: SessionImpl, roster: Roster): Promise<void> {
    const full = session.jid.toString();
    for (const item of roster.items) {
      if (!hasTo(item.subscription)) continue;
      const j = tryParseJid(item.jid);
      if (!j) continue;
      if (j.domain === this.server.domain) {
        if (!j.local) continue;
        for (const s of this.availableSessions(item.jid)) await session.send(addressed(s.presence!, full));
      } else if (this.external.find(j.domain)) {
        await this.host.router.route(xml('presence', { type: 'probe', from: full, to: item.jid }));
      }
    }
    for (const s of this.availableSessions(session.bare)) {
      if (s !== session) await session.send(addressed(s.presence!, full));
    }
  }

  /** §3.1.3: pending inbound subscription requests are delivered again on initial presence. */
  private async redeliverPendingRequests(session: SessionImpl, roster: Roster): Promise<void> {
    for (const item of roster.items) {
      if (!item.pendingIn) continue;
      let request: Element | undefined;
      if (item.pendingInStanza) {
        try {
          request = parseLtx(item.pendingInStanza, { Element }) as Element;
        } catch (err) {
          this.logger.warn({ err, contact: item.jid }, 'stored subscription request unreadable; sending a plain one');
        }
      }
      request ??= xml('presence', { type: 'subscribe', from: item.jid, to: session.bare });
      request.attrs.type = 'subscribe';
      request.attrs.from = item.jid;
      request.attrs.to = session.bare;
      await session.send(request);
    }
  }

  /** Only the local domain and component domains are reachable (no server-to-server). */
  private reachable(jid: string): boolean {
    const j = tryParseJid(jid);
    return j !== undefined && (j.domain === this.server.domain || this.external.find(j.domain) !== undefined);
  }

  /** Records broadcast presence with the time; a storage failure is logged, never fatal. */
  private async record(kind: 'available' | 'unavailable', full: string, presence: Element, at = this.clock.now()): Promise<void> {
    try {
      if (kind === 'available') await this.store.setAvailable(full, presence, at);
      else await this.store.setUnavailable(full, presence, at);
    } catch (err) {
      this.logger.error({ err, jid: full }, 'presence store write failed');
    }
  }
}

/**
 * Presence stanzas from local sessions (and probes from anyone): broadcast presence (no `to`),
 * probes and directed-presence tracking. Subscription types are left to the subscription handler;
 * directed presence is tracked and then routed by the host.
 */
@injectable()
export class PresenceStanzaHandlerImpl implements StanzaHandler {
  readonly priority = Priority.stanza.HOST_IM;

  constructor(@inject(PresenceServiceImpl) private readonly presence: PresenceServiceImpl) {}

  async handle(ctx: StanzaContext): Promise<boolean> {
    const { stanza } = ctx;
    if (stanza.name !== 'presence') return false;
    const type = stanza.attrs.type as string | undefined;
    if (isSubscriptionStanzaType(type)) return false;
    if (type !== undefined && !PRESENCE_TYPES.has(type)) {
      throw new StanzaError('bad-request', undefined, `unknown presence type ${type}`);
    }
    if (type === 'error') return false;
    if (type === 'probe') {
      if (!ctx.to) return true; // a probe of nobody: nothing to answer
      if (!this.presence.isLocalAccount(ctx.to)) return false;
      await this.presence.answerProbe(ctx.from, bareOf(ctx.to));
      return true;
    }
    const session = ctx.session as SessionImpl | undefined;
    if (!session) return false; // presence from a component: routed as addressed
    if (!ctx.to) {
      if (type === 'unavailable') await this.presence.unavailable(session, stanza);
      else await this.presence.available(session, stanza);
      return true;
    }
    this.presence.trackDirected(session, stanza, ctx.to);
    return false;
  }
}

/**
 * Unavailable presence when a session really ends (§4.5.1), including unclean ends. Not when the
 * transport is lost and stream management keeps the session (no `onEnded` then), nor on
 * resumption.
 */
@injectable()
export class PresenceSessionListenerImpl implements SessionListener {
  readonly priority = Priority.session.HOST_IM;

  constructor(@inject(PresenceServiceImpl) private readonly presence: PresenceServiceImpl) {}

  async onEnded(session: Session, _reason: SessionEndReason): Promise<void> {
    await this.presence.sessionEnded(session as SessionImpl);
  }
}
