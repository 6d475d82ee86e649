/**
 * @strand/presence-probe over real sockets with @xmpp/client 0.14 (STARTTLS, SCRAM) and a raw TCP
 * client: XEP-0318 answers with XEP-0203 delays from what the host's IM core recorded, the one
 * uniform answer for unauthorised probers (byte-compared on the wire), and the rate limit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Element } from '@xmpp/xml';
import { RawClient } from './helpers/raw-client.js';
import type { RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';
import {
  barrier,
  DELAY,
  probeWith,
  rosterItem,
  rosterSnapshot,
  startProbeServer,
  startedAt,
  subscribe,
  until,
} from './helpers/presence-probe.js';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const XEP82_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

function delayOf(el: Element): { from?: string; stamp: string; at: number } {
  const delays = el.getChildren('delay', DELAY);
  expect(delays).toHaveLength(1);
  const d = delays[0]!;
  expect(d.attrs.stamp).toMatch(XEP82_UTC);
  return { from: d.attrs.from, stamp: d.attrs.stamp, at: Date.parse(d.attrs.stamp) };
}

describe('presence-probe with @xmpp/client', () => {
  let srv: RunningServer;
  const clients: TestXmpp[] = [];
  const raws: RawClient[] = [];
  let t0: number;
  let t1: number;

  beforeAll(async () => {
    t0 = Date.now();
    srv = await startProbeServer({ rateLimit: { probes: 5, window: 60 } });
    t1 = Date.now();
  });
  afterAll(async () => {
    for (const r of raws) r.destroy();
    await Promise.all(clients.map((c) => c.stop()));
    await srv.stop();
  });

  async function login(username: string, resource: string): Promise<TestXmpp> {
    const c = await startClient({ port: srv.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  it('probes an offline contact: the stored unavailable presence with its status, stamped when the contact left', async () => {
    const alice = await login('alice', 'desk');
    const bob = await login('bob', 'balcony');
    await subscribe(srv, alice, bob);
    await bob.xmpp.send(xml('presence', {}, xml('status', {}, 'around')));
    await new Promise((r) => setTimeout(r, 300));
    const leftAt = Date.now();
    await bob.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Going offline. Out of battery.')));
    await bob.stop();

    const answers = await probeWith(alice, 'bob@localhost');
    expect(answers).toHaveLength(1);
    const a = answers[0]!;
    expect(a.attrs).toMatchObject({ from: 'bob@localhost', to: 'alice@localhost/desk', type: 'unavailable' });
    expect(a.getChildText('status')).toBe('Going offline. Out of battery.');
    const d = delayOf(a);
    expect(d.from).toBe('bob@localhost/balcony');
    expect(Math.abs(d.at - leftAt)).toBeLessThanOrEqual(1000);
  });

  it('probes an online contact with two resources and gets both, each stamped when it was set', async () => {
    const alice = clients[0]!;
    const phone = await login('bob', 'phone');
    const laptop = await login('bob', 'laptop');
    const phoneAt = Date.now();
    await phone.xmpp.send(xml('presence', {}, xml('show', {}, 'away'), xml('status', {}, 'on the phone')));
    await barrier(phone);
    await new Promise((r) => setTimeout(r, 1200));
    const laptopAt = Date.now();
    await laptop.xmpp.send(xml('presence', {}, xml('status', {}, 'at the laptop')));
    await barrier(laptop); // the server has processed (and recorded) the laptop's presence

    const answers = await probeWith(alice, 'bob@localhost');
    expect(answers.map((a) => a.attrs.from).sort()).toEqual(['bob@localhost/laptop', 'bob@localhost/phone']);
    for (const a of answers) {
      expect(a.attrs.to).toBe('alice@localhost/desk');
      expect(a.attrs.type).toBeUndefined();
      const d = delayOf(a);
      expect(d.from).toBe(a.attrs.from);
      const setAt = a.attrs.from === 'bob@localhost/phone' ? phoneAt : laptopAt;
      expect(Math.abs(d.at - setAt)).toBeLessThanOrEqual(1000);
    }
    const p = answers.find((a) => a.attrs.from === 'bob@localhost/phone')!;
    expect(p.getChildText('show')).toBe('away');
    expect(p.getChildText('status')).toBe('on the phone');
    expect(answers.find((a) => a.attrs.from === 'bob@localhost/laptop')!.getChildText('status')).toBe('at the laptop');

    // A full JID: that resource only.
    const one = await probeWith(alice, 'bob@localhost/laptop');
    expect(one.map((a) => a.attrs.from)).toEqual(['bob@localhost/laptop']);
  });

  it("probes the server and gets its start time", async () => {
    const alice = clients[0]!;
    const answers = await probeWith(alice, 'localhost');
    expect(answers).toHaveLength(1);
    const a = answers[0]!;
    expect(a.attrs).toEqual(expect.objectContaining({ from: 'localhost', to: 'alice@localhost/desk' }));
    expect(a.attrs.type).toBeUndefined();
    const d = delayOf(a);
    expect(d.from).toBe('localhost');
    expect(d.at).toBe(startedAt(srv));
    expect(d.at).toBeGreaterThanOrEqual(t0);
    expect(d.at).toBeLessThanOrEqual(t1);
  });

  it('answers an unsubscribed user, a user with a pending outbound request and a prober of a nonexistent account byte-identically, changing no roster', async () => {
    // dave asks bob for a subscription that bob never answers: dave Pending Out, bob Pending In.
    const dave = await RawClient.connect(srv.ports.c2s);
    raws.push(dave);
    await dave.login('dave', 'secret', 'raw');
    dave.send(`<presence to='bob@localhost' type='subscribe'/>`);
    await until(async () => (await rosterItem(srv, 'bob@localhost', 'dave@localhost'))?.pendingIn === true, 'bob has a pending request');
    expect(await rosterItem(srv, 'dave@localhost', 'bob@localhost')).toMatchObject({ subscription: 'none', ask: true });
    const carol = await RawClient.connect(srv.ports.c2s);
    raws.push(carol);
    await carol.login('carol', 'secret', 'raw');
    const owners = ['alice@localhost', 'bob@localhost', 'carol@localhost', 'dave@localhost', 'nobody@localhost'];
    const before = await rosterSnapshot(srv, owners);

    let seq = 0;
    /** Sends a probe and returns the exact bytes of the answer (everything up to a ping barrier). */
    async function rawProbe(c: RawClient, to: string): Promise<string> {
      const id = `ping-${++seq}`;
      const mark = c.received.length;
      c.send(`<presence type='probe' to='${to}'/><iq type='get' id='${id}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await c.waitFor(new RegExp(`id=["']${id}["']`));
      const text = c.since(mark);
      return text.slice(0, text.search(/<iq[\s>]/));
    }
    const unsubscribed = await rawProbe(carol, 'bob@localhost');
    const pending = await rawProbe(dave, 'bob@localhost');
    const nonexistent = await rawProbe(carol, 'nobody@localhost');

    const norm = (s: string, prober: string, contact: string) => s.split(prober).join('PROBER').split(contact).join('CONTACT');
    const a = norm(unsubscribed, 'carol@localhost/raw', 'bob@localhost');
    const b = norm(pending, 'dave@localhost/raw', 'bob@localhost');
    const c = norm(nonexistent, 'carol@localhost/raw', 'nobody@localhost');
    expect(a).toMatch(/^<presence [^>]*\/>$/);
    expect(a).toContain('unavailable');
    expect(a).not.toMatch(/delay|status|unsubscribed/);
    expect(b).toBe(a);
    expect(c).toBe(a);

    expect(await rosterSnapshot(srv, owners)).toEqual(before);
    expect(await rosterItem(srv, 'dave@localhost', 'bob@localhost')).toMatchObject({ subscription: 'none', ask: true });
    expect(await rosterItem(srv, 'bob@localhost', 'dave@localhost')).toMatchObject({ pendingIn: true });
  });

  it('rate-limits probes per session: the N+1st probe in the window gets policy-violation', async () => {
    const erin = await login('erin', 'spam');
    for (let i = 1; i <= 5; i++) {
      const answers = await probeWith(erin, 'localhost', `p${i}`);
      expect(answers.map((a) => a.attrs.type)).toEqual([undefined]);
    }
    const refused = await probeWith(erin, 'localhost', 'p6');
    expect(refused).toHaveLength(1);
    const err = refused[0]!;
    expect(err.attrs).toMatchObject({ type: 'error', id: 'p6', from: 'localhost' });
    expect(err.getChild('error')?.attrs.type).toBe('wait');
    expect(err.getChild('error')?.getChild('policy-violation', STANZAS)).toBeDefined();
    // Another session of the same account has its own budget.
    const other = await login('erin', 'other');
    expect((await probeWith(other, 'localhost')).map((a) => a.attrs.type)).toEqual([undefined]);
  });
});
