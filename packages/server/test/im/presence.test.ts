/** RFC 6121 §4 presence, probes (XEP-0318 host fallback) and privacy, in-process host. */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { Priority, SessionListener, type Session } from '@strand/core';
import { errorCondition, ImHarness, presences, type TestClient } from './harness.js';

let h: ImHarness;
beforeEach(() => {
  h = new ImHarness();
});

const froms = (list: ReturnType<TestClient['drain']>, type?: string) => presences(list, type).map((p) => p.attrs.from);

/** alice and bob subscribed both ways, carol subscribed to alice only (carol has `to`). */
async function world() {
  const alice = await h.online('alice');
  const bob = await h.online('bob');
  const carol = await h.online('carol');
  await h.befriend(alice, bob);
  await carol.send(`<presence type='subscribe' to='alice@localhost'/>`);
  await alice.send(`<presence type='subscribed' to='carol@localhost'/>`);
  for (const c of [alice, bob, carol]) c.drain();
  return { alice, bob, carol };
}

describe('initial presence (§4.2)', () => {
  it('is broadcast to from/both contacts and to all own available resources (including the sender), and recorded', async () => {
    const { bob, carol } = await world();
    h.now += 5000;
    const a2 = await h.login('alice', 'two');
    const a1 = (await h.registry.getByBareJid('alice@localhost')).find((s) => s.jid.resource === 'r1')!;
    void a1;
    await a2.rosterGet();
    await a2.presence('<show>dnd</show><status>busy</status><priority>5</priority>');
    const toBob = presences(bob.drain(), 'available');
    expect(toBob).toHaveLength(1);
    expect(toBob[0]!.attrs).toMatchObject({ from: 'alice@localhost/two', to: 'bob@localhost' });
    expect(toBob[0]!.getChildText('status')).toBe('busy');
    expect(froms(carol.drain(), 'available')).toEqual(['alice@localhost/two']); // carol has `to` on alice
    const own = presences(a2.received, 'available').filter((p) => p.attrs.from === 'alice@localhost/two');
    expect(own).toHaveLength(1); // echoed to the sender (§4.2.2)
    expect(a2.session.available).toBe(true);
    expect(a2.session.priority).toBe(5);
    const rec = (await h.presenceStore.get('alice@localhost')).find((r) => r.resource === 'two')!;
    expect(rec.current!.at).toBe(h.now);
    expect(rec.current!.stanza.attrs.from).toBe('alice@localhost/two');
    expect(rec.current!.stanza.attrs.to).toBeUndefined();
    expect(rec.current!.stanza.getChildText('show')).toBe('dnd');
  });

  it("delivers the current presence of every available resource of to/both contacts and of the user's other resources", async () => {
    const { alice } = await world();
    const bob2 = await h.online('bob', 'two', '<show>away</show>');
    void bob2;
    await alice.end();
    const again = await h.login('alice', 'again');
    const a2 = await h.online('alice', 'other');
    await again.presence();
    const got = presences(again.received, 'available');
    expect(got.map((p) => p.attrs.from).sort()).toEqual([
      'alice@localhost/again',
      'alice@localhost/other',
      'bob@localhost/r1',
      'bob@localhost/two',
    ]);
    for (const p of got) expect(p.attrs.to).toBe('alice@localhost/again');
    expect(got.find((p) => p.attrs.from === 'bob@localhost/two')!.getChildText('show')).toBe('away');
    // carol only has `to` on alice; alice has `from` on carol: no carol presence for alice
    expect(got.some((p) => String(p.attrs.from).startsWith('carol@'))).toBe(false);
    void a2;
  });

  it('a presence update is broadcast again but does not probe again (§4.4)', async () => {
    const { alice, bob } = await world();
    await alice.presence('<show>away</show>');
    expect(froms(bob.drain(), 'available')).toEqual(['alice@localhost/r1']);
    const own = alice.drain();
    expect(froms(own, 'available')).toEqual(['alice@localhost/r1']); // own echo only, no bob
  });

  it('rejects an invalid <priority/> with bad-request and keeps the state (§4.7.2.3)', async () => {
    const alice = await h.login('alice');
    for (const p of ['high', '128', '-129', '1.5', '']) {
      await alice.send(`<presence><priority>${p}</priority></presence>`);
      const [err] = alice.drain().filter((s) => s.attrs.type === 'error');
      expect(errorCondition(err!)).toBe('bad-request');
      expect(alice.session.available).toBe(false);
    }
    await alice.send(`<presence><priority>1</priority><priority>2</priority></presence>`);
    expect(errorCondition(alice.drain().find((s) => s.attrs.type === 'error')!)).toBe('bad-request');
    await alice.send(`<presence><priority> -128 </priority></presence>`);
    expect(alice.session.priority).toBe(-128);
    await alice.send(`<presence><priority>+127</priority></presence>`);
    expect(alice.session.priority).toBe(127);
  });

  it('rejects unknown presence types with bad-request', async () => {
    const alice = await h.online('alice');
    alice.drain();
    await alice.send(`<presence type='invisible'/>`);
    expect(errorCondition(alice.drain()[0]!)).toBe('bad-request');
  });
});

describe('unavailable presence (§4.5)', () => {
  it('an explicit unavailable is broadcast with its status, recorded, and the session stops getting presence', async () => {
    const { alice, bob, carol } = await world();
    const a2 = await h.online('alice', 'two');
    bob.drain();
    alice.drain();
    h.now += 1000;
    await a2.send(`<presence type='unavailable'><status>bye</status></presence>`);
    const u = presences(bob.drain(), 'unavailable');
    expect(u).toHaveLength(1);
    expect(u[0]!.attrs.from).toBe('alice@localhost/two');
    expect(u[0]!.getChildText('status')).toBe('bye');
    expect(froms(carol.drain(), 'unavailable')).toEqual(['alice@localhost/two']);
    expect(froms(alice.drain(), 'unavailable')).toEqual(['alice@localhost/two']);
    const rec = (await h.presenceStore.get('alice@localhost')).find((r) => r.resource === 'two')!;
    expect(rec.current).toBeUndefined();
    expect(rec.lastUnavailable!.at).toBe(h.now);
    expect(rec.lastUnavailable!.stanza.getChildText('status')).toBe('bye');
    a2.drain();
    await bob.presence('<show>chat</show>');
    expect(presences(a2.drain())).toHaveLength(0);
  });

  it('is generated when a session ends cleanly or uncleanly', async () => {
    const { alice, bob } = await world();
    await alice.end();
    expect(froms(bob.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
    const a2 = await h.online('alice', 'two');
    bob.drain();
    await a2.loseTransport(); // nobody claims it: it ends
    expect(froms(bob.drain(), 'unavailable')).toEqual(['alice@localhost/two']);
    const recs = await h.presenceStore.get('alice@localhost');
    expect(recs.every((r) => r.current === undefined)).toBe(true);
  });

  it('is not sent while stream management keeps a session whose transport was lost, only when it ends', async () => {
    @injectable()
    class Hibernate implements SessionListener {
      readonly priority = Priority.session.STREAM_MANAGEMENT;
      onTransportLost(): boolean {
        return true;
      }
    }
    h = new ImHarness({
      modules: [
        new ContainerModule(({ bind }) => {
          bind(Hibernate).toSelf().inSingletonScope();
          bind(SessionListener).toService(Hibernate);
        }),
      ],
    });
    const { alice, bob } = await world();
    await alice.loseTransport();
    expect(alice.session.state).toBe('detached');
    expect(presences(bob.drain())).toHaveLength(0);
    expect((await h.presenceStore.get('alice@localhost'))[0]!.current).toBeDefined();
    // still available: bob's presence is handed to the (hibernated) session
    await bob.presence('<show>away</show>');
    expect(alice.session.available).toBe(true);
    // the claim expires: now it ends
    await h.registry.end(alice.session as Session, 'expired');
    expect(froms(bob.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
  });

  it.each([
    ['before', false],
    ['after', true],
  ])('a replaced resource ending %s its successor is available does not leave it offline', async (_when, slow) => {
    const { alice, bob } = await world();
    const mallory = await h.online('mallory');
    await alice.send(`<presence to='mallory@localhost'/>`);
    alice.stream.holdClose = slow; // the old stream's close handshake takes a while
    mallory.drain();
    const fresh = await h.login('alice', 'r1'); // same full JID: the old session is replaced
    await fresh.presence();
    alice.stream.releaseClose();
    await new Promise((r) => setImmediate(r));
    expect(alice.session.state).toBe('ended');
    const got = presences(bob.drain()).filter((p) => p.attrs.from === 'alice@localhost/r1');
    expect(got.pop()!.attrs.type).toBeUndefined(); // the last word is the successor's presence
    if (slow) expect(got).toHaveLength(0); // no unavailable at all
    const rec = (await h.presenceStore.get('alice@localhost')).find((r) => r.resource === 'r1')!;
    expect(rec.current).toBeDefined();
    // the old session's directed presence is still ended
    expect(froms(mallory.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
  });
});

describe('directed presence (§4.6)', () => {
  it('is routed, tracked and ended with unavailable on logout; never stored', async () => {
    const { alice, bob } = await world();
    const mallory = await h.online('mallory');
    mallory.drain();
    await alice.send(
      `<presence to='mallory@localhost/r1'><x xmlns='http://jabber.org/protocol/muc'><password>s3cret</password></x></presence>`,
    );
    const [direct] = presences(mallory.drain(), 'available');
    expect(direct!.attrs).toMatchObject({ from: 'alice@localhost/r1', to: 'mallory@localhost/r1' });
    expect(alice.session.directedTo.has('mallory@localhost/r1')).toBe(true);
    // not broadcast, not stored
    expect(presences(bob.drain())).toHaveLength(0);
    const stored = JSON.stringify((await h.presenceStore.get('alice@localhost')).map((r) => r.current?.stanza.toString()));
    expect(stored).not.toContain('s3cret');
    // a directed presence to bob (already subscribed) does not make bob get two unavailables
    await alice.send(`<presence to='bob@localhost'/>`);
    bob.drain();
    await alice.end();
    expect(froms(mallory.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
    expect(froms(bob.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
  });

  it('a directed unavailable removes the entry; an unavailable broadcast clears the list', async () => {
    const alice = await h.online('alice');
    const mallory = await h.online('mallory');
    const carol = await h.online('carol');
    await alice.send(`<presence to='mallory@localhost'/>`);
    await alice.send(`<presence to='carol@localhost'/>`);
    await alice.send(`<presence type='unavailable' to='carol@localhost'/>`);
    carol.drain();
    mallory.drain();
    await alice.send(`<presence type='unavailable'/>`);
    expect(froms(mallory.drain(), 'unavailable')).toEqual(['alice@localhost/r1']);
    expect(presences(carol.drain())).toHaveLength(0);
    expect(alice.session.directedTo.size).toBe(0);
  });
});

describe('probes (§4.3; XEP-0318 host fallback) and privacy', () => {
  it('an authorised prober gets the current presence of each available resource', async () => {
    const { bob } = await world();
    await h.online('alice', 'two', '<status>second</status>');
    bob.drain();
    await bob.send(`<presence type='probe' to='alice@localhost'/>`);
    const got = bob.drain();
    expect(froms(got, 'available').sort()).toEqual(['alice@localhost/r1', 'alice@localhost/two']);
    for (const p of got) expect(p.attrs.to).toBe('bob@localhost/r1');
  });

  it('an authorised prober of an offline contact gets a bare unavailable', async () => {
    const { alice, bob } = await world();
    await alice.end();
    bob.drain();
    await bob.send(`<presence type='probe' to='alice@localhost'/>`);
    const got = bob.drain();
    expect(got).toHaveLength(1);
    expect(got[0]!.attrs).toEqual({ from: 'alice@localhost', to: 'bob@localhost/r1', type: 'unavailable' });
  });

  it.each([
    ['an unauthorised user', async () => undefined],
    [
      'a user whose request is pending',
      async (m: TestClient) => m.send(`<presence type='subscribe' to='alice@localhost'/>`),
    ],
    [
      'a user the contact only subscribed to (contact has "to", not "from")',
      async (m: TestClient) => {
        const alice = (await h.registry.getByBareJid('alice@localhost'))[0]!;
        void alice;
        await h.rosters.setItem('alice@localhost', {
          jid: 'mallory@localhost', subscription: 'to', ask: false, pendingIn: false, approved: false, groups: [], visible: true,
        });
        await h.rosters.setItem('mallory@localhost', {
          jid: 'alice@localhost', subscription: 'from', ask: false, pendingIn: false, approved: false, groups: [], visible: true,
        });
        void m;
      },
    ],
  ])('%s gets a bare unavailable and no state change', async (_who, setup) => {
    const { alice } = await world();
    const mallory = await h.online('mallory');
    await setup(mallory);
    const before = await h.rosters.getItem('mallory@localhost', 'alice@localhost');
    mallory.drain();
    alice.drain();
    await mallory.send(`<presence type='probe' to='alice@localhost'/>`);
    await mallory.send(`<presence type='probe' to='alice@localhost/r1'/>`);
    const got = mallory.drain();
    expect(got.map((p) => p.attrs)).toEqual([
      { from: 'alice@localhost', to: 'mallory@localhost/r1', type: 'unavailable' },
      { from: 'alice@localhost', to: 'mallory@localhost/r1', type: 'unavailable' },
    ]);
    expect(await h.rosters.getItem('mallory@localhost', 'alice@localhost')).toEqual(before);
    expect(alice.drain()).toHaveLength(0); // probes are answered by the server, not delivered
  });

  it('a probe of a nonexistent account gets a bare unavailable', async () => {
    const mallory = await h.online('mallory');
    mallory.drain();
    await mallory.send(`<presence type='probe' to='nobody@localhost'/>`);
    expect(mallory.drain().map((p) => p.attrs)).toEqual([{ from: 'nobody@localhost', to: 'mallory@localhost/r1', type: 'unavailable' }]);
  });

  it("never reveals alice's presence to a non-subscribed user by any route", async () => {
    const alice = await h.online('alice', 'r1', '<status>secret plans</status>');
    const mallory = await h.online('mallory');
    const seen = () =>
      mallory.received.filter((s) => s.name === 'presence' && String(s.attrs.from).startsWith('alice@') && s.attrs.type !== 'unavailable');
    // subscription request without approval, repeated
    await mallory.send(`<presence type='subscribe' to='alice@localhost'/>`);
    await mallory.send(`<presence type='subscribe' to='alice@localhost/r1'/>`);
    // unsolicited approvals and probes of every kind
    await mallory.send(`<presence type='subscribed' to='alice@localhost'/>`);
    await mallory.send(`<presence type='probe' to='alice@localhost'/>`);
    await mallory.send(`<presence type='probe' to='alice@localhost/r1'/>`);
    // presence to alice's full JID (directed presence from mallory; alice's server does not answer)
    await mallory.send(`<presence to='alice@localhost/r1'/>`);
    await mallory.send(`<presence to='alice@localhost'/>`);
    // mallory logs in again (initial presence probes)
    await mallory.end();
    const mallory2 = await h.online('mallory', 'r2');
    // alice changes presence, logs in another resource
    await alice.presence('<status>more secret</status>');
    await h.online('alice', 'r2');
    expect(seen()).toEqual([]);
    expect(
      mallory2.received.filter((s) => s.name === 'presence' && String(s.attrs.from).startsWith('alice@') && s.attrs.type !== 'unavailable'),
    ).toEqual([]);
    expect(JSON.stringify(mallory2.received.map(String))).not.toContain('secret');
  });
});
