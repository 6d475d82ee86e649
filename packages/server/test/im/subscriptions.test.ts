/** RFC 6121 §3 subscription flows on both sides (all accounts local), in-process host. */
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Element } from '@strand/core';
import { imModule } from '../../src/im/index.js';
import { ImHarness, presences, pushedItem, pushes, type TestClient } from './harness.js';

const ROSTER = 'jabber:iq:roster';

let h: ImHarness;
beforeEach(() => {
  h = new ImHarness();
});

/** The pushed `<item/>` attributes, in order. */
const pushedAttrs = (list: Element[]) => pushes(list).map((p) => pushedItem(p).attrs);

async function item(user: string, contact: string) {
  return h.rosters.getItem(`${user}@localhost`, `${contact}@localhost`);
}

async function visibleJids(c: TestClient): Promise<string[]> {
  const r = await c.rosterGet();
  return r.getChild('query', ROSTER)!.getChildren('item').map((i) => i.attrs.jid as string);
}

describe('subscription request and approval (§3.1)', () => {
  it('runs the whole flow with roster pushes on both sides and presence after approval', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob', 'r1', '<status>here</status>');
    alice.drain();
    bob.drain();

    // §3.1.1–3.1.3: full-JID `to` is bared, `from` stamped with alice's bare JID
    await alice.send(`<presence type='subscribe' to='bob@localhost/whatever' id='s1'><status>hi bob</status></presence>`);
    expect(pushedAttrs(alice.drain())).toEqual([{ jid: 'bob@localhost', subscription: 'none', ask: 'subscribe' }]);
    const [request] = presences(bob.drain(), 'subscribe');
    expect(request!.attrs).toMatchObject({ from: 'alice@localhost', to: 'bob@localhost', id: 's1' });
    expect(request!.getChildText('status')).toBe('hi bob');
    expect(pushes(bob.received)).toHaveLength(0); // Pending In is not a roster item (yet)
    expect(await visibleJids(bob)).toEqual([]);
    expect(await item('bob', 'alice')).toMatchObject({ pendingIn: true, visible: false });
    bob.drain();

    // §3.1.5: approval
    await bob.send(`<presence type='subscribed' to='alice@localhost'/>`);
    expect(pushedAttrs(bob.drain())).toEqual([{ jid: 'alice@localhost', subscription: 'from' }]);
    const got = alice.drain();
    expect(pushedAttrs(got)).toEqual([{ jid: 'bob@localhost', subscription: 'to' }]);
    expect(presences(got, 'subscribed')[0]!.attrs).toMatchObject({ from: 'bob@localhost', to: 'alice@localhost' });
    // §3.1.5: bob's current presence follows the approval, after the `subscribed`
    const available = presences(got, 'available');
    expect(available).toHaveLength(1);
    expect(available[0]!.attrs.from).toBe('bob@localhost/r1');
    expect(available[0]!.getChildText('status')).toBe('here');
    expect(got.indexOf(presences(got, 'subscribed')[0]!)).toBeLessThan(got.indexOf(available[0]!));
    expect(await item('bob', 'alice')).toMatchObject({ subscription: 'from', pendingIn: false, visible: true });
    expect((await item('bob', 'alice'))!.pendingInStanza).toBeUndefined();
  });

  it('ends in "both" on each side after mutual subscriptions, each seeing the other', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await h.befriend(alice, bob);
    expect((await item('alice', 'bob'))!.subscription).toBe('both');
    expect((await item('bob', 'alice'))!.subscription).toBe('both');
    expect(presences(alice.received, 'available').some((p) => p.attrs.from === 'bob@localhost/r1')).toBe(true);
    expect(presences(bob.received, 'available').some((p) => p.attrs.from === 'alice@localhost/r1')).toBe(true);
  });

  it('stores a request for an offline contact and redelivers it at every login until answered (§3.1.3)', async () => {
    const alice = await h.online('alice');
    await alice.send(`<presence type='subscribe' to='bob@localhost'><status>please</status></presence>`);

    const bob1 = await h.login('bob');
    await bob1.rosterGet();
    expect(presences(bob1.received, 'subscribe')).toHaveLength(0); // not before initial presence
    await bob1.presence();
    const [req] = presences(bob1.received, 'subscribe');
    expect(req!.attrs).toMatchObject({ from: 'alice@localhost', to: 'bob@localhost' });
    expect(req!.getChildText('status')).toBe('please');
    await bob1.end();

    const bob2 = await h.online('bob', 'r2');
    expect(presences(bob2.received, 'subscribe')).toHaveLength(1);
    await bob2.send(`<presence type='subscribed' to='alice@localhost'/>`);
    await bob2.end();

    const bob3 = await h.online('bob', 'r3');
    expect(presences(bob3.received, 'subscribe')).toHaveLength(0);
    expect(await visibleJids(bob3)).toEqual(['alice@localhost']);
  });

  it('delivers a request to every available resource of the contact, only once while pending', async () => {
    const alice = await h.online('alice');
    const b1 = await h.online('bob', 'one');
    const b2 = await h.online('bob', 'two');
    const b3 = await h.login('bob', 'three'); // bound, not available
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    expect(presences(b1.received, 'subscribe')).toHaveLength(1);
    expect(presences(b2.received, 'subscribe')).toHaveLength(1);
    expect(presences(b3.received, 'subscribe')).toHaveLength(0);
  });

  it('auto-replies subscribed and resends presence when the contact already approved (A.3.1)', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    await bob.send(`<presence type='subscribed' to='alice@localhost'/>`);
    alice.drain();
    bob.drain();
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    expect(presences(bob.drain())).toHaveLength(0);
    const got = alice.drain();
    // the auto-reply reaches alice's server, which does not deliver it in "To" (A.3.3) …
    expect(presences(got, 'subscribed')).toHaveLength(0);
    // … but bob's presence is sent again, so alice's client is up to date
    expect(presences(got, 'available').map((p) => p.attrs.from)).toEqual(['bob@localhost/r1']);
    expect(pushes(got)).toHaveLength(0); // "To" → no state change
  });

  it('answers a request to a nonexistent account with unsubscribed (§8.5.1), clearing Pending Out', async () => {
    const alice = await h.online('alice');
    alice.drain();
    await alice.send(`<presence type='subscribe' to='nobody@localhost'/>`);
    const got = alice.drain();
    expect(pushedAttrs(got)).toEqual([
      { jid: 'nobody@localhost', subscription: 'none', ask: 'subscribe' },
      { jid: 'nobody@localhost', subscription: 'none' },
    ]);
    expect(presences(got, 'unsubscribed')[0]!.attrs).toMatchObject({ from: 'nobody@localhost', to: 'alice@localhost' });
    expect(await h.rosters.getItem('nobody@localhost', 'alice@localhost')).toBeUndefined();
  });

  it('ignores subscription stanzas without `to` or to the own account', async () => {
    const alice = await h.online('alice');
    alice.drain();
    await alice.send(`<presence type='subscribe'/>`);
    await alice.send(`<presence type='subscribe' to='alice@localhost'/>`);
    await alice.send(`<presence type='subscribed' to='alice@localhost/r1'/>`);
    expect(alice.drain()).toHaveLength(0);
    expect((await h.rosters.get('alice@localhost')).items).toHaveLength(0);
  });
});

describe('declining, cancelling and unsubscribing (§3.2, §3.3)', () => {
  it('declines a request with unsubscribed: the requester loses Pending Out, the hidden item goes away', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    alice.drain();
    bob.drain();
    await bob.send(`<presence type='unsubscribed' to='alice@localhost'/>`);
    expect(pushes(bob.drain())).toHaveLength(0);
    expect(await item('bob', 'alice')).toBeUndefined();
    const got = alice.drain();
    expect(presences(got, 'unsubscribed')[0]!.attrs.from).toBe('bob@localhost');
    expect(pushedAttrs(got)).toEqual([{ jid: 'bob@localhost', subscription: 'none' }]);
    // and a new login of bob gets no stale request
    const bob2 = await h.online('bob', 'r2');
    expect(presences(bob2.received, 'subscribe')).toHaveLength(0);
  });

  it('a user withdrawing a pending request (unsubscribe) removes it from the contact (A.3.2)', async () => {
    const alice = await h.online('alice');
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    await alice.send(`<presence type='unsubscribe' to='bob@localhost'/>`);
    expect(await item('bob', 'alice')).toBeUndefined();
    const bob = await h.online('bob');
    expect(presences(bob.received, 'subscribe')).toHaveLength(0);
    expect(await item('alice', 'bob')).toMatchObject({ subscription: 'none', ask: false, visible: true });
  });

  it('unsubscribe: the contact is told, both get pushes, the user gets unavailable from each contact resource (§3.3)', async () => {
    const alice = await h.online('alice');
    const bob1 = await h.online('bob', 'one');
    const bob2 = await h.online('bob', 'two');
    await h.befriend(alice, bob1);
    alice.drain();
    bob1.drain();
    bob2.drain();
    await alice.send(`<presence type='unsubscribe' to='bob@localhost'/>`);
    const a = alice.drain();
    expect(pushedAttrs(a)).toEqual([{ jid: 'bob@localhost', subscription: 'from' }]);
    expect(presences(a, 'unavailable').map((p) => p.attrs.from).sort()).toEqual(['bob@localhost/one', 'bob@localhost/two']);
    const b = bob1.drain();
    expect(presences(b, 'unsubscribe')[0]!.attrs.from).toBe('alice@localhost');
    expect(pushedAttrs(b)).toEqual([{ jid: 'alice@localhost', subscription: 'to' }]);
    expect(presences(bob2.drain(), 'unsubscribe')).toHaveLength(1);
  });

  it('cancelling a subscription (unsubscribed) sends unavailable from each resource of the canceller (§3.2)', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await h.befriend(alice, bob);
    alice.drain();
    bob.drain();
    await bob.send(`<presence type='unsubscribed' to='alice@localhost'/>`);
    const a = alice.drain();
    expect(presences(a, 'unsubscribed')).toHaveLength(1);
    expect(presences(a, 'unavailable').map((p) => p.attrs.from)).toEqual(['bob@localhost/r1']);
    expect(pushedAttrs(a)).toEqual([{ jid: 'bob@localhost', subscription: 'from' }]);
    expect(pushedAttrs(bob.drain())).toEqual([{ jid: 'alice@localhost', subscription: 'to' }]);
    // bob's presence no longer reaches alice
    await bob.presence('<show>away</show>');
    expect(presences(alice.drain())).toHaveLength(0);
  });

  it('removing a contact cancels both directions first, then pushes remove (§2.5.2)', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await h.befriend(alice, bob);
    alice.drain();
    bob.drain();
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    expect(r.attrs.type).toBe('result');
    const a = alice.drain();
    expect(pushedAttrs(a)).toEqual([{ jid: 'bob@localhost', subscription: 'remove' }]);
    expect(presences(a, 'unavailable').map((p) => p.attrs.from)).toEqual(['bob@localhost/r1']);
    const b = bob.drain();
    expect(presences(b).map((p) => p.attrs.type)).toEqual(['unsubscribe', 'unsubscribed', 'unavailable']);
    expect(presences(b, 'unavailable')[0]!.attrs.from).toBe('alice@localhost/r1');
    expect(pushedAttrs(b)).toEqual([
      { jid: 'alice@localhost', subscription: 'to' }, // unsubscribe: bob loses `from`
      { jid: 'alice@localhost', subscription: 'none' }, // unsubscribed: bob loses `to`
    ]);
    expect(await item('alice', 'bob')).toBeUndefined();
    expect(await item('bob', 'alice')).toMatchObject({ subscription: 'none', ask: false, pendingIn: false });
  });

  it('removing a contact whose request is pending declines it', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await bob.send(`<presence type='subscribe' to='alice@localhost'/>`);
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost'/></query></iq>`);
    bob.drain();
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    const b = bob.drain();
    expect(presences(b, 'unsubscribed')).toHaveLength(1);
    expect(pushedAttrs(b)).toEqual([{ jid: 'alice@localhost', subscription: 'none' }]);
    expect(await item('alice', 'bob')).toBeUndefined();
  });
});

describe('pre-approval (§3.4)', () => {
  it('records a pre-approval without telling the contact, then approves its request at once', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    alice.drain();
    bob.drain();
    await bob.send(`<presence type='subscribed' to='alice@localhost'/>`);
    expect(pushedAttrs(bob.drain())).toEqual([{ jid: 'alice@localhost', subscription: 'none', approved: 'true' }]);
    expect(alice.drain()).toHaveLength(0);

    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    expect(presences(bob.received, 'subscribe')).toHaveLength(0); // not delivered
    expect(pushedAttrs(bob.drain())).toEqual([{ jid: 'alice@localhost', subscription: 'from' }]);
    const a = alice.drain();
    expect(pushedAttrs(a)).toEqual([
      { jid: 'bob@localhost', subscription: 'none', ask: 'subscribe' },
      { jid: 'bob@localhost', subscription: 'to' },
    ]);
    expect(presences(a, 'subscribed')).toHaveLength(1);
    expect(presences(a, 'available').map((p) => p.attrs.from)).toEqual(['bob@localhost/r1']);
  });

  it('cancels a pre-approval with unsubscribed (not routed): the next request is pending again', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await bob.send(`<presence type='subscribed' to='alice@localhost'/>`);
    bob.drain();
    await bob.send(`<presence type='unsubscribed' to='alice@localhost'/>`);
    expect(pushedAttrs(bob.drain())).toEqual([{ jid: 'alice@localhost', subscription: 'none' }]);
    expect(presences(alice.drain(), 'unsubscribed')).toHaveLength(0);
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    expect(presences(bob.drain(), 'subscribe')).toHaveLength(1);
    expect((await item('bob', 'alice'))!.subscription).toBe('none');
  });
});

describe('consistency', () => {
  it('keeps both rosters consistent when both sides act concurrently', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await Promise.all([
      alice.send(`<presence type='subscribe' to='bob@localhost'/>`),
      bob.send(`<presence type='subscribe' to='alice@localhost'/>`),
      alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' name='Bob'/></query></iq>`),
    ]);
    await Promise.all([
      alice.send(`<presence type='subscribed' to='bob@localhost'/>`),
      bob.send(`<presence type='subscribed' to='alice@localhost'/>`),
    ]);
    expect(await item('alice', 'bob')).toMatchObject({ subscription: 'both', ask: false, pendingIn: false, name: 'Bob' });
    expect(await item('bob', 'alice')).toMatchObject({ subscription: 'both', ask: false, pendingIn: false });
  });

  it('is not disturbed by loading imModule twice (the host may load it by default)', async () => {
    h = new ImHarness({ modules: [imModule] });
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await alice.send(`<presence type='subscribe' to='bob@localhost'/>`);
    expect(presences(bob.received, 'subscribe')).toHaveLength(1);
    expect(pushes(alice.received)).toHaveLength(1);
  });
});
