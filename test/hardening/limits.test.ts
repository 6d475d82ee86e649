/**
 * Hardening: every configurable limit over real sockets — its precise error, and that nothing is
 * lost silently when it is hit (see SECURITY.md). Per-address limits are tested with
 * `exemptAddresses: []` (the test config exempts loopback, as the default does), and once with the
 * exemption to show it lifts them.
 */
import { describe, expect, it } from '@jest/globals';
import { OfflineStore, type OfflineStore as OfflineStoreT } from '@strand/core';
import presenceProbe from '@strand/presence-probe';
import sm, { SmIdRegistryImpl, StreamManagerImpl } from '@strand/stream-management';
import { testConfig } from '../helpers/server.js';
import { streamErrorAtEnd } from '../helpers/wire-client.js';
import {
  after,
  authenticate,
  bind,
  delay,
  enableSm,
  header,
  metrics,
  plain,
  Resources,
  routeMessage,
  SM3,
  until,
  type WireClient,
} from './helpers.js';

const res = new Resources();
const limits = (over: Partial<ReturnType<typeof testConfig>['limits']>) => ({ ...testConfig().limits, ...over });
const smPlugin = { plugins: { '@strand/stream-management': sm } };

async function login(port: number, user: string, resource: string): Promise<WireClient> {
  const c = await res.connect(port);
  await c.login(user, 'secret', resource);
  return c;
}

describe('parser limits, configured on the host', () => {
  it('limits.maxStanzaBytes: a stanza one byte too big → policy-violation naming the limit; one of exactly the limit passes', async () => {
    const srv = await res.server({ limits: limits({ maxStanzaBytes: 10000 }) });
    const bob = await login(srv.ports.c2s, 'bob', 'b');
    const alice = await login(srv.ports.c2s, 'alice', 'a');
    const frame = (n: number) => {
      const head = `<message to='bob@localhost/b' type='chat' id='big'><body>`;
      const tail = `</body></message>`;
      return head + 'x'.repeat(n - head.length - tail.length) + tail;
    };
    await alice.send(frame(10000));
    await bob.waitFor(/id="big"/);
    await alice.send(frame(10001));
    await alice.waitFor(streamErrorAtEnd('policy-violation'));
    expect(alice.text).toContain('stanza exceeds maxStanzaBytes (10000 bytes)');
    await alice.waitClosed();
  });

  it('limits.maxDepth and limits.maxAttributes → policy-violation', async () => {
    const srv = await res.server({ limits: limits({ maxDepth: 4, maxAttributes: 8 }) });
    const ok = await login(srv.ports.c2s, 'alice', 'ok');
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='${i}'`).join('');
    await ok.send(`<message to='bob@localhost'${attrs(7)}><x xmlns='urn:x'><y><z/></y></x></message><iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await ok.waitFor(/id="p"/);
    const deep = await login(srv.ports.c2s, 'alice', 'deep');
    await deep.send(`<message><a><b><c><d/></c></b></a></message>`);
    await deep.waitFor(streamErrorAtEnd('policy-violation'));
    expect(deep.text).toContain('maxDepth (4)');
    const wide = await login(srv.ports.c2s, 'alice', 'wide');
    await wide.send(`<message${attrs(9)}/>`);
    await wide.waitFor(streamErrorAtEnd('policy-violation'));
    expect(wide.text).toContain('maxAttributes (8)');
  });

  it('limits.maxHeaderBytes before authentication: a long header and one that never ends → policy-violation', async () => {
    const srv = await res.server({ limits: limits({ maxHeaderBytes: 512 }) });
    const long = await res.connect(srv.ports.c2s);
    await long.send(header().replace("to='localhost'", `to='localhost' x='${'y'.repeat(600)}'`));
    await long.waitFor(streamErrorAtEnd('policy-violation'));
    expect(long.text).toContain('stream header exceeds maxHeaderBytes (512 bytes)');
    const endless = await res.connect(srv.ports.c2s);
    await endless.send(header().slice(0, -1));
    for (let i = 0; i < 6; i++) await endless.send(' '.repeat(100));
    await endless.waitFor(streamErrorAtEnd('policy-violation'));
    await endless.waitClosed();
  });
});

describe('account limits', () => {
  it('limits.maxResourcesPerAccount → resource-constraint on bind; the stream stays usable', async () => {
    const srv = await res.server({ limits: limits({ maxResourcesPerAccount: 2 }) });
    await login(srv.ports.c2s, 'alice', 'one');
    await login(srv.ports.c2s, 'alice', 'two');
    const third = await res.connect(srv.ports.c2s);
    await authenticate(third, 'alice');
    const mark = third.text.length;
    await third.send(`<iq type='set' id='b3'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>three</resource></bind></iq>`);
    const reply = await after(third, mark, /<\/iq>/);
    expect(reply).toBe(
      `<iq type="error" id="b3"><error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas" xml:lang="en">too many resources</text></error></iq>`,
    );
    expect(third.closedAt).toBeUndefined();
  });

  it('limits.offlinePerUser: past the quota the sender gets service-unavailable — never a silent drop', async () => {
    const srv = await res.server({ limits: limits({ offlinePerUser: 2 }) });
    const alice = await login(srv.ports.c2s, 'alice', 'a');
    for (const id of ['o1', 'o2', 'o3']) await alice.send(`<message to='bob@localhost' type='chat' id='${id}'><body>${id}</body></message>`);
    const text = await alice.waitFor(/id="o3"[\s\S]*<\/message>/);
    expect(text).toMatch(/<message type="error" id="o3" to="alice@localhost\/a" from="bob@localhost">.*<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><text[^>]*>Offline storage is full<\/text><\/error><\/message>/);
    expect(text).not.toMatch(/id="o[12]"/);
    expect(await srv.server.container.get<OfflineStoreT>(OfflineStore).count('bob@localhost')).toBe(2);
  });
});

describe('SASL limits', () => {
  it('limits.maxSaslFailures: the last failure is followed by a policy-violation stream error', async () => {
    const srv = await res.server({ limits: limits({ maxSaslFailures: 2 }) });
    const c = await res.connect(srv.ports.c2s);
    await c.send(header());
    await c.waitFor(/<\/stream:features>/);
    await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain('alice', 'wrong')}</auth>`);
    await c.waitFor(/<not-authorized\/><\/failure>/);
    expect(c.closedAt).toBeUndefined();
    await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain('alice', 'wrong')}</auth>`);
    await c.waitFor(streamErrorAtEnd('policy-violation'));
    expect(c.text).toMatch(/<not-authorized\/><\/failure><stream:error><policy-violation[^>]*\/><text[^>]*>too many authentication failures<\/text><\/stream:error><\/stream:stream>$/);
    await c.waitClosed();
  });

  async function failOnce(port: number): Promise<WireClient> {
    const c = await res.connect(port);
    await c.send(header());
    await c.waitFor(/<\/stream:features>/);
    await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain('alice', 'wrong')}</auth>`);
    await c.waitFor(/<\/failure>/);
    return c;
  }

  it('limits.saslFailuresPerMinute: after N failures from one address even the right password gets temporary-auth-failure', async () => {
    const srv = await res.server({ limits: limits({ exemptAddresses: [], saslFailuresPerMinute: 3 }) });
    for (let i = 0; i < 3; i++) expect((await failOnce(srv.ports.c2s)).text).toContain('<not-authorized/>');
    const c = await res.connect(srv.ports.c2s);
    await c.send(header());
    await c.waitFor(/<\/stream:features>/);
    await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${plain('alice')}</auth>`);
    await c.waitFor(/<\/failure>/);
    expect(c.text).toMatch(
      /<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><temporary-auth-failure\/><text xml:lang="en">too many failed authentications from your address; try again later<\/text><\/failure>$/,
    );
    expect(c.text).not.toContain('<success');
  });

  it('exempt addresses (loopback by default) are never locked out', async () => {
    const srv = await res.server({ limits: limits({ saslFailuresPerMinute: 2 }) });
    for (let i = 0; i < 4; i++) await failOnce(srv.ports.c2s);
    await login(srv.ports.c2s, 'alice', 'fine');
  });
});

describe('limits.connectionsPerSecond', () => {
  it('past N new connections in a second from one address: our header, policy-violation, close tag, FIN — nothing read', async () => {
    const srv = await res.server({ limits: limits({ exemptAddresses: [], connectionsPerSecond: 3 }) });
    const clients = await Promise.all(Array.from({ length: 6 }, () => res.connect(srv.ports.c2s)));
    await delay(300);
    const refused = clients.filter((c) => c.text.includes('<stream:error>'));
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const c of refused) {
      await c.waitClosed();
      expect(c.finAt).toBeDefined();
      expect(c.text).toMatch(
        /^<\?xml version='1\.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx\.jabber\.org\/streams' id='[\w-]+' from='localhost' version='1\.0' xml:lang='en'><stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">too many new connections from your address; try again later<\/text><\/stream:error><\/stream:stream>$/,
      );
    }
    const admitted = clients.filter((c) => !refused.includes(c));
    expect(admitted.length).toBe(3); // all six connected within one second
    await admitted[0]!.login('alice', 'secret', 'admitted');
  });

  it('applies to WebSocket upgrades too: 429 before the upgrade', async () => {
    const srv = await res.server({ limits: limits({ exemptAddresses: [], connectionsPerSecond: 2 }) });
    const upgrade = async (): Promise<string> => {
      const c = await res.connect(srv.ports.http);
      await c.send(
        `GET /xmpp-websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n`,
      );
      await c.waitFor(/\r\n\r\n/);
      return c.text.split('\r\n')[0]!;
    };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await upgrade());
    expect(statuses).toEqual([
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 101 Switching Protocols',
      'HTTP/1.1 429 Too Many Requests',
      'HTTP/1.1 429 Too Many Requests',
    ]);
  });

  it('exempt addresses open as many connections as they like', async () => {
    const srv = await res.server({ limits: limits({ connectionsPerSecond: 2 }) });
    const clients = await Promise.all(Array.from({ length: 20 }, () => res.connect(srv.ports.c2s)));
    await Promise.all(clients.slice(0, 5).map((c, i) => c.login('bob', 'secret', `c${i}`)));
    expect(clients.every((c) => !c.text.includes('<stream:error>'))).toBe(true);
  });
});

describe('stream management limits', () => {
  it('hardQueueLimit: unacked stanzas past it end the session with resource-constraint; every message is spilled, none lost', async () => {
    const srv = await res.server(
      { plugins: { '@strand/stream-management': { maxQueue: 10, hardQueueLimit: 10, ackRequestEvery: 100, ackRequestQuietMs: 60_000 } } },
      smPlugin,
    );
    const alice = await login(srv.ports.c2s, 'alice', 'sm');
    await enableSm(alice);
    for (let i = 1; i <= 12; i++) await routeMessage(srv, 'bob@localhost/x', 'alice@localhost/sm', `q${i}`);
    await alice.waitFor(streamErrorAtEnd('resource-constraint'));
    expect(alice.text).toContain('Too many unacknowledged stanzas');
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    await until(async () => (await offline.count('alice@localhost')) === 12, 5000, 'the spill');
    const bodies = (await offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'));
    expect(bodies).toEqual(Array.from({ length: 12 }, (_, i) => `q${i + 1}`));
  });

  it('maxHibernatingPerUser: the oldest hibernating session of the account ends like an expiry (spilled); the newest resumes', async () => {
    const srv = await res.server({ plugins: { '@strand/stream-management': { maxHibernatingPerUser: 1, ackRequestQuietMs: 60_000 } } }, smPlugin);
    const first = await login(srv.ports.c2s, 'alice', 'first');
    const a = await enableSm(first);
    first.destroy();
    const manager = srv.server.container.get(StreamManagerImpl);
    await until(() => manager.hibernatingCount === 1, 5000, 'hibernation');
    await routeMessage(srv, 'bob@localhost/x', 'alice@localhost/first', 'held-for-first');
    const second = await login(srv.ports.c2s, 'alice', 'second');
    const b = await enableSm(second);
    second.destroy();
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    await until(async () => (await offline.count('alice@localhost')) === 1, 5000, 'the spill of the evicted session');
    expect(manager.hibernatingCount).toBe(1);
    expect(await metrics(srv)).toContain('strand_sm_hibernation_evicted_total{scope="user"} 1');

    const r1 = await res.connect(srv.ports.c2s);
    await authenticate(r1, 'alice');
    let mark = r1.text.length;
    await r1.send(`<resume xmlns='${SM3}' previd='${a.id}' h='0'/>`);
    expect(await after(r1, mark, /<\/failed>/)).toBe(`<failed xmlns="${SM3}" h="0"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    const r2 = await res.connect(srv.ports.c2s);
    await authenticate(r2, 'alice');
    mark = r2.text.length;
    await r2.send(`<resume xmlns='${SM3}' previd='${b.id}' h='0'/>`);
    expect(await after(r2, mark, /<resumed [^>]*\/>/)).toContain(`previd="${b.id}"`);
  });

  it('maxHibernatingTotal: the oldest hibernating session on the node ends like an expiry', async () => {
    const srv = await res.server({ plugins: { '@strand/stream-management': { maxHibernatingTotal: 2, ackRequestQuietMs: 60_000 } } }, smPlugin);
    const ids: Record<string, string> = {};
    const manager = srv.server.container.get(StreamManagerImpl);
    for (const user of ['alice', 'bob', 'carol']) {
      const c = await login(srv.ports.c2s, user, 'h');
      ids[user] = (await enableSm(c)).id;
      c.destroy();
      await until(() => manager.hibernatingCount === Math.min(2, Object.keys(ids).length), 5000, 'hibernation');
    }
    await until(() => srv.server.container.get(SmIdRegistryImpl).size.live === 2, 5000, 'the eviction');
    expect(await metrics(srv)).toContain('strand_sm_hibernation_evicted_total{scope="total"} 1');
    for (const [user, expected] of [['alice', /<failed /], ['bob', /<resumed /], ['carol', /<resumed /]] as const) {
      const c = await res.connect(srv.ports.c2s);
      await authenticate(c, user);
      const mark = c.text.length;
      await c.send(`<resume xmlns='${SM3}' previd='${ids[user]}' h='0'/>`);
      expect(await after(c, mark, /<\/failed>|<resumed [^>]*\/>/)).toMatch(expected);
    }
  });

  it('resumeFailuresPerMinute: past N failed resumes from one address every <resume/> gets <failed><policy-violation/>, looked up or not', async () => {
    const srv = await res.server(
      { limits: limits({ exemptAddresses: [] }), plugins: { '@strand/stream-management': { resumeFailuresPerMinute: 3, ackRequestQuietMs: 60_000 } } },
      smPlugin,
    );
    const alice = await login(srv.ports.c2s, 'alice', 'victim');
    const { id } = await enableSm(alice);
    alice.destroy();
    const bob = await res.connect(srv.ports.c2s);
    await authenticate(bob, 'bob');
    const notFound = `<failed xmlns="${SM3}"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
    const limited = `<failed xmlns="${SM3}"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
    for (const guess of ['AAAAAAAAAAAAAAAAAAAAAAAA', id, id.slice(0, 10)]) {
      const mark = bob.text.length;
      await bob.send(`<resume xmlns='${SM3}' previd='${guess}' h='0'/>`);
      expect(await after(bob, mark, /<\/failed>/)).toBe(notFound);
    }
    let mark = bob.text.length;
    await bob.send(`<resume xmlns='${SM3}' previd='BBBBBBBBBBBBBBBBBBBBBBBB' h='0'/>`);
    expect(await after(bob, mark, /<\/failed>/)).toBe(limited);
    // The owner, from the same address, is limited too: the limit is per address and applies
    // before any lookup (so it answers the same for every ID).
    const owner = await res.connect(srv.ports.c2s);
    await authenticate(owner, 'alice');
    mark = owner.text.length;
    await owner.send(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(await after(owner, mark, /<\/failed>/)).toBe(limited);
    expect(await metrics(srv)).toContain('strand_sm_resume_failed_total{reason="rate-limited"} 2');
    // Nothing was lost: the session still hibernates and can bind-and-wait; its stream is gone.
    expect(srv.server.container.get(StreamManagerImpl).hibernatingCount).toBe(1);
  });

  it('exempt addresses (loopback by default) are not limited in resume failures', async () => {
    const srv = await res.server({ plugins: { '@strand/stream-management': { resumeFailuresPerMinute: 2, ackRequestQuietMs: 60_000 } } }, smPlugin);
    const alice = await login(srv.ports.c2s, 'alice', 'victim');
    const { id } = await enableSm(alice);
    alice.destroy();
    const c = await res.connect(srv.ports.c2s);
    await authenticate(c, 'alice');
    for (let i = 0; i < 5; i++) {
      const mark = c.text.length;
      await c.send(`<resume xmlns='${SM3}' previd='guess${i}' h='0'/>`);
      expect(await after(c, mark, /<\/failed>/)).toContain('<item-not-found');
    }
    const mark = c.text.length;
    await c.send(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(await after(c, mark, /<resumed [^>]*\/>/)).toContain('<resumed ');
  });
});

describe('presence probes (XEP-0318 rate limit)', () => {
  it('rateLimit.probes per window: the next probe gets a policy-violation presence error', async () => {
    const srv = await res.server(
      { plugins: { '@strand/presence-probe': { rateLimit: { probes: 2, window: 60 } } } },
      { plugins: { '@strand/presence-probe': presenceProbe } },
    );
    const alice = await login(srv.ports.c2s, 'alice', 'p');
    for (let i = 0; i < 3; i++) await alice.send(`<presence type='probe' to='bob@localhost' id='probe${i}'/>`);
    const text = await alice.waitFor(/<presence [^>]*type="error"[\s\S]*<\/presence>/);
    expect(text).toMatch(/<error type="wait"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/><text[^>]*>Too many presence probes: at most 2 per 60 s \(XEP-0318 §2\)<\/text><\/error>/);
    expect((text.match(/type="error"/g) ?? []).length).toBe(1);
  });
});
