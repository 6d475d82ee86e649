/**
 * Shared conformance tests for the core store interfaces. Every implementation (core's memory
 * stores, the SQLite adapters, later PostgreSQL) must pass them; core's memory stores are the
 * executable specification.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  Element,
  deriveScramCredentials,
  xml,
  type AccountRecord,
  type AccountStore,
  type OfflineStore,
  type PresenceStore,
  type RosterItem,
  type RosterStore,
} from '@strand/core';

/** A store opened for one test. */
export interface OpenedStore<S> {
  store: S;
  /** Closes the storage and opens it again over the same data (persistent stores only). */
  reopen?: () => Promise<S>;
  /** Releases everything (called after each test). */
  close(): Promise<void>;
}

/** Opens fresh, empty stores of one implementation. */
export interface StoreFactory<S, O = undefined> {
  /** True when `reopen` is available, enabling the persistence tests. */
  persistent: boolean;
  open(options?: O): Promise<OpenedStore<S>>;
}

/** Options of offline stores under test. */
export interface OfflineOptions {
  /** Per-user quota in messages. */
  maxPerUser?: number;
}

/** Runs `body` with a fresh store before each test and closes it after. */
function withStore<S, O>(factory: StoreFactory<S, O>, options?: O) {
  const ctx = {} as { opened: OpenedStore<S>; store: S; reopen(): Promise<S> };
  beforeEach(async () => {
    ctx.opened = await factory.open(options);
    ctx.store = ctx.opened.store;
    ctx.reopen = async () => (ctx.store = await ctx.opened.reopen!());
  });
  afterEach(async () => {
    await ctx.opened.close();
  });
  return ctx;
}

/** Persistence cases exist only for stores that persist; for the others they are not registered. */
const itPersistent = (persistent: boolean): typeof it => (persistent ? it : ((() => undefined) as unknown as typeof it));

function account(username: string, password = 'pw', createdAt = 1000): AccountRecord {
  return {
    username,
    createdAt,
    scram: {
      'SHA-1': deriveScramCredentials('SHA-1', password, 4096, Buffer.alloc(16, 1)),
      'SHA-256': deriveScramCredentials('SHA-256', password, 4096, Buffer.alloc(16, 2)),
    },
  };
}

/** AccountStore: get/put/delete/list. */
export function accountStoreConformance(name: string, factory: StoreFactory<AccountStore>): void {
  describe(`${name}: AccountStore conformance`, () => {
    const ctx = withStore(factory);

    it('returns undefined for an unknown account', async () => {
      expect(await ctx.store.get('nobody')).toBeUndefined();
    });

    it('stores and returns the full record, as a copy', async () => {
      const rec = account('alice');
      await ctx.store.put(rec);
      expect(await ctx.store.get('alice')).toStrictEqual(rec);
      const got = (await ctx.store.get('alice'))!;
      got.scram['SHA-1'].salt = 'changed';
      rec.createdAt = 5;
      expect((await ctx.store.get('alice'))!.scram['SHA-1'].salt).not.toBe('changed');
      expect((await ctx.store.get('alice'))!.createdAt).toBe(1000);
    });

    it('replaces a record on put', async () => {
      await ctx.store.put(account('alice', 'one', 1));
      await ctx.store.put(account('alice', 'two', 2));
      expect(await ctx.store.get('alice')).toStrictEqual(account('alice', 'two', 2));
      expect(await ctx.store.list()).toEqual(['alice']);
    });

    it('deletes, reporting whether something was deleted', async () => {
      await ctx.store.put(account('alice'));
      expect(await ctx.store.delete('alice')).toBe(true);
      expect(await ctx.store.delete('alice')).toBe(false);
      expect(await ctx.store.get('alice')).toBeUndefined();
    });

    it('lists usernames sorted', async () => {
      expect(await ctx.store.list()).toEqual([]);
      for (const u of ['carol', 'alice', 'bob']) await ctx.store.put(account(u));
      expect(await ctx.store.list()).toEqual(['alice', 'bob', 'carol']);
    });

    itPersistent(factory.persistent)('persists across reopening', async () => {
      await ctx.store.put(account('alice'));
      await ctx.store.put(account('bob'));
      await ctx.store.delete('bob');
      await ctx.reopen();
      expect(await ctx.store.get('alice')).toStrictEqual(account('alice'));
      expect(await ctx.store.list()).toEqual(['alice']);
    });
  });
}

const item = (jid: string, extra: Partial<RosterItem> = {}): RosterItem => ({
  jid,
  subscription: 'none',
  ask: false,
  pendingIn: false,
  approved: false,
  groups: [],
  visible: true,
  ...extra,
});

/** RosterStore: items, versions (RFC 6121 §2.6), clear. */
export function rosterStoreConformance(name: string, factory: StoreFactory<RosterStore>): void {
  describe(`${name}: RosterStore conformance`, () => {
    const ctx = withStore(factory);
    const U = 'alice@localhost';

    it('returns an empty roster at version "0" for an unknown user', async () => {
      expect(await ctx.store.get(U)).toStrictEqual({ version: '0', items: [] });
      expect(await ctx.store.getItem(U, 'bob@localhost')).toBeUndefined();
    });

    it('stores items with every field, optional fields left out when absent', async () => {
      const full = item('bob@localhost', {
        name: 'Bob «B» & co',
        subscription: 'both',
        ask: true,
        pendingIn: true,
        approved: true,
        groups: ['Friends', 'Ünïcode', ''],
        visible: false,
        pendingInStanza: "<presence from='bob@localhost' type='subscribe'/>",
      });
      const bare = item('carol@localhost', { subscription: 'from' });
      await ctx.store.setItem(U, full);
      await ctx.store.setItem(U, bare);
      expect(await ctx.store.getItem(U, 'bob@localhost')).toStrictEqual(full);
      expect(await ctx.store.getItem(U, 'carol@localhost')).toStrictEqual(bare);
      expect((await ctx.store.get(U)).items).toStrictEqual([full, bare]);
      for (const s of ['none', 'to', 'from', 'both'] as const) {
        await ctx.store.setItem(U, item('dave@localhost', { subscription: s }));
        expect((await ctx.store.getItem(U, 'dave@localhost'))?.subscription).toBe(s);
      }
    });

    it('bumps the version on every set and on effective removals only', async () => {
      expect(await ctx.store.setItem(U, item('bob@localhost'))).toBe('1');
      expect(await ctx.store.setItem(U, item('carol@localhost'))).toBe('2');
      expect(await ctx.store.setItem(U, item('bob@localhost', { name: 'Bob' }))).toBe('3');
      expect(await ctx.store.removeItem(U, 'carol@localhost')).toBe('4');
      expect(await ctx.store.removeItem(U, 'carol@localhost')).toBe('4');
      expect(await ctx.store.removeItem(U, 'nobody@localhost')).toBe('4');
      expect(await ctx.store.get(U)).toStrictEqual({ version: '4', items: [item('bob@localhost', { name: 'Bob' })] });
    });

    it('keeps versions and items per user', async () => {
      await ctx.store.setItem(U, item('bob@localhost'));
      await ctx.store.setItem(U, item('carol@localhost'));
      expect(await ctx.store.setItem('bob@localhost', item(U))).toBe('1');
      expect((await ctx.store.get(U)).version).toBe('2');
      expect(await ctx.store.getItem('bob@localhost', 'carol@localhost')).toBeUndefined();
      expect((await ctx.store.get('bob@localhost')).items).toStrictEqual([item(U)]);
    });

    it('returns items in the order first added; replacing keeps the position', async () => {
      for (const j of ['c@x', 'a@x', 'b@x']) await ctx.store.setItem(U, item(j));
      await ctx.store.setItem(U, item('c@x', { subscription: 'to' }));
      expect((await ctx.store.get(U)).items.map((i) => i.jid)).toEqual(['c@x', 'a@x', 'b@x']);
      await ctx.store.removeItem(U, 'c@x');
      await ctx.store.setItem(U, item('c@x'));
      expect((await ctx.store.get(U)).items.map((i) => i.jid)).toEqual(['a@x', 'b@x', 'c@x']);
    });

    it('returns copies', async () => {
      await ctx.store.setItem(U, item('bob@localhost', { groups: ['A'] }));
      const got = (await ctx.store.getItem(U, 'bob@localhost'))!;
      got.groups.push('B');
      (await ctx.store.get(U)).items[0]!.groups.push('C');
      expect((await ctx.store.getItem(U, 'bob@localhost'))!.groups).toEqual(['A']);
    });

    it('clears one roster only', async () => {
      await ctx.store.setItem(U, item('bob@localhost'));
      await ctx.store.setItem('bob@localhost', item(U));
      await ctx.store.clear(U);
      expect((await ctx.store.get(U)).items).toEqual([]);
      expect(await ctx.store.getItem(U, 'bob@localhost')).toBeUndefined();
      expect(await ctx.store.get('bob@localhost')).toStrictEqual({ version: '1', items: [item(U)] });
      await ctx.store.clear('nobody@localhost');
    });

    itPersistent(factory.persistent)('persists items and versions across reopening', async () => {
      await ctx.store.setItem(U, item('bob@localhost', { name: 'Bob', groups: ['G'] }));
      await ctx.store.setItem(U, item('carol@localhost'));
      await ctx.store.removeItem(U, 'carol@localhost');
      await ctx.reopen();
      expect(await ctx.store.get(U)).toStrictEqual({
        version: '3',
        items: [item('bob@localhost', { name: 'Bob', groups: ['G'] })],
      });
      expect(await ctx.store.setItem(U, item('dave@localhost'))).toBe('4');
    });
  });
}

/** Round-trip-worthy presence: escaping, nested children, namespaces, non-ASCII text. */
const presence = (from: string, show = 'away', status = 'Out <& "back" soon> ☕') =>
  xml(
    'presence',
    { from },
    xml('show', {}, show),
    xml('status', { 'xml:lang': 'en' }, status),
    xml('priority', {}, '5'),
    xml('c', { xmlns: 'http://jabber.org/protocol/caps', hash: 'sha-1', node: 'https://x/?a=1&b=2', ver: 'QgayPKaw=' }),
  );
const unavailable = (from: string, status = 'bye') =>
  xml('presence', { from, type: 'unavailable' }, xml('status', {}, status));

/** Element equality by serialisation, plus a check that it is a detached core `Element`. */
function expectStanza(actual: Element | undefined, expected: Element) {
  expect(actual).toBeInstanceOf(Element);
  expect(actual!.parent ?? null).toBeNull();
  expect(actual!.toString()).toBe(expected.toString());
}

/** PresenceStore: per-resource current / last unavailable presence with times. */
export function presenceStoreConformance(name: string, factory: StoreFactory<PresenceStore>): void {
  describe(`${name}: PresenceStore conformance`, () => {
    const ctx = withStore(factory);
    const A = 'alice@localhost';

    it('returns no records for an unknown account', async () => {
      expect(await ctx.store.get(A)).toEqual([]);
    });

    it('records the current presence with its time, replacing the previous one', async () => {
      await ctx.store.setAvailable(`${A}/phone`, presence(`${A}/phone`, 'dnd'), 100);
      await ctx.store.setAvailable(`${A}/phone`, presence(`${A}/phone`), 200);
      const [rec, ...rest] = await ctx.store.get(A);
      expect(rest).toEqual([]);
      expect(Object.keys(rec!).sort()).toEqual(['current', 'resource']);
      expect(rec!.resource).toBe('phone');
      expect(rec!.current!.at).toBe(200);
      expectStanza(rec!.current!.stanza, presence(`${A}/phone`));
    });

    it('moves to lastUnavailable on unavailable and keeps it when available again', async () => {
      await ctx.store.setAvailable(`${A}/phone`, presence(`${A}/phone`), 100);
      await ctx.store.setUnavailable(`${A}/phone`, unavailable(`${A}/phone`), 150);
      let [rec] = await ctx.store.get(A);
      expect(rec!.current).toBeUndefined();
      expect(Object.keys(rec!).sort()).toEqual(['lastUnavailable', 'resource']);
      expect(rec!.lastUnavailable!.at).toBe(150);
      expectStanza(rec!.lastUnavailable!.stanza, unavailable(`${A}/phone`));

      await ctx.store.setAvailable(`${A}/phone`, presence(`${A}/phone`), 300);
      [rec] = await ctx.store.get(A);
      expect(rec!.current!.at).toBe(300);
      expect(rec!.lastUnavailable!.at).toBe(150);
    });

    it('records an unavailable presence of a resource never seen available', async () => {
      await ctx.store.setUnavailable(`${A}/old`, unavailable(`${A}/old`, 'gone'), 5);
      const [rec] = await ctx.store.get(A);
      expect(rec!.resource).toBe('old');
      expectStanza(rec!.lastUnavailable!.stanza, unavailable(`${A}/old`, 'gone'));
    });

    it('keeps resources apart (case-sensitive) in the order first seen, keyed by normalised bare JID', async () => {
      await ctx.store.setAvailable(`${A}/b`, presence(`${A}/b`), 1);
      await ctx.store.setAvailable('Alice@LOCALHOST/a', presence(`${A}/a`), 2);
      await ctx.store.setAvailable(`${A}/A`, presence(`${A}/A`), 3);
      await ctx.store.setAvailable(`${A}/b`, presence(`${A}/b`), 4);
      await ctx.store.setAvailable('bob@localhost/x', presence('bob@localhost/x'), 5);
      expect((await ctx.store.get(A)).map((r) => [r.resource, r.current?.at])).toEqual([
        ['b', 4],
        ['a', 2],
        ['A', 3],
      ]);
      expect((await ctx.store.get('ALICE@localhost')).length).toBe(3);
      expect((await ctx.store.get(`${A}/whatever`)).length).toBe(3);
    });

    it('returns copies of the stanzas', async () => {
      await ctx.store.setAvailable(`${A}/r`, presence(`${A}/r`), 1);
      const [rec] = await ctx.store.get(A);
      rec!.current!.stanza.attrs.to = 'x@y';
      rec!.current!.stanza.c('extra');
      expectStanza((await ctx.store.get(A))[0]!.current!.stanza, presence(`${A}/r`));
    });

    it('is not affected by later changes to the stanza given', async () => {
      const p = presence(`${A}/r`);
      await ctx.store.setAvailable(`${A}/r`, p, 1);
      p.attrs.type = 'unavailable';
      expectStanza((await ctx.store.get(A))[0]!.current!.stanza, presence(`${A}/r`));
    });

    it('rejects a malformed JID', async () => {
      await expect(ctx.store.setAvailable('', presence('x'), 1)).rejects.toThrow();
    });

    it('markAllUnavailable converts every current presence and counts them', async () => {
      await ctx.store.setAvailable(`${A}/a`, presence(`${A}/a`), 1);
      await ctx.store.setAvailable(`${A}/b`, presence(`${A}/b`), 2);
      await ctx.store.setUnavailable(`${A}/b`, unavailable(`${A}/b`), 3);
      await ctx.store.setAvailable('bob@localhost/c', presence('bob@localhost/c'), 4);
      expect(await ctx.store.markAllUnavailable(1000)).toBe(2);
      const alice = await ctx.store.get(A);
      expect(alice.every((r) => r.current === undefined)).toBe(true);
      expect(alice[0]!.lastUnavailable!.at).toBe(1000);
      expectStanza(alice[0]!.lastUnavailable!.stanza, xml('presence', { from: `${A}/a`, type: 'unavailable' }));
      expect(alice[1]!.lastUnavailable!.at).toBe(3); // was already unavailable: untouched
      const [bob] = await ctx.store.get('bob@localhost');
      expectStanza(bob!.lastUnavailable!.stanza, xml('presence', { from: 'bob@localhost/c', type: 'unavailable' }));
      expect(await ctx.store.markAllUnavailable(2000)).toBe(0);
    });

    it('clears one account only', async () => {
      await ctx.store.setAvailable(`${A}/a`, presence(`${A}/a`), 1);
      await ctx.store.setAvailable('bob@localhost/c', presence('bob@localhost/c'), 4);
      await ctx.store.clear('ALICE@localhost');
      expect(await ctx.store.get(A)).toEqual([]);
      expect((await ctx.store.get('bob@localhost')).length).toBe(1);
    });

    itPersistent(factory.persistent)('persists across reopening', async () => {
      await ctx.store.setAvailable(`${A}/a`, presence(`${A}/a`), 10);
      await ctx.store.setUnavailable(`${A}/b`, unavailable(`${A}/b`), 20);
      await ctx.reopen();
      const [a, b] = await ctx.store.get(A);
      expectStanza(a!.current!.stanza, presence(`${A}/a`));
      expect(a!.current!.at).toBe(10);
      expectStanza(b!.lastUnavailable!.stanza, unavailable(`${A}/b`));
      expect(await ctx.store.markAllUnavailable(30)).toBe(1);
    });
  });
}

const message = (body: string) =>
  xml('message', { from: 'bob@localhost/x', to: 'alice@localhost', type: 'chat', id: body }, xml('body', {}, body));

/** OfflineStore: ordering by original time then storage order, quota, removal. */
export function offlineStoreConformance(name: string, factory: StoreFactory<OfflineStore, OfflineOptions>): void {
  describe(`${name}: OfflineStore conformance`, () => {
    const ctx = withStore(factory, { maxPerUser: 3 });
    const A = 'alice@localhost';

    it('is empty for an unknown user', async () => {
      expect(await ctx.store.list(A)).toEqual([]);
      expect(await ctx.store.count(A)).toBe(0);
    });

    it('lists by original time, then storage order, with increasing ids', async () => {
      expect(await ctx.store.store(A, message('m1'), 300)).toBe('stored');
      await ctx.store.store(A, message('m2'), 100);
      await ctx.store.store(A, message('m3 <&>'), 100);
      const list = await ctx.store.list(A);
      expect(list.map((m) => [m.stanza.attrs.id, m.at])).toEqual([
        ['m2', 100],
        ['m3 <&>', 100],
        ['m1', 300],
      ]);
      expect(list[0]!.id).toBeLessThan(list[1]!.id);
      expect(list[1]!.id).toBeGreaterThan(list[2]!.id);
      expectStanza(list[1]!.stanza, message('m3 <&>'));
      expect(await ctx.store.count(A)).toBe(3);
    });

    it('enforces the per-user quota', async () => {
      for (const b of ['1', '2', '3']) expect(await ctx.store.store(A, message(b), 1)).toBe('stored');
      expect(await ctx.store.store(A, message('4'), 1)).toBe('quota-exceeded');
      expect(await ctx.store.count(A)).toBe(3);
      expect(await ctx.store.store('bob@localhost', message('x'), 1)).toBe('stored');
      const [first] = await ctx.store.list(A);
      await ctx.store.remove(A, [first!.id]);
      expect(await ctx.store.store(A, message('5'), 1)).toBe('stored');
    });

    it('removes only the given ids of the given user; ids are never reused', async () => {
      await ctx.store.store(A, message('a1'), 1);
      await ctx.store.store('bob@localhost', message('b1'), 1);
      await ctx.store.store(A, message('a2'), 2);
      const [a1, a2] = await ctx.store.list(A);
      const [b1] = await ctx.store.list('bob@localhost');
      await ctx.store.remove(A, [a1!.id, b1!.id, 9999]);
      await ctx.store.remove(A, []);
      expect((await ctx.store.list(A)).map((m) => m.id)).toEqual([a2!.id]);
      expect(await ctx.store.count('bob@localhost')).toBe(1);
      await ctx.store.remove('nobody@localhost', [a2!.id]);
      expect(await ctx.store.count(A)).toBe(1);
      await ctx.store.store(A, message('a3'), 3);
      const ids = (await ctx.store.list(A)).map((m) => m.id);
      expect(ids[1]).toBeGreaterThan(Math.max(a1!.id, a2!.id, b1!.id));
    });

    it('returns copies and is not affected by later changes to the stanza given', async () => {
      const m = message('x');
      await ctx.store.store(A, m, 1);
      m.attrs.type = 'error';
      const [got] = await ctx.store.list(A);
      got!.stanza.c('extra');
      expectStanza((await ctx.store.list(A))[0]!.stanza, message('x'));
    });

    itPersistent(factory.persistent)('persists across reopening; ids keep increasing', async () => {
      await ctx.store.store(A, message('a1'), 50);
      await ctx.store.store(A, message('a2'), 10);
      const before = await ctx.store.list(A);
      await ctx.reopen();
      const after = await ctx.store.list(A);
      expect(after.map((m) => [m.id, m.at, m.stanza.toString()])).toEqual(
        before.map((m) => [m.id, m.at, m.stanza.toString()]),
      );
      await ctx.store.store(A, message('a3'), 60);
      expect((await ctx.store.list(A))[2]!.id).toBeGreaterThan(Math.max(...before.map((m) => m.id)));
      expect(await ctx.store.store(A, message('a4'), 60)).toBe('quota-exceeded');
    });
  });
}
