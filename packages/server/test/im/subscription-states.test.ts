/**
 * RFC 6121 Appendix A, row by row. The expected tables are written out here independently of the
 * implementation (state names as in A.1), so every one of the 72 rows (9 states × 4 stanza types
 * × outbound/inbound) and the §3.4 pre-approval variants is checked on its own.
 */
import { describe, expect, it } from '@jest/globals';
import {
  DEFINED_STATE_NAMES,
  definedState,
  inboundTransition,
  normalizeState,
  outboundTransition,
  PRE_APPROVABLE_STATE_NAMES,
  stateName,
  stateOfItem,
  type DefinedStateName,
  type SubscriptionStanzaType,
} from '../../src/im/subscription-states.js';

type Row<T> = Record<DefinedStateName, T>;

/** A.2: [new state or null for "no state change", routed to the contact?] */
const OUTBOUND: Record<SubscriptionStanzaType, Row<[DefinedStateName | null, boolean]>> = {
  // A.2.1 — the request is always routed (the contact's server answers duplicates itself).
  subscribe: {
    None: ['None + Pending Out', true],
    'None + Pending Out': [null, true],
    'None + Pending In': ['None + Pending Out/In', true],
    'None + Pending Out/In': [null, true],
    To: [null, true],
    'To + Pending In': [null, true],
    From: ['From + Pending Out', true],
    'From + Pending Out': [null, true],
    Both: [null, true],
  },
  // A.2.2
  unsubscribe: {
    None: [null, true],
    'None + Pending Out': ['None', true],
    'None + Pending In': [null, true],
    'None + Pending Out/In': ['None + Pending In', true],
    To: ['None', true],
    'To + Pending In': ['None + Pending In', true],
    From: [null, true],
    'From + Pending Out': ['From', true],
    Both: ['From', true],
  },
  // A.2.3 — routed only when it approves a pending request.
  subscribed: {
    None: [null, false],
    'None + Pending Out': [null, false],
    'None + Pending In': ['From', true],
    'None + Pending Out/In': ['From + Pending Out', true],
    To: [null, false],
    'To + Pending In': ['Both', true],
    From: [null, false],
    'From + Pending Out': [null, false],
    Both: [null, false],
  },
  // A.2.4 — routed only when it cancels or declines something.
  unsubscribed: {
    None: [null, false],
    'None + Pending Out': [null, false],
    'None + Pending In': ['None', true],
    'None + Pending Out/In': ['None + Pending Out', true],
    To: [null, false],
    'To + Pending In': ['To', true],
    From: ['None', true],
    'From + Pending Out': ['None + Pending Out', true],
    Both: ['To', true],
  },
};

/** A.3: [new state or null, delivered to the user?, auto-reply] */
const INBOUND: Record<SubscriptionStanzaType, Row<[DefinedStateName | null, boolean, 'subscribed'?]>> = {
  // A.3.1 — "Server SHOULD auto-reply with subscribed" where the contact is already subscribed.
  subscribe: {
    None: ['None + Pending In', true],
    'None + Pending Out': ['None + Pending Out/In', true],
    'None + Pending In': [null, false],
    'None + Pending Out/In': [null, false],
    To: ['To + Pending In', true],
    'To + Pending In': [null, false],
    From: [null, false, 'subscribed'],
    'From + Pending Out': [null, false, 'subscribed'],
    Both: [null, false, 'subscribed'],
  },
  // A.3.2
  unsubscribe: {
    None: [null, false],
    'None + Pending Out': [null, false],
    'None + Pending In': ['None', true],
    'None + Pending Out/In': ['None + Pending Out', true],
    To: [null, false],
    'To + Pending In': ['To', true],
    From: ['None', true],
    'From + Pending Out': ['None + Pending Out', true],
    Both: ['To', true],
  },
  // A.3.3
  subscribed: {
    None: [null, false],
    'None + Pending Out': ['To', true],
    'None + Pending In': [null, false],
    'None + Pending Out/In': ['To + Pending In', true],
    To: [null, false],
    'To + Pending In': [null, false],
    From: [null, false],
    'From + Pending Out': ['Both', true],
    Both: [null, false],
  },
  // A.3.4 — why a probe must never be answered `unsubscribed`: it ends "Pending Out".
  unsubscribed: {
    None: [null, false],
    'None + Pending Out': ['None', true],
    'None + Pending In': [null, false],
    'None + Pending Out/In': ['None + Pending In', true],
    To: ['None', true],
    'To + Pending In': ['None + Pending In', true],
    From: [null, false],
    'From + Pending Out': ['From', true],
    Both: ['From', true],
  },
};

const TYPES: SubscriptionStanzaType[] = ['subscribe', 'unsubscribe', 'subscribed', 'unsubscribed'];

const outboundRows = TYPES.flatMap((type) =>
  DEFINED_STATE_NAMES.map((state) => [type, state, ...OUTBOUND[type][state]] as const),
);
const inboundRows = TYPES.flatMap((type) =>
  DEFINED_STATE_NAMES.map((state) => {
    const [next, deliver, autoReply] = INBOUND[type][state];
    return [type, state, next, deliver, autoReply ?? 'none'] as const;
  }),
);

describe('RFC 6121 Appendix A.1 defined states', () => {
  it('has nine states whose names round-trip', () => {
    expect(DEFINED_STATE_NAMES).toHaveLength(9);
    for (const name of DEFINED_STATE_NAMES) expect(stateName(definedState(name))).toBe(name);
  });

  it('normalises impossible flag combinations into defined states', () => {
    // "To + Pending Out" is not a state: the user already has the subscription it asks for.
    expect(stateName(normalizeState({ subscription: 'to', pendingOut: true, pendingIn: false, approved: false }))).toBe('To');
    expect(stateName(normalizeState({ subscription: 'both', pendingOut: true, pendingIn: true, approved: true }))).toBe('Both');
    expect(stateName(normalizeState({ subscription: 'from', pendingOut: false, pendingIn: true, approved: false }))).toBe('From');
    // Pre-approval only without `from` and without Pending In (§3.4).
    expect(stateName(normalizeState({ subscription: 'none', pendingOut: false, pendingIn: true, approved: true }))).toBe('None + Pending In');
    expect(stateName(definedState('To', true))).toBe('To + Pre-Approved');
  });

  it('reads a roster item (no item is "None")', () => {
    expect(stateName(stateOfItem(undefined))).toBe('None');
    expect(
      stateName(
        stateOfItem({ jid: 'c@x', subscription: 'from', ask: true, pendingIn: false, approved: false, groups: [], visible: true }),
      ),
    ).toBe('From + Pending Out');
  });
});

describe('RFC 6121 Appendix A.2 outbound (the user sends to the contact)', () => {
  it.each(outboundRows)('%s in "%s" → %s (routed: %s)', (type, state, next, route) => {
    const t = outboundTransition(type, definedState(state));
    // The A.1 state; a §3.4 pre-approval is the only extra flag an outbound stanza can set.
    expect(stateName({ ...t.state, approved: false })).toBe(next ?? state);
    const preApproval = type === 'subscribed' && PRE_APPROVABLE_STATE_NAMES.includes(state);
    expect(t.state.approved).toBe(preApproval);
    expect(t.changed).toBe(next !== null || preApproval);
    expect(t.route).toBe(route);
  });
});

describe('RFC 6121 Appendix A.3 inbound (the contact sent to the user)', () => {
  it.each(inboundRows)('%s in "%s" → %s (delivered: %s, auto-reply: %s)', (type, state, next, deliver, autoReply) => {
    const t = inboundTransition(type, definedState(state));
    expect(stateName(t.state)).toBe(next ?? state);
    expect(t.changed).toBe(next !== null);
    expect(t.deliver).toBe(deliver);
    expect(t.autoReply ?? 'none').toBe(autoReply);
  });
});

describe('RFC 6121 §3.4 pre-approval', () => {
  it.each(PRE_APPROVABLE_STATE_NAMES)('outbound subscribed in "%s" records a pre-approval and is not routed', (state) => {
    const t = outboundTransition('subscribed', definedState(state));
    expect(stateName(t.state)).toBe(`${state} + Pre-Approved`);
    expect(t.changed).toBe(true);
    expect(t.route).toBe(false);
    // a second one changes nothing
    const again = outboundTransition('subscribed', t.state);
    expect(again.changed).toBe(false);
    expect(again.route).toBe(false);
  });

  it.each(['From', 'From + Pending Out', 'Both', 'None + Pending In'] as const)(
    'outbound subscribed in "%s" is no pre-approval',
    (state) => {
      expect(outboundTransition('subscribed', definedState(state)).state.approved).toBe(false);
    },
  );

  it.each([
    ['None', 'From'],
    ['None + Pending Out', 'From + Pending Out'],
    ['To', 'Both'],
  ] as const)('inbound subscribe in "%s + Pre-Approved" → "%s", auto-replied, not delivered', (state, next) => {
    const t = inboundTransition('subscribe', definedState(state, true));
    expect(stateName(t.state)).toBe(next);
    expect(t.changed).toBe(true);
    expect(t.deliver).toBe(false);
    expect(t.autoReply).toBe('subscribed');
  });

  it.each(PRE_APPROVABLE_STATE_NAMES)('outbound unsubscribed in "%s + Pre-Approved" cancels it, not routed', (state) => {
    const t = outboundTransition('unsubscribed', definedState(state, true));
    expect(stateName(t.state)).toBe(state);
    expect(t.changed).toBe(true);
    expect(t.route).toBe(false);
  });

  it.each([
    ['subscribe', 'None', 'None + Pending Out + Pre-Approved'],
    ['unsubscribe', 'To', 'None + Pre-Approved'],
    ['unsubscribe', 'None + Pending Out', 'None + Pre-Approved'],
  ] as const)('outbound %s keeps the pre-approval of "%s" → "%s"', (type, state, next) => {
    expect(stateName(outboundTransition(type, definedState(state, true)).state)).toBe(next);
  });

  it.each([
    ['subscribed', 'None + Pending Out', 'To + Pre-Approved'],
    ['unsubscribed', 'To', 'None + Pre-Approved'],
    ['unsubscribed', 'None + Pending Out', 'None + Pre-Approved'],
    ['unsubscribe', 'None', 'None + Pre-Approved'],
  ] as const)('inbound %s keeps the pre-approval of "%s" → "%s"', (type, state, next) => {
    expect(stateName(inboundTransition(type, definedState(state, true)).state)).toBe(next);
  });
});
