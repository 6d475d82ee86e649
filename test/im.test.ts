/**
 * RFC 6121 IM acceptance over real sockets with real clients (@xmpp/client 0.14, STARTTLS):
 * subscriptions both ways and presence, offline messages with XEP-0203 stamps, roster
 * versioning, and that a non-subscribed user never learns alice's presence.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Element } from '@xmpp/xml';
import { imModule } from '../packages/server/src/im/index.js';
import { RawClient } from './helpers/raw-client.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const ROSTER = 'jabber:iq:roster';

const isPresence = (from: string, type?: string) => (el: Element) =>
  el.is('presence') && el.attrs.from === from && el.attrs.type === type;

/** Resolves after `ms` of real time: only to let stanzas that must NOT arrive have their chance. */
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('IM core (RFC 6121) with real clients', () => {
  let srv: RunningServer;
  let clients: TestXmpp[] = [];

  beforeAll(async () => {
    const accounts = ['alice', 'bob', 'carol', 'mallory'].map((username) => ({ username, password: 'secret' }));
    srv = await startServer({ accounts }, { modules: [imModule] });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    clients = [];
  });
  afterAll(async () => {
    await srv.stop();
  });

  async function login(username: string, resource = 'test'): Promise<TestXmpp> {
    const c = await startClient({ port: srv.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  async function rosterGet(c: TestXmpp, ver?: string): Promise<Element> {
    const attrs: Record<string, string> = { xmlns: ROSTER };
    if (ver !== undefined) attrs.ver = ver;
    return c.xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', attrs)));
  }

  async function rosterItem(c: TestXmpp, jid: string): Promise<Record<string, string> | undefined> {
    const r = await rosterGet(c);
    return r
      .getChild('query', ROSTER)
      ?.getChildren('item')
      .find((i: Element) => i.attrs.jid === jid)?.attrs;
  }

  it('subscribes both ways, shows presence and status changes, and reports going offline', async () => {
    const alice = await login('alice', 'laptop');
    const bob = await login('bob', 'phone');
    await rosterGet(alice);
    await rosterGet(bob);
    await alice.xmpp.send(xml('presence'));
    await bob.xmpp.send(xml('presence'));

    // alice asks, bob approves
    await alice.xmpp.send(xml('presence', { type: 'subscribe', to: 'bob@localhost' }));
    const push = await alice.waitFor((el) => el.is('iq') && el.getChild('query', ROSTER)?.getChild('item')?.attrs.ask === 'subscribe');
    expect(push.attrs.type).toBe('set');
    const request = await bob.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe');
    expect(request.attrs.from).toBe('alice@localhost');
    await bob.xmpp.send(xml('presence', { type: 'subscribed', to: 'alice@localhost' }));
    await alice.waitFor(isPresence('bob@localhost', 'subscribed'));
    await alice.waitFor(isPresence('bob@localhost/phone'));

    // bob asks, alice approves
    await bob.xmpp.send(xml('presence', { type: 'subscribe', to: 'alice@localhost' }));
    await alice.waitFor(isPresence('bob@localhost', 'subscribe'));
    await alice.xmpp.send(xml('presence', { type: 'subscribed', to: 'bob@localhost' }));
    await bob.waitFor(isPresence('alice@localhost/laptop'));

    expect(await rosterItem(alice, 'bob@localhost')).toMatchObject({ subscription: 'both' });
    expect(await rosterItem(bob, 'alice@localhost')).toMatchObject({ subscription: 'both' });

    // a status change reaches the contact
    await alice.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'lunch')));
    const away = await bob.waitFor((el) => isPresence('alice@localhost/laptop')(el) && el.getChildText('status') === 'lunch');
    expect(away.getChildText('show')).toBe('away');

    // going offline (the client closes its stream without an unavailable presence)
    await alice.stop();
    const gone = await bob.waitFor(isPresence('alice@localhost/laptop', 'unavailable'));
    expect(gone.attrs.to).toBe('bob@localhost');
  });

  it('delivers 3 messages sent to an offline user at login, in order, each with a delay stamp', async () => {
    const carol = await login('carol', 'desk');
    const before = Date.now();
    for (const body of ['first', 'second', 'third']) {
      await carol.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, body)));
    }
    await settle(200);
    const bob = await login('bob', 'later');
    await bob.xmpp.send(xml('presence'));
    await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'third');
    await settle();
    const got = bob.inbox.filter((el) => el.is('message'));
    expect(got.map((m) => m.getChildText('body'))).toEqual(['first', 'second', 'third']);
    let last = 0;
    for (const m of got) {
      expect(m.attrs.from).toBe('carol@localhost/desk');
      const delay = m.getChild('delay', 'urn:xmpp:delay');
      expect(delay?.attrs.from).toBe('localhost');
      const stamp = Date.parse(delay!.attrs.stamp);
      expect(stamp).toBeGreaterThanOrEqual(before - 1000);
      expect(stamp).toBeGreaterThanOrEqual(last);
      last = stamp;
    }
    // nothing left for the next login
    await bob.stop();
    const again = await login('bob', 'again');
    await again.xmpp.send(xml('presence'));
    await settle();
    expect(again.inbox.filter((el) => el.is('message'))).toHaveLength(0);
  });

  it('gives an empty roster result to a re-login with the current ver (§2.6)', async () => {
    const alice = await login('alice', 'v1');
    const first = await rosterGet(alice, '');
    const ver = first.getChild('query', ROSTER)!.attrs.ver as string;
    expect(ver).toBeDefined();
    expect(first.getChild('query', ROSTER)!.getChildren('item').length).toBeGreaterThan(0);
    await alice.stop();
    const again = await login('alice', 'v2');
    const second = await rosterGet(again, ver);
    expect(second.attrs.type).toBe('result');
    expect(second.children.filter((c) => typeof c !== 'string')).toHaveLength(0);
    // a stale version gets the full roster
    const stale = await rosterGet(again, 'stale');
    expect(stale.getChild('query', ROSTER)!.attrs.ver).toBe(ver);
  });

  it("never lets a non-subscribed user learn alice's presence", async () => {
    const alice = await login('alice', 'secret');
    await alice.xmpp.send(xml('presence', {}, xml('status', {}, 'top secret')));
    const mallory = await login('mallory', 'm');
    await mallory.xmpp.send(xml('presence'));
    // a subscription request alice never approves
    await mallory.xmpp.send(xml('presence', { type: 'subscribe', to: 'alice@localhost' }));
    await alice.waitFor(isPresence('mallory@localhost', 'subscribe'));
    // directed probes, to the bare and to the full JID
    await mallory.xmpp.send(xml('presence', { type: 'probe', to: 'alice@localhost' }));
    await mallory.xmpp.send(xml('presence', { type: 'probe', to: 'alice@localhost/secret' }));
    // presence to alice's full JID (a directed presence from mallory, which alice's server does not answer)
    await mallory.xmpp.send(xml('presence', { to: 'alice@localhost/secret' }));
    await alice.waitFor(isPresence('mallory@localhost/m'));
    // alice changes status meanwhile
    await alice.xmpp.send(xml('presence', {}, xml('status', {}, 'still secret')));
    await settle(500);
    const fromAlice = mallory.inbox.filter((el) => el.is('presence') && String(el.attrs.from).startsWith('alice@'));
    expect(fromAlice.length).toBe(2); // the two probe answers …
    for (const p of fromAlice) {
      // … each a bare unavailable from the bare JID: nothing revealed, and no `unsubscribed`
      expect(p.attrs).toMatchObject({ from: 'alice@localhost', type: 'unavailable' });
      expect(p.children.filter((c) => typeof c !== 'string')).toHaveLength(0);
    }
    expect(mallory.inbox.map(String).join('')).not.toContain('secret');
    // mallory's request is still pending (a probe answer did not cancel it)
    expect(await rosterItem(mallory, 'alice@localhost')).toMatchObject({ subscription: 'none', ask: 'subscribe' });
  });

  it('advertises roster versioning and pre-approval after authentication', async () => {
    const raw = await RawClient.connect(srv.ports.c2s);
    try {
      await raw.login('carol', 'secret', 'raw');
      const [preAuth, postAuth] = raw.received.split('<success');
      expect(preAuth).not.toContain('urn:xmpp:features:rosterver');
      expect(postAuth).toMatch(/<ver xmlns=['"]urn:xmpp:features:rosterver['"]\s*\/>/);
      expect(postAuth).toMatch(/<sub xmlns=['"]urn:xmpp:features:pre-approval['"]\s*\/>/);
    } finally {
      raw.destroy();
    }
  });
});
