/**
 * What an authorised prober gets (XEP-0318 §3.1, XEP-0203, XEP-0082), and the server's uptime
 * (§3.2). Fake time, memory stores.
 */
import { describe, expect, it } from '@jest/globals';
import { parseXml } from '@strand/testing';
import { bare, delayOf, DELAY, makeHost, probe, setItem, stamp } from './helpers.js';

const XEP82_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

describe('probe of an offline contact', () => {
  it("returns the last unavailable presence from the bare JID with the resource's delay, exactly as XEP-0318's example", async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const bob = await host.connect({ user: 'bob', resource: 'balcony', available: true });
    await host.time.advance(90_000);
    const leftAt = host.time.now();
    await bob.receive(`<presence type='unavailable'><status>Going offline. Out of battery.</status></presence>`);
    await bob.closeFromPeer();
    await host.time.advance(3_600_000);

    const alice = await host.connect({ user: 'alice', resource: 'balcony' });
    const answers = await probe(alice, 'bob@localhost');
    expect(answers).toHaveLength(1);
    const expected = parseXml(
      `<presence from='bob@localhost' to='alice@localhost/balcony' type='unavailable'>` +
        `<status>Going offline. Out of battery.</status>` +
        `<delay xmlns='urn:xmpp:delay' from='bob@localhost/balcony' stamp='${stamp(leftAt)}'/>` +
        `</presence>`,
    );
    delete (expected.attrs as Record<string, string>).xmlns;
    expect(answers[0]!.toString()).toBe(expected.toString());
    expect(delayOf(answers[0]!)!.attrs.stamp).toMatch(XEP82_UTC);
    expect(Date.parse(delayOf(answers[0]!)!.attrs.stamp)).toBe(leftAt);
  });

  it('keeps xml:lang, id and extension children of the stored presence and replaces a client-supplied delay', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'both');
    const bob = await host.connect({ user: 'bob', resource: 'phone', available: true });
    await host.time.advance(5000);
    await bob.receive(
      `<presence type='unavailable' id='u1' xml:lang='de'><status>Akku leer</status>` +
        `<x xmlns='urn:example:ext' a='1'><y>z</y></x>` +
        `<delay xmlns='urn:xmpp:delay' from='localhost' stamp='1999-01-01T00:00:00Z'/></presence>`,
    );
    const leftAt = host.time.now();
    const alice = await host.connect({ user: 'alice' });
    const [answer, ...rest] = await probe(alice, 'bob@localhost');
    expect(rest).toHaveLength(0);
    expect(answer!.attrs).toMatchObject({ from: 'bob@localhost', to: 'alice@localhost/r1', type: 'unavailable', id: 'u1', 'xml:lang': 'de' });
    expect(answer!.getChildText('status')).toBe('Akku leer');
    expect(answer!.getChild('x', 'urn:example:ext')?.toString()).toBe(`<x xmlns="urn:example:ext" a="1"><y>z</y></x>`);
    expect(answer!.getChildren('delay', DELAY)).toHaveLength(1);
    expect(delayOf(answer!)!.attrs).toEqual({ xmlns: DELAY, from: 'bob@localhost/phone', stamp: stamp(leftAt) });
  });

  it('picks the resource that went unavailable last', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const phone = await host.connect({ user: 'bob', resource: 'phone', available: true });
    const laptop = await host.connect({ user: 'bob', resource: 'laptop', available: true });
    await host.time.advance(1000);
    await laptop.receive(`<presence type='unavailable'><status>laptop off</status></presence>`);
    await host.time.advance(1000);
    const lastAt = host.time.now();
    await phone.receive(`<presence type='unavailable'><status>phone off</status></presence>`);
    await host.time.advance(1000);
    // The laptop comes back and leaves again without a status, later than the phone.
    await laptop.receive(`<presence/>`);
    await host.time.advance(1000);
    const laptopAgainAt = host.time.now();
    await laptop.dropTransport();

    const alice = await host.connect({ user: 'alice' });
    const [answer] = await probe(alice, 'bob@localhost');
    expect(answer!.getChildText('status')).toBeNull();
    expect(delayOf(answer!)!.attrs).toMatchObject({ from: 'bob@localhost/laptop', stamp: stamp(laptopAgainAt) });
    expect(lastAt).toBeLessThan(laptopAgainAt);
  });

  it('still answers from storage after the host marked every session unavailable (restart)', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    await host.connect({ user: 'bob', resource: 'phone', available: true });
    await host.time.advance(10_000);
    const restartAt = host.time.now();
    await host.presence.markAllUnavailable(restartAt); // what the server does at start
    const alice = await host.connect({ user: 'alice' });
    const [answer] = await probe(alice, 'bob@localhost');
    expect(answer!.toString()).toBe(
      `<presence from="bob@localhost" to="alice@localhost/r1" type="unavailable">` +
        `<delay xmlns="urn:xmpp:delay" from="bob@localhost/phone" stamp="${stamp(restartAt)}"/></presence>`,
    );
  });
});

describe('probe of an online contact', () => {
  it('returns the current presence of every available resource, each from its full JID and stamped when it was set', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const phone = await host.connect({ user: 'bob', resource: 'phone' });
    const laptop = await host.connect({ user: 'bob', resource: 'laptop' });
    const gone = await host.connect({ user: 'bob', resource: 'old', available: true });
    await gone.receive(`<presence type='unavailable'><status>bye</status></presence>`);
    await host.time.advance(1000);
    const phoneAt = host.time.now();
    await phone.receive(`<presence xml:lang='fr'><show>away</show><status>en réunion</status><priority>5</priority></presence>`);
    await host.time.advance(2500);
    const laptopAt = host.time.now();
    await laptop.receive(`<presence><show>dnd</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`);
    await host.time.advance(60_000);

    const alice = await host.connect({ user: 'alice', resource: 'desk' });
    const answers = await probe(alice, 'bob@localhost');
    expect(answers).toHaveLength(2);
    const byFrom = Object.fromEntries(answers.map((a) => [a.attrs.from, a]));
    const p = byFrom['bob@localhost/phone']!;
    const l = byFrom['bob@localhost/laptop']!;
    expect(p.attrs).toEqual({ from: 'bob@localhost/phone', to: 'alice@localhost/desk', 'xml:lang': 'fr' });
    expect(p.getChildText('show')).toBe('away');
    expect(p.getChildText('status')).toBe('en réunion');
    expect(p.getChildText('priority')).toBe('5');
    expect(delayOf(p)!.attrs).toEqual({ xmlns: DELAY, from: 'bob@localhost/phone', stamp: stamp(phoneAt) });
    expect(l.attrs.type).toBeUndefined();
    expect(l.getChild('c', 'http://jabber.org/protocol/caps')?.attrs.ver).toBe('v');
    expect(delayOf(l)!.attrs).toEqual({ xmlns: DELAY, from: 'bob@localhost/laptop', stamp: stamp(laptopAt) });
  });

  it('answers a probe of a full JID with that resource only', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const phone = await host.connect({ user: 'bob', resource: 'phone', available: true });
    const phoneAt = host.time.now();
    const laptop = await host.connect({ user: 'bob', resource: 'laptop', available: true });
    await host.time.advance(1000);
    const laptopLeftAt = host.time.now();
    await laptop.receive(`<presence type='unavailable'><status>later</status></presence>`);
    const alice = await host.connect({ user: 'alice' });

    const one = await probe(alice, 'bob@localhost/phone');
    expect(one).toHaveLength(1);
    expect(one[0]!.attrs.from).toBe('bob@localhost/phone');
    expect(delayOf(one[0]!)!.attrs).toMatchObject({ from: 'bob@localhost/phone', stamp: stamp(phoneAt) });

    const off = await probe(alice, 'bob@localhost/laptop');
    expect(off.map((e) => e.toString())).toEqual([
      `<presence from="bob@localhost/laptop" to="alice@localhost/r1" type="unavailable"><status>later</status>` +
        `<delay xmlns="urn:xmpp:delay" from="bob@localhost/laptop" stamp="${stamp(laptopLeftAt)}"/></presence>`,
    ]);

    const unknown = await probe(alice, 'bob@localhost/nowhere');
    expect(unknown.map((e) => e.toString())).toEqual([
      `<presence from="bob@localhost/nowhere" to="alice@localhost/r1" type="unavailable"/>`,
    ]);
    expect(phone.session?.available).toBe(true);
  });

  it('lets an account probe itself (no roster item needed), also with a probe without to', async () => {
    const host = await makeHost();
    const phone = await host.connect({ user: 'alice', resource: 'phone', available: true });
    const phoneAt = host.time.now();
    await host.time.advance(1000);
    const laptop = await host.connect({ user: 'alice', resource: 'laptop' });
    const viaBare = await probe(laptop, 'alice@localhost');
    expect(viaBare.map((e) => e.attrs.from)).toEqual(['alice@localhost/phone']);
    expect(delayOf(viaBare[0]!)!.attrs.stamp).toBe(stamp(phoneAt));
    const noTo = await probe(laptop);
    expect(noTo.map((e) => e.toString())).toEqual(viaBare.map((e) => e.toString()));
    expect(phone.sentStanzas().filter((e) => e.attrs.type === 'probe')).toEqual([]);
  });
});

describe('probe of an account that never had a session', () => {
  it('answers an authorised prober with a bare unavailable from the bare JID', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'both');
    const alice = await host.connect({ user: 'alice' });
    const answers = await probe(alice, 'bob@localhost');
    expect(answers.map((e) => e.toString())).toEqual([`<presence from="bob@localhost" to="alice@localhost/r1" type="unavailable"/>`]);
  });
});

describe('probe of the server', () => {
  it("answers with available presence from the domain stamped with the server's start time", async () => {
    const host = await makeHost();
    const startedAt = host.serverInfo.startedAt;
    await host.time.advance(7 * 86_400_000);
    const alice = await host.connect({ user: 'alice' });
    const answers = await probe(alice, 'localhost');
    expect(answers.map((e) => e.toString())).toEqual([
      `<presence from="localhost" to="alice@localhost/r1"><delay xmlns="urn:xmpp:delay" from="localhost" stamp="${stamp(startedAt)}"/></presence>`,
    ]);
    expect(stamp(startedAt)).toBe('2024-01-01T00:00:00.000Z');
  });

  it('leaves probes of other addresses to the host (a full JID of the domain, remote domains)', async () => {
    const host = await makeHost();
    const alice = await host.connect({ user: 'alice' });
    expect(await probe(alice, 'localhost/admin')).toEqual([]);
    expect(await probe(alice, 'romeo@montague.example')).toEqual([]);
    expect(host.routed.map((r) => r.stanza.attrs.to)).toEqual(['localhost/admin', 'romeo@montague.example']);
  });

  it('leaves probes from component streams to the host', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'svc.localhost', 'from');
    await host.connect({ user: 'bob', available: true });
    const svc = await host.connectComponent({ domain: 'svc.localhost' });
    await svc.receive(`<presence type='probe' from='svc.localhost' to='bob@localhost'/>`);
    expect(svc.sentStanzas()).toEqual([]);
    expect(host.routed.map((r) => r.stanza.attrs.type)).toEqual(['probe']);
  });
});

describe('presence records of users', () => {
  it('uses bare JIDs case-insensitively', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const bob = await host.connect({ user: 'bob', resource: 'Phone', available: true });
    expect(bob.session?.jid.toString()).toBe('bob@localhost/Phone');
    const alice = await host.connect({ user: 'alice' });
    const answers = await probe(alice, 'BOB@LocalHost');
    expect(answers.map((a) => a.attrs.from)).toEqual([`${bare('bob')}/Phone`]);
  });
});
