/**
 * The presence subscription state machine of RFC 6121 Appendix A, as pure functions.
 *
 * A roster item's subscription state (from the point of view of the roster's owner, "the user")
 * is one of the nine defined states of Appendix A.1 — the `subscription` attribute (`none`, `to`,
 * `from`, `both`) plus the server-side "Pending Out" (`ask='subscribe'`) and "Pending In" flags —
 * optionally with a subscription pre-approval (RFC 6121 §3.4), which is only meaningful while the
 * contact is not subscribed to the user and has no pending request.
 *
 * Two tables per stanza type:
 * - **outbound** (Appendix A.2): the user's server processing a subscription stanza the user
 *   sends to the contact — new state, and whether the stanza is routed on to the contact;
 * - **inbound** (Appendix A.3): the user's server processing a subscription stanza the contact
 *   sent to the user — new state, whether it is delivered to the user's available resources,
 *   and whether the server auto-replies on the user's behalf.
 *
 * No I/O here: `subscriptions.ts` applies these tables to the roster store.
 */
import type { RosterItem, Subscription } from '@strand/core';

/** The four subscription-related presence types (RFC 6121 §3). */
export type SubscriptionStanzaType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

/** All subscription stanza types, in the order of RFC 6121 Appendix A. */
export const SUBSCRIPTION_STANZA_TYPES: readonly SubscriptionStanzaType[] = [
  'subscribe',
  'unsubscribe',
  'subscribed',
  'unsubscribed',
];

/** True for `subscribe`, `subscribed`, `unsubscribe` and `unsubscribed`. */
export function isSubscriptionStanzaType(type: string | undefined): type is SubscriptionStanzaType {
  return type === 'subscribe' || type === 'subscribed' || type === 'unsubscribe' || type === 'unsubscribed';
}

/** A subscription state of one roster item (RFC 6121 Appendix A.1, plus §3.4 pre-approval). */
export interface SubscriptionState {
  readonly subscription: Subscription;
  /** "Pending Out": the user asked to subscribe to the contact (`ask='subscribe'`). */
  readonly pendingOut: boolean;
  /** "Pending In": the contact asked to subscribe to the user and awaits an answer. */
  readonly pendingIn: boolean;
  /** Pre-approved (RFC 6121 §3.4): a future request from the contact is approved at once. */
  readonly approved: boolean;
}

/** The names of the nine defined states of RFC 6121 Appendix A.1. */
export type DefinedStateName =
  | 'None'
  | 'None + Pending Out'
  | 'None + Pending In'
  | 'None + Pending Out/In'
  | 'To'
  | 'To + Pending In'
  | 'From'
  | 'From + Pending Out'
  | 'Both';

/** The nine defined states, in the order of Appendix A.1. */
export const DEFINED_STATE_NAMES: readonly DefinedStateName[] = [
  'None',
  'None + Pending Out',
  'None + Pending In',
  'None + Pending Out/In',
  'To',
  'To + Pending In',
  'From',
  'From + Pending Out',
  'Both',
];

const DEFINED: Readonly<Record<DefinedStateName, Omit<SubscriptionState, 'approved'>>> = {
  None: { subscription: 'none', pendingOut: false, pendingIn: false },
  'None + Pending Out': { subscription: 'none', pendingOut: true, pendingIn: false },
  'None + Pending In': { subscription: 'none', pendingOut: false, pendingIn: true },
  'None + Pending Out/In': { subscription: 'none', pendingOut: true, pendingIn: true },
  To: { subscription: 'to', pendingOut: false, pendingIn: false },
  'To + Pending In': { subscription: 'to', pendingOut: false, pendingIn: true },
  From: { subscription: 'from', pendingOut: false, pendingIn: false },
  'From + Pending Out': { subscription: 'from', pendingOut: true, pendingIn: false },
  Both: { subscription: 'both', pendingOut: false, pendingIn: false },
};

/** The states in which a pre-approval can be recorded (RFC 6121 §3.4: no `from`, no Pending In). */
export const PRE_APPROVABLE_STATE_NAMES: readonly DefinedStateName[] = ['None', 'None + Pending Out', 'To'];

/** Builds a state from its Appendix A.1 name, optionally pre-approved. */
export function definedState(name: DefinedStateName, approved = false): SubscriptionState {
  return normalizeState({ ...DEFINED[name], approved });
}

/** The state "None": no roster item, or an item without any subscription. */
export const NONE: SubscriptionState = definedState('None');

/**
 * Brings any combination of flags into one of the defined states: "Pending Out" is dropped when
 * the user already has `to`/`both`, "Pending In" when the contact already has `from`/`both`, and a
 * pre-approval when the contact is subscribed or has a pending request.
 */
export function normalizeState(s: SubscriptionState): SubscriptionState {
  const to = hasTo(s.subscription);
  const from = hasFrom(s.subscription);
  const pendingOut = s.pendingOut && !to;
  const pendingIn = s.pendingIn && !from;
  return { subscription: s.subscription, pendingOut, pendingIn, approved: s.approved && !from && !pendingIn };
}

/** The Appendix A.1 name of a state, with ` + Pre-Approved` when pre-approved. */
export function stateName(s: SubscriptionState): string {
  const n = normalizeState(s);
  const base =
    n.subscription === 'both'
      ? 'Both'
      : n.subscription === 'from'
        ? n.pendingOut
          ? 'From + Pending Out'
          : 'From'
        : n.subscription === 'to'
          ? n.pendingIn
            ? 'To + Pending In'
            : 'To'
          : n.pendingOut && n.pendingIn
            ? 'None + Pending Out/In'
            : n.pendingOut
              ? 'None + Pending Out'
              : n.pendingIn
                ? 'None + Pending In'
                : 'None';
  return n.approved ? `${base} + Pre-Approved` : base;
}

/** The subscription state of a stored roster item (`undefined` = no item = "None"). */
export function stateOfItem(item: RosterItem | undefined): SubscriptionState {
  if (!item) return NONE;
  return normalizeState({
    subscription: item.subscription,
    pendingOut: item.ask,
    pendingIn: item.pendingIn,
    approved: item.approved,
  });
}

/** True when two states are identical. */
export function sameState(a: SubscriptionState, b: SubscriptionState): boolean {
  return (
    a.subscription === b.subscription &&
    a.pendingOut === b.pendingOut &&
    a.pendingIn === b.pendingIn &&
    a.approved === b.approved
  );
}

/** True when the user receives the contact's presence (`to` or `both`). */
export function hasTo(subscription: Subscription): boolean {
  return subscription === 'to' || subscription === 'both';
}

/** True when the contact receives the user's presence (`from` or `both`). */
export function hasFrom(subscription: Subscription): boolean {
  return subscription === 'from' || subscription === 'both';
}

function subscriptionOf(to: boolean, from: boolean): Subscription {
  return to ? (from ? 'both' : 'to') : from ? 'from' : 'none';
}

/** Result of processing an outbound subscription stanza on the user's server (Appendix A.2). */
export interface OutboundTransition {
  readonly state: SubscriptionState;
  /** Whether the state changed (a roster push is due when the visible item changed). */
  readonly changed: boolean;
  /** Whether the user's server routes the stanza on to the contact. */
  readonly route: boolean;
}

/** Result of processing an inbound subscription stanza on the user's server (Appendix A.3). */
export interface InboundTransition {
  readonly state: SubscriptionState;
  readonly changed: boolean;
  /** Whether the stanza is delivered to the user's available resources. */
  readonly deliver: boolean;
  /**
   * A reply the user's server sends on the user's behalf: `subscribed` when the contact is
   * already subscribed (A.3.1 "SHOULD auto-reply") or pre-approved (§3.4).
   */
  readonly autoReply?: 'subscribed';
}

/**
 * RFC 6121 Appendix A.2: the user sends a subscription stanza to the contact.
 *
 * - `subscribe` (A.2.1, §3.1.2): sets Pending Out unless the user already has `to`; always routed
 *   (the contact's server answers an already-subscribed request itself, §3.1.3).
 * - `unsubscribe` (A.2.2, §3.3.2): drops `to` and Pending Out; always routed.
 * - `subscribed` (A.2.3, §3.1.5): approves a Pending In (gives the contact `from`) and is routed;
 *   without Pending In and without `from` it records a pre-approval (§3.4.1) and is not routed.
 * - `unsubscribed` (A.2.4, §3.2.1): drops `from` or declines Pending In, routed when that changed
 *   the state; otherwise it only cancels a pre-approval (§3.4) and is not routed.
 */
export function outboundTransition(type: SubscriptionStanzaType, current: SubscriptionState): OutboundTransition {
  const s = normalizeState(current);
  const to = hasTo(s.subscription);
  const from = hasFrom(s.subscription);
  let next: SubscriptionState;
  let route: boolean;
  switch (type) {
    case 'subscribe':
      next = { ...s, pendingOut: !to };
      route = true;
      break;
    case 'unsubscribe':
      next = { ...s, subscription: subscriptionOf(false, from), pendingOut: false };
      route = true;
      break;
    case 'subscribed':
      if (s.pendingIn) {
        next = { ...s, subscription: subscriptionOf(to, true), pendingIn: false, approved: false };
        route = true;
      } else {
        next = from ? s : { ...s, approved: true };
        route = false;
      }
      break;
    case 'unsubscribed':
      if (from || s.pendingIn) {
        next = { ...s, subscription: subscriptionOf(to, false), pendingIn: false, approved: false };
        route = true;
      } else {
        next = { ...s, approved: false };
        route = false;
      }
      break;
  }
  next = normalizeState(next);
  return { state: next, changed: !sameState(s, next), route };
}

/**
 * RFC 6121 Appendix A.3: the contact sent a subscription stanza to the user.
 *
 * - `subscribe` (A.3.1, §3.1.3): sets Pending In and is delivered, unless a request is already
 *   pending (not delivered again) or the contact is already subscribed (auto-reply `subscribed`).
 *   A pre-approval (§3.4) turns it into `from` at once, with an auto-reply and no delivery.
 * - `unsubscribe` (A.3.2, §3.3.3): drops the contact's `from` or cancels its Pending In; delivered
 *   when that changed the state.
 * - `subscribed` (A.3.3, §3.1.6): delivered and gives the user `to` only while Pending Out.
 * - `unsubscribed` (A.3.4, §3.2.2): drops the user's `to` or Pending Out; delivered when it did.
 */
export function inboundTransition(type: SubscriptionStanzaType, current: SubscriptionState): InboundTransition {
  const s = normalizeState(current);
  const to = hasTo(s.subscription);
  const from = hasFrom(s.subscription);
  let next: SubscriptionState = s;
  let deliver = false;
  let autoReply: 'subscribed' | undefined;
  switch (type) {
    case 'subscribe':
      if (from) {
        autoReply = 'subscribed';
      } else if (s.approved) {
        next = { ...s, subscription: subscriptionOf(to, true), approved: false };
        autoReply = 'subscribed';
      } else if (!s.pendingIn) {
        next = { ...s, pendingIn: true };
        deliver = true;
      }
      break;
    case 'unsubscribe':
      if (from || s.pendingIn) {
        next = { ...s, subscription: subscriptionOf(to, false), pendingIn: false };
        deliver = true;
      }
      break;
    case 'subscribed':
      if (s.pendingOut) {
        next = { ...s, subscription: subscriptionOf(true, from), pendingOut: false };
        deliver = true;
      }
      break;
    case 'unsubscribed':
      if (to || s.pendingOut) {
        next = { ...s, subscription: subscriptionOf(false, from), pendingOut: false };
        deliver = true;
      }
      break;
  }
  next = normalizeState(next);
  return { state: next, changed: !sameState(s, next), deliver, ...(autoReply ? { autoReply } : {}) };
}
