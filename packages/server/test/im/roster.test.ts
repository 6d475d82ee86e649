/** RFC 6121 §2: roster get/set/remove, pushes, errors and versioning (in-process host). */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { ContainerModule } from 'inversify';
import { HookSet, HookSetToken } from '../../src/host/hook-set.js';
import { RosterLimits, DEFAULT_ROSTER_LIMITS } from '../../src/im/index.js';
import { errorCondition, ImHarness, pushedItem, pushes } from './harness.js';

const ROSTER = 'jabber:iq:roster';

let h: ImHarness;
beforeEach(() => {
  h = new ImHarness();
});

describe('roster get (§2.1.3, §2.2)', () => {
  it('returns an empty roster and marks the session interested', async () => {
    const alice = await h.login('alice');
    expect(alice.session.interested).toBe(false);
    const r = await alice.rosterGet();
    expect(r.attrs.type).toBe('result');
    const q = r.getChild('query', ROSTER)!;
    expect(q.getChildElements()).toHaveLength(0);
    expect(q.attrs.ver).toBeUndefined(); // no ver asked, none given
    expect(alice.session.interested).toBe(true);
  });

  it('accepts a roster get addressed to the own bare JID', async () => {
    const alice = await h.login('alice');
    const r = await alice.iq(`<iq type='get' to='alice@localhost'><query xmlns='${ROSTER}'/></iq>`);
    expect(r.attrs.type).toBe('result');
  });

  it('refuses roster gets and sets for another account with forbidden', async () => {
    const mallory = await h.login('mallory');
    const bob = await h.online('bob');
    await bob.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='carol@localhost'/></query></iq>`);
    const get = await mallory.iq(`<iq type='get' to='bob@localhost'><query xmlns='${ROSTER}'/></iq>`);
    expect(get.attrs.type).toBe('error');
    expect(errorCondition(get)).toBe('forbidden');
    const set = await mallory.iq(`<iq type='set' to='bob@localhost'><query xmlns='${ROSTER}'><item jid='mallory@localhost'/></query></iq>`);
    expect(errorCondition(set)).toBe('forbidden');
    const remove = await mallory.iq(
      `<iq type='set' to='bob@localhost'><query xmlns='${ROSTER}'><item jid='carol@localhost' subscription='remove'/></query></iq>`,
    );
    expect(errorCondition(remove)).toBe('forbidden');
    expect((await h.rosters.get('bob@localhost')).items.map((i) => i.jid)).toEqual(['carol@localhost']);
  });
});

describe('roster set (§2.3, §2.4) and pushes (§2.1.6)', () => {
  it('adds an item, pushes it to every interested resource (the sender too) and answers with an empty result', async () => {
    const a1 = await h.login('alice', 'one');
    const a2 = await h.login('alice', 'two');
    const a3 = await h.login('alice', 'three'); // never asked for the roster: not interested
    await a1.rosterGet();
    await a2.rosterGet();
    a1.drain();
    const r = await a1.iq(
      `<iq type='set'><query xmlns='${ROSTER}'><item jid='Bob@LocalHost' name='Bob' subscription='both' ask='subscribe' approved='true'><group>Friends</group><group>Work</group></item></query></iq>`,
    );
    expect(r.attrs.type).toBe('result');
    expect(r.getChildElements()).toHaveLength(0);
    const sent = a1.drain();
    for (const c of [a1, a2]) {
      const [p] = pushes(c.received);
      expect(p).toBeDefined();
      expect(p!.attrs.from).toBeUndefined();
      expect(p!.attrs.to).toBe(c.jid);
      const item = pushedItem(p!);
      // the JID is normalised; subscription/ask/approved from the client are ignored (§2.1.2)
      expect(item.attrs).toEqual({ jid: 'bob@localhost', name: 'Bob', subscription: 'none' });
      expect(item.getChildren('group').map((g) => g.getText())).toEqual(['Friends', 'Work']);
    }
    expect(pushes(a3.received)).toHaveLength(0);
    // the push to the sender precedes the result
    const seq = sent.map((s) => s.attrs.type);
    expect(seq.indexOf('set')).toBeLessThan(seq.indexOf('result'));
  });

  it('updates name and groups (absent name removes it) and keeps the subscription', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await h.befriend(alice, bob);
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' name='B'><group>G</group></item></query></iq>`);
    alice.drain();
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost'/></query></iq>`);
    const item = pushedItem(pushes(alice.drain())[0]!);
    expect(item.attrs).toEqual({ jid: 'bob@localhost', subscription: 'both' });
    expect(item.getChildren('group')).toHaveLength(0);
  });

  it.each([
    ['two items', `<item jid='a@localhost'/><item jid='b@localhost'/>`, 'bad-request'],
    ['no item', ``, 'bad-request'],
    ['an item without jid', `<item name='x'/>`, 'bad-request'],
    ['duplicate groups', `<item jid='a@localhost'><group>G</group><group>G</group></item>`, 'bad-request'],
    ['an empty group', `<item jid='a@localhost'><group></group></item>`, 'not-acceptable'],
    ['a too long name', `<item jid='a@localhost' name='${'n'.repeat(1024)}'/>`, 'not-acceptable'],
    ['a too long group', `<item jid='a@localhost'><group>${'g'.repeat(1024)}</group></item>`, 'not-acceptable'],
    ['a malformed jid', `<item jid='a@'/>`, 'jid-malformed'],
    ['a full jid', `<item jid='a@localhost/res'/>`, 'jid-malformed'],
    ['the own jid', `<item jid='alice@localhost'/>`, 'not-allowed'],
  ])('rejects %s (§2.3.3)', async (_what, items, condition) => {
    const alice = await h.online('alice');
    alice.drain();
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'>${items}</query></iq>`);
    expect(r.attrs.type).toBe('error');
    expect(errorCondition(r)).toBe(condition);
    expect(pushes(alice.received)).toHaveLength(0);
    expect((await h.rosters.get('alice@localhost')).items).toHaveLength(0);
  });

  it('accepts names and groups at the limit (counted in characters)', async () => {
    const alice = await h.online('alice');
    const r = await alice.iq(
      `<iq type='set'><query xmlns='${ROSTER}'><item jid='a@localhost' name='${'é'.repeat(1023)}'><group>${'☃'.repeat(1023)}</group></item></query></iq>`,
    );
    expect(r.attrs.type).toBe('result');
  });

  it('refuses to grow the roster beyond its limit with not-allowed', async () => {
    h = new ImHarness({
      modules: [
        new ContainerModule(({ rebind }) => {
          rebind(RosterLimits).toConstantValue({ ...DEFAULT_ROSTER_LIMITS, maxItems: 2 });
        }),
      ],
    });
    const alice = await h.online('alice');
    for (const c of ['a', 'b']) {
      expect((await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='${c}@localhost'/></query></iq>`)).attrs.type).toBe('result');
    }
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='c@localhost'/></query></iq>`);
    expect(errorCondition(r)).toBe('not-allowed');
    // updating an existing item is still fine
    expect((await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='a@localhost' name='A'/></query></iq>`)).attrs.type).toBe('result');
  });
});

describe('roster remove (§2.5)', () => {
  it('removes an item and pushes subscription=remove', async () => {
    const alice = await h.online('alice');
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost'/></query></iq>`);
    alice.drain();
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    expect(r.attrs.type).toBe('result');
    expect(pushedItem(pushes(alice.drain())[0]!).attrs).toEqual({ jid: 'bob@localhost', subscription: 'remove' });
    expect((await h.rosters.get('alice@localhost')).items).toHaveLength(0);
  });

  it('answers item-not-found for a contact not in the roster (§2.5.3)', async () => {
    const alice = await h.online('alice');
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    expect(errorCondition(r)).toBe('item-not-found');
  });

  it('answers item-not-found for a contact that only has a pending request (not in the roster)', async () => {
    const alice = await h.online('alice');
    const bob = await h.online('bob');
    await bob.send(`<presence type='subscribe' to='alice@localhost'/>`);
    const r = await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost' subscription='remove'/></query></iq>`);
    expect(errorCondition(r)).toBe('item-not-found');
  });
});

describe('roster versioning (§2.6)', () => {
  it('gives the full roster with ver, then an empty result for the current ver', async () => {
    const alice = await h.online('alice');
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost'/></query></iq>`);
    await alice.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='carol@localhost'/></query></iq>`);
    await alice.end();

    const again = await h.login('alice', 'r2');
    const full = await again.rosterGet('');
    const q = full.getChild('query', ROSTER)!;
    expect(q.getChildren('item').map((i) => i.attrs.jid)).toEqual(['bob@localhost', 'carol@localhost']);
    const ver = q.attrs.ver as string;
    expect(ver).toMatch(/\S/);
    await again.end();

    const third = await h.login('alice', 'r3');
    const empty = await third.rosterGet(ver);
    expect(empty.attrs.type).toBe('result');
    expect(empty.getChildElements()).toHaveLength(0);
    expect(third.session.interested).toBe(true);
  });

  it('gives the full roster for a stale ver, and pushes carry ver only for sessions that asked with ver', async () => {
    const a1 = await h.login('alice', 'one');
    const a2 = await h.login('alice', 'two');
    const v0 = (await a1.rosterGet('')).getChild('query', ROSTER)!.attrs.ver as string;
    await a2.rosterGet();
    a1.drain();
    a2.drain();
    await a1.iq(`<iq type='set'><query xmlns='${ROSTER}'><item jid='bob@localhost'/></query></iq>`);
    const p1 = pushes(a1.drain())[0]!.getChild('query', ROSTER)!;
    const p2 = pushes(a2.drain())[0]!.getChild('query', ROSTER)!;
    expect(p1.attrs.ver).toBeDefined();
    expect(p1.attrs.ver).not.toBe(v0);
    expect(p2.attrs.ver).toBeUndefined();
    const stale = await a1.rosterGet(v0);
    const q = stale.getChild('query', ROSTER)!;
    expect(q.attrs.ver).toBe(p1.attrs.ver);
    expect(q.getChildren('item')).toHaveLength(1);
    expect((await a1.rosterGet(p1.attrs.ver as string)).getChildElements()).toHaveLength(0);
  });
});

describe('stream features', () => {
  it('offers roster versioning and pre-approval after authentication only, in priority order', async () => {
    const hooks = h.container.get<HookSet>(HookSetToken);
    const alice = await h.login('alice');
    const ctx = { stream: alice.stream as never, authenticatedJid: alice.session.jid.bare(), session: undefined };
    const post = hooks.features.flatMap((p) => p.offer(ctx, 'post-auth')).map((e) => `${e.name} ${e.attrs.xmlns}`);
    expect(post).toEqual(['ver urn:xmpp:features:rosterver', 'sub urn:xmpp:features:pre-approval']);
    expect(hooks.features.flatMap((p) => p.offer(ctx, 'pre-auth'))).toHaveLength(0);
  });
});
