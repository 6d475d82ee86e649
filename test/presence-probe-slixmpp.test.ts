/**
 * @strand/presence-probe interop with slixmpp (Debian python3-slixmpp, XEP-0203/XEP-0082 parsing by
 * slixmpp itself) over STARTTLS + SCRAM: an offline contact's last unavailable presence, an online
 * contact's two resources, the server's uptime, and the uniform unauthorised answer.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';
import { slixmppProbe } from './helpers/slixmpp.js';
import { barrier, rosterItem, rosterSnapshot, startProbeServer, startedAt, subscribe, until } from './helpers/presence-probe.js';

describe('presence-probe with slixmpp', () => {
  let srv: RunningServer;
  const clients: TestXmpp[] = [];

  beforeAll(async () => {
    srv = await startProbeServer({ rateLimit: { probes: 5, window: 60 } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await srv.stop();
  });

  async function login(username: string, resource: string): Promise<TestXmpp> {
    const c = await startClient({ port: srv.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  it('probes an offline contact, an online contact with two resources and the server', async () => {
    // alice is subscribed to bob and carol (set up with @xmpp/client); slixmpp logs in as alice.
    const aliceSetup = await login('alice', 'setup');
    const bob = await login('bob', 'balcony');
    const carolPhone = await login('carol', 'phone');
    const carolLaptop = await login('carol', 'laptop');
    await subscribe(srv, aliceSetup, bob);
    await subscribe(srv, aliceSetup, carolPhone);

    await bob.xmpp.send(xml('presence'));
    await barrier(bob);
    const bobLeftAt = Date.now();
    await bob.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'Going offline. Out of battery.')));
    await bob.stop();

    const phoneAt = Date.now();
    await carolPhone.xmpp.send(xml('presence', {}, xml('show', {}, 'xa'), xml('status', {}, 'phone status')));
    await barrier(carolPhone);
    await new Promise((r) => setTimeout(r, 1100));
    const laptopAt = Date.now();
    await carolLaptop.xmpp.send(xml('presence', {}, xml('status', {}, 'laptop status')));
    await barrier(carolLaptop);

    const out = await slixmppProbe(srv.ports.c2s, 'alice@localhost/slix', ['bob@localhost', 'carol@localhost', 'localhost']);
    expect(out.jid).toBe('alice@localhost/slix');
    const [offline, online, server] = out.results;

    expect(offline!.presences).toHaveLength(1);
    const b = offline!.presences[0]!;
    expect(b).toMatchObject({ from: 'bob@localhost', to: 'alice@localhost/slix', type: 'unavailable', status: 'Going offline. Out of battery.' });
    expect(b.delay_from).toBe('bob@localhost/balcony');
    expect(b.delay_stamp).toMatch(/\+00:00$/); // slixmpp read it as UTC
    expect(Math.abs(b.delay_epoch_ms! - bobLeftAt)).toBeLessThanOrEqual(1000);

    expect(online!.presences.map((p) => p.from).sort()).toEqual(['carol@localhost/laptop', 'carol@localhost/phone']);
    for (const p of online!.presences) {
      expect(p.type).toBeNull();
      expect(p.delay_from).toBe(p.from);
      const setAt = p.from.endsWith('/phone') ? phoneAt : laptopAt;
      expect(Math.abs(p.delay_epoch_ms! - setAt)).toBeLessThanOrEqual(1000);
    }
    expect(online!.presences.find((p) => p.from.endsWith('/phone'))).toMatchObject({ show: 'xa', status: 'phone status' });

    expect(server!.presences).toHaveLength(1);
    expect(server!.presences[0]).toMatchObject({ from: 'localhost', type: null, delay_from: 'localhost' });
    expect(server!.presences[0]!.delay_epoch_ms).toBe(startedAt(srv));
  });

  it('gets the same bare unavailable as an unsubscribed user, with a pending request, and for a nonexistent account; no roster change', async () => {
    // dave asks carol for a subscription that carol never answers (dave: None + Pending Out).
    const daveSetup = await login('dave', 'setup');
    await daveSetup.xmpp.send(xml('presence', { to: 'carol@localhost', type: 'subscribe' }));
    await until(async () => (await rosterItem(srv, 'carol@localhost', 'dave@localhost'))?.pendingIn === true, 'carol has a pending request');
    const owners = ['dave@localhost', 'erin@localhost', 'carol@localhost', 'nobody@localhost'];
    const before = await rosterSnapshot(srv, owners);

    const asDave = await slixmppProbe(srv.ports.c2s, 'dave@localhost/slix', ['carol@localhost', 'nobody@localhost']);
    const asErin = await slixmppProbe(srv.ports.c2s, 'erin@localhost/slix', ['carol@localhost']);
    const [pending, nonexistent] = asDave.results.map((r) => r.presences);
    const [unsubscribed] = asErin.results.map((r) => r.presences);
    for (const answers of [pending, nonexistent, unsubscribed]) expect(answers).toHaveLength(1);
    const norm = (p: { xml: string }, prober: string, contact: string) => p.xml.split(prober).join('PROBER').split(contact).join('CONTACT');
    const reference = norm(unsubscribed![0]!, 'erin@localhost/slix', 'carol@localhost');
    expect(norm(pending![0]!, 'dave@localhost/slix', 'carol@localhost')).toBe(reference);
    expect(norm(nonexistent![0]!, 'dave@localhost/slix', 'nobody@localhost')).toBe(reference);
    expect(unsubscribed![0]).toMatchObject({ type: 'unavailable', status: null, delay_stamp: null });
    expect(await rosterSnapshot(srv, owners)).toEqual(before);
    expect(await rosterItem(srv, 'dave@localhost', 'carol@localhost')).toMatchObject({ subscription: 'none', ask: true });
  });

  it('rate-limits: the N+1st probe in the window gets policy-violation', async () => {
    const out = await slixmppProbe(srv.ports.c2s, 'erin@localhost/slix', Array(6).fill('localhost'));
    const answers = out.results.map((r) => r.presences);
    expect(answers.slice(0, 5).map((p) => p.map((x) => x.type))).toEqual(Array(5).fill([null]));
    expect(answers[5]).toHaveLength(1);
    expect(answers[5]![0]).toMatchObject({ type: 'error', from: 'localhost', error: { type: 'wait', condition: 'policy-violation' } });
    expect(answers[5]![0]!.xml).not.toContain('urn:xmpp:delay');
  });
});
