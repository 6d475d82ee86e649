/**
 * Presence subscriptions (RFC 6121 §3): requests, approvals, cancellations and unsubscriptions,
 * with pre-approval (§3.4). Every account is local, so a stanza from a user to a local contact is
 * processed on both sides in one step: first as outbound on the user's roster (Appendix A.2),
 * then — when A.2 routes it — as inbound on the contact's roster (Appendix A.3). Contacts of
 * component domains get the stanza routed; stanzas from components are processed as inbound.
 *
 * Every change of a visible roster item is pushed to the owner's interested resources; both
 * rosters are locked for the whole exchange (auto-replies included).
 */
import { inject, injectable } from 'inversify';
import {
  cloneElement,
  Logger,
  NS,
  parseJid,
  Priority,
  ServerInfo,
  xml,
  type Element,
  type FeatureStage,
  type RosterItem,
  type StanzaContext,
  type StanzaHandler,
  type StreamContext,
  type StreamFeatureProvider,
} from '@strand/core';
import { AccountExists } from '../host/router.js';
import { ImHostServices } from './host-access.js';
import { PresenceServiceImpl } from './presence.js';
import { AccountLocksImpl, newRosterItem, RosterServiceImpl, type RosterItemRemoval } from './roster.js';
import {
  hasFrom,
  hasTo,
  inboundTransition,
  isSubscriptionStanzaType,
  outboundTransition,
  stateOfItem,
  type SubscriptionStanzaType,
  type SubscriptionState,
} from './subscription-states.js';

/** True for "None" without flags: nothing worth keeping for an item the user never added. */
function isEmptyState(s: SubscriptionState): boolean {
  return s.subscription === 'none' && !s.pendingOut && !s.pendingIn && !s.approved;
}

/** `item` with the flags of `state` (the stored request is dropped once nothing is pending). */
function withState(item: RosterItem, state: SubscriptionState): RosterItem {
  const next: RosterItem = {
    ...item,
    groups: [...item.groups],
    subscription: state.subscription,
    ask: state.pendingOut,
    pendingIn: state.pendingIn,
    approved: state.approved,
  };
  if (!state.pendingIn) delete next.pendingInStanza;
  return next;
}

/** Options of the outbound step. */
interface OutboundOptions {
  /** The item as the caller knows it (roster removal chains two steps without writing). */
  item?: RosterItem | undefined;
  /** Write the user's new state (false while removing the item anyway). */
  persist?: boolean;
}

@injectable()
export class SubscriptionServiceImpl implements RosterItemRemoval {
  constructor(
    @inject(RosterServiceImpl) private readonly roster: RosterServiceImpl,
    @inject(AccountLocksImpl) private readonly locks: AccountLocksImpl,
    @inject(PresenceServiceImpl) private readonly presence: PresenceServiceImpl,
    @inject(ImHostServices) private readonly host: ImHostServices,
    @inject(AccountExists) private readonly accountExists: AccountExists,
    @inject(ServerInfo) private readonly server: ServerInfo,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  /**
   * A local user sent a subscription stanza to `contact` (both bare JIDs): Appendix A.2 on the
   * user's roster, then routing — for a local contact, Appendix A.3 on the contact's roster.
   */
  outbound(user: string, contact: string, type: SubscriptionStanzaType, stanza: Element): Promise<void> {
    return this.locks.run([user, contact], async () => {
      await this.processOutbound(user, contact, type, stanza);
    });
  }

  /** A subscription stanza from a non-local entity (a component) to the local account `contact`. */
  inbound(sender: string, contact: string, type: SubscriptionStanzaType, stanza: Element): Promise<void> {
    return this.locks.run([contact], () => this.processInbound(sender, contact, type, stamp(stanza, sender, contact)));
  }

  /**
   * RFC 6121 §2.5.2: removing an item first cancels the subscriptions both ways — `unsubscribe`
   * when the user is subscribed or asking (`to`/Pending Out), `unsubscribed` when the contact is
   * subscribed or asking (`from`/Pending In) — then deletes it (pre-approval included) and pushes
   * `subscription='remove'`.
   * @returns false when the contact is not in the roster (§2.5.3 `item-not-found`)
   */
  removeItem(user: string, contact: string): Promise<boolean> {
    return this.locks.run([user, contact], async () => {
      const item = await this.roster.getItem(user, contact);
      if (!item?.visible) return false;
      let current: RosterItem = item;
      const s = stateOfItem(item);
      if (hasTo(s.subscription) || s.pendingOut) {
        current = await this.processOutbound(user, contact, 'unsubscribe', xml('presence', { type: 'unsubscribe' }), {
          item: current,
          persist: false,
        });
      }
      const s2 = stateOfItem(current);
      if (hasFrom(s2.subscription) || s2.pendingIn) {
        await this.processOutbound(user, contact, 'unsubscribed', xml('presence', { type: 'unsubscribed' }), {
          item: current,
          persist: false,
        });
      }
      await this.roster.save(user, item, undefined);
      return true;
    });
  }

  /**
   * Appendix A.2 for the user (lock held): the new state is stored (the item is created or made
   * visible for `subscribe` and `subscribed`, §3.1.2 and §3.1.5/§3.4.1), the stanza stamped with
   * both bare JIDs and routed when A.2 says so, and presence follows a gained or lost `from`.
   * @returns the user's item after the step (as stored, or as it would be when not persisted)
   */
  private async processOutbound(
    user: string,
    contact: string,
    type: SubscriptionStanzaType,
    stanza: Element,
    options: OutboundOptions = {},
  ): Promise<RosterItem> {
    const item = 'item' in options ? options.item : await this.roster.getItem(user, contact);
    const before = stateOfItem(item);
    const t = outboundTransition(type, before);
    const makeVisible = type === 'subscribe' || type === 'subscribed';
    let after: RosterItem | undefined = item;
    if (t.changed || (makeVisible && !item?.visible)) {
      after = withState(item ?? newRosterItem(contact, true), t.state);
      if (makeVisible) after.visible = true;
      if (!after.visible && isEmptyState(t.state)) after = undefined;
      if (options.persist !== false) await this.roster.save(user, item, after);
    }
    if (t.route) await this.deliver(stamp(stanza, user, contact), type);
    await this.presenceFollows(user, contact, before, t.state, false);
    return after ?? newRosterItem(contact, false);
  }

  /**
   * Appendix A.3 for the recipient `contact` (lock held): a request for a nonexistent account is
   * answered `unsubscribed` (RFC 6121 §8.5.1), other stanzas to it are ignored. Otherwise the new
   * state is stored (a new request creates an invisible item holding the request for redelivery),
   * the stanza delivered to the contact's available resources when A.3 says so, an auto-reply
   * `subscribed` sent for an existing subscription or a pre-approval, and presence follows.
   */
  private async processInbound(sender: string, contact: string, type: SubscriptionStanzaType, stanza: Element): Promise<void> {
    const contactJid = parseJid(contact);
    if (!(await this.accountExists(contactJid.local))) {
      if (type === 'subscribe') {
        await this.deliver(xml('presence', { type: 'unsubscribed', from: contact, to: sender }), 'unsubscribed');
      }
      return;
    }
    const item = await this.roster.getItem(contact, sender);
    const before = stateOfItem(item);
    const t = inboundTransition(type, before);
    if (t.changed) {
      let after: RosterItem | undefined = withState(item ?? newRosterItem(sender, false), t.state);
      if (t.state.pendingIn && !before.pendingIn) after.pendingInStanza = stanza.toString();
      if (!after.visible && isEmptyState(t.state)) after = undefined;
      await this.roster.save(contact, item, after);
    }
    if (t.deliver) {
      for (const s of this.host.registry.byBare(contact)) {
        if (s.available && s.state !== 'ended') await s.send(cloneElement(stanza));
      }
    }
    if (t.autoReply) {
      await this.deliver(xml('presence', { type: t.autoReply, from: contact, to: sender }), t.autoReply);
    }
    await this.presenceFollows(contact, sender, before, t.state, t.autoReply !== undefined);
  }

  /**
   * Routes a stamped subscription stanza: inbound processing for a local account (locks are
   * already held by the caller), the router for anything else (components; others bounce).
   */
  private async deliver(stanza: Element, type: SubscriptionStanzaType): Promise<void> {
    const to = parseJid(stanza.attrs.to as string);
    if (to.local && to.domain === this.server.domain) {
      await this.processInbound(parseJid(stanza.attrs.from as string).bare().toString(), to.toString(), type, stanza);
      return;
    }
    await this.host.router.route(stanza);
  }

  /**
   * Presence follows `from` (RFC 6121 §3.1.5, §3.2.1, §3.3.3): when `owner` gave `other` a
   * subscription (or confirmed an existing one, `resend`), the owner's current presence goes to
   * `other`; when it took one away, unavailable presence does.
   */
  private async presenceFollows(
    owner: string,
    other: string,
    before: SubscriptionState,
    after: SubscriptionState,
    resend: boolean,
  ): Promise<void> {
    const had = hasFrom(before.subscription);
    const has = hasFrom(after.subscription);
    try {
      if (has && (!had || resend)) await this.presence.sendCurrentPresence(owner, other);
      else if (had && !has) await this.presence.sendUnavailable(owner, other);
    } catch (err) {
      this.logger.error({ err, owner, other }, 'presence after a subscription change failed');
    }
  }
}

/**
 * §3.1.2 and friends: subscription stanzas travel between bare JIDs — `from` is stamped with the
 * sender's bare JID and `to` is the contact's bare JID; `id` and children (status, nick) are kept.
 */
function stamp(stanza: Element, from: string, to: string): Element {
  const copy = cloneElement(stanza);
  copy.attrs.from = from;
  copy.attrs.to = to;
  return copy;
}

/**
 * Subscription stanzas (`subscribe`, `subscribed`, `unsubscribe`, `unsubscribed`): from local
 * sessions as outbound (then inbound for local contacts), from components to local accounts as
 * inbound. A subscription stanza without `to`, or to the user's own account, is ignored.
 */
@injectable()
export class SubscriptionStanzaHandlerImpl implements StanzaHandler {
  readonly priority = Priority.stanza.HOST_IM;

  constructor(
    @inject(SubscriptionServiceImpl) private readonly subscriptions: SubscriptionServiceImpl,
    @inject(ServerInfo) private readonly server: ServerInfo,
  ) {}

  async handle(ctx: StanzaContext): Promise<boolean> {
    const { stanza } = ctx;
    if (stanza.name !== 'presence') return false;
    const type = stanza.attrs.type as string | undefined;
    if (!isSubscriptionStanzaType(type)) return false;
    if (!ctx.to) return true;
    const contact = ctx.to.bare().toString();
    if (ctx.session) {
      const user = ctx.from.bare().toString();
      if (contact === user) return true;
      await this.subscriptions.outbound(user, contact, type, stanza);
      return true;
    }
    if (ctx.to.local && ctx.to.domain === this.server.domain) {
      await this.subscriptions.inbound(ctx.from.bare().toString(), contact, type, stanza);
      return true;
    }
    return false;
  }
}

/** Advertises subscription pre-approval `<sub xmlns='urn:xmpp:features:pre-approval'/>` (§3.4). */
@injectable()
export class PreApprovalFeatureImpl implements StreamFeatureProvider {
  readonly priority = Priority.feature.PRE_APPROVAL;
  offer(ctx: StreamContext, stage: FeatureStage): Element[] {
    if (stage !== 'post-auth' || ctx.stream.kind !== 'c2s') return [];
    return [xml('sub', { xmlns: NS.PRE_APPROVAL })];
  }
}
