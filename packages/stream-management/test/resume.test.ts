import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { defineSessionKey, jsonCodec, SessionListener, xml, type Session } from '@strand/core';
import { isCloseTag, stanzaErrorCondition } from '@strand/testing';
import { SmIdRegistryImpl, SmEvents, SmSessionKey, type SmHibernatedEvent, type SmResumedEvent } from '../src/index.js';
import { bodies, deliver, enabledClient, next, nothingMore, reconnect, smHost, smState, str } from './helpers.js';

const quiet = { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 };
const OtherPluginSlot = defineSessionKey<{ n: number }>('test/other-plugin', jsonCodec());

describe('hibernation (XEP-0198 §6: unfinished stream)', () => {
  it('claims the session on transport loss: it stays registered and available and holds stanzas', async () => {
    const hibernated: SmHibernatedEvent[] = [];
    @injectable()
    class L implements SmEvents {
      onHibernated(_s: Session, e: SmHibernatedEvent) {
        hibernated.push(e);
      }
    }
    const host = await smHost(quiet, {
      extra: [new ContainerModule(({ bind }) => { bind(L).toSelf().inSingletonScope(); bind(SmEvents).toService(L); })],
    });
    const { client, id } = await enabledClient(host, { max: 120 });
    await deliver(host, 'alice@localhost/r1', 'one');
    const session = client.session!;
    await client.dropTransport();
    expect(session.state).toBe('detached');
    expect(host.sessions.getSync('alice@localhost/r1')).toBe(session);
    expect(session.available).toBe(true);
    expect(host.sessions.endedSessions).toEqual([]);
    expect(hibernated).toEqual([{ smId: id, timeoutSec: 120, unacked: 1 }]);
    await deliver(host, 'alice@localhost/r1', 'two');
    expect(host.routed.at(-1)!.deliveries).toEqual([{ to: 'alice@localhost/r1', result: 'held' }]);
    expect(smState(client).queue.length).toBe(2);
    expect(await host.metrics.expose()).toMatch(/strand_sm_hibernating_sessions 1/);
    expect((await host.presence.get('alice@localhost'))[0]!.current).toBeDefined(); // no unavailable
  });

  it('without resumption the session ends on transport loss and its unacked stanzas are spilled', async () => {
    const host = await smHost(quiet);
    const { client } = await enabledClient(host, { resume: false });
    await deliver(host, 'alice@localhost/r1', 'one');
    await client.dropTransport();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['transport-lost']);
    expect((await host.offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'))).toEqual(['one']);
  });
});

describe('resumption (XEP-0198 §4 "Resumption")', () => {
  it('<resumed previd h/>, then the unacked stanzas in order (not counted twice), then <r/>; state and slots survive', async () => {
    const resumedEvents: SmResumedEvent[] = [];
    @injectable()
    class L implements SmEvents {
      onResumed(_s: Session, e: SmResumedEvent) {
        resumedEvents.push(e);
      }
    }
    const host = await smHost(quiet, {
      extra: [new ContainerModule(({ bind }) => { bind(L).toSelf().inSingletonScope(); bind(SmEvents).toService(L); })],
    });
    const { client, id } = await enabledClient(host);
    const session = client.session!;
    session.slots.set(OtherPluginSlot, { n: 42 });
    await client.receive(`<message to='bob@localhost' type='chat'><body>hi</body></message>`);
    await client.receive(`<presence/>`);
    for (const b of ['1', '2', '3', '4']) await deliver(host, 'alice@localhost/r1', b);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`);
    await client.dropTransport();
    await host.time.advance(10_000);
    await deliver(host, 'alice@localhost/r1', '5');

    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='2'/>`);
    const out = c2.sent().map(str);
    expect(out[0]).toBe(`<resumed xmlns="urn:xmpp:sm:3" h="2" previd="${id}"/>`);
    expect(bodies(c2.sent().slice(1, 4))).toEqual(['3', '4', '5']);
    expect(out[4]).toBe(`<r xmlns="urn:xmpp:sm:3"/>`);
    expect(out).toHaveLength(5);
    expect(c2.session).toBe(session);
    expect(session.state).toBe('active');
    expect(session.available).toBe(true);
    expect(session.slots.get(OtherPluginSlot)).toEqual({ n: 42 });
    expect(host.sessions.endedSessions).toEqual([]);
    expect(resumedEvents).toEqual([{ smId: id, retransmitted: 3, flushedFromOffline: 0, hibernatedMs: 10_000 }]);

    // Retransmissions keep their numbers: h=5 acknowledges everything; the next stanza is number 6.
    await c2.receive(`<a xmlns='urn:xmpp:sm:3' h='5'/>`);
    const state = smState(c2);
    expect(state.queue.length).toBe(0);
    await deliver(host, 'alice@localhost/r1', '6');
    expect(state.queue.sent).toBe(6);
    // inbound h continues too
    await c2.receive(`<presence/>`);
    c2.clearSent();
    await c2.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(c2)).toBe(`<a xmlns="urn:xmpp:sm:3" h="3"/>`);
    expect(await host.metrics.expose()).toMatch(/strand_sm_resumed_total\{version="sm3"\} 1/);
  });

  it('while the old stream is still open: it gets <conflict/> and closes; the session lives on (no spill, no end)', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    client.clearSent();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    // nothing from SM on the replaced stream (no <a/>): the conflict error and the close tag only
    expect(client.sent()).toHaveLength(2);
    expect(str(client.sent()[0]!)).toBe(
      `<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">Replaced by new connection</text></stream:error>`,
    );
    expect(isCloseTag(client.sent()[1]!)).toBe(true);
    expect(c2.sent().map(str)[0]).toBe(`<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${id}"/>`);
    expect(bodies(c2.sent())).toEqual(['1']);
    // the old stream's late elements neither count nor ack
    await client.receive(`<presence/>`);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`);
    expect(smState(c2).queue.length).toBe(1);
    await client.closeFromPeer();
    expect(host.sessions.endedSessions).toEqual([]);
    expect(c2.session!.state).toBe('active');
    expect(await host.offline.count('alice@localhost')).toBe(0);
    await deliver(host, 'alice@localhost/r1', '2');
    expect(bodies(c2.sentStanzas())).toEqual(['1', '2']);
  });

  it("another user presenting alice's SM-ID gets item-not-found exactly like an unknown ID; alice still resumes", async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await client.receive(`<presence/>`);
    await client.dropTransport();
    const mallory = await reconnect(host, 'mallory');
    await mallory.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    const unknown = await reconnect(host, 'mallory');
    await unknown.receive(`<resume xmlns='urn:xmpp:sm:3' previd='no-such-id' h='0'/>`);
    const expected = `<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
    expect(mallory.sent().map(str)).toEqual([expected]);
    expect(unknown.sent().map(str)).toEqual([expected]);
    expect(mallory.stream.state).toBe('open'); // may bind instead
    const alice = await reconnect(host);
    await alice.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(alice)).toBe(`<resumed xmlns="urn:xmpp:sm:3" h="1" previd="${id}"/>`);
    expect(await host.metrics.expose()).toMatch(/strand_sm_resume_failed_total\{reason="not-owner"\} 1/);
  });

  it('in another namespace than the one enabled → item-not-found', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:2' previd='${id}' h='0'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:2"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
  });

  it('unauthenticated, after bind, or malformed → failed without touching the session', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await client.dropTransport();
    const anon = await host.connect({ authenticate: false });
    anon.clearSent();
    await anon.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(anon)).toBe(`<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    const bound = await host.connect({ resource: 'other' });
    bound.clearSent();
    await bound.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(bound)).toBe(`<failed xmlns="urn:xmpp:sm:3"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    const bad = await reconnect(host);
    for (const attrs of [`previd='${id}'`, `h='0'`, `previd='${id}' h='x'`, `previd='${id}' h='-1'`, `previd='' h='0'`]) {
      await bad.receive(`<resume xmlns='urn:xmpp:sm:3' ${attrs}/>`);
      expect(await next(bad)).toBe(`<failed xmlns="urn:xmpp:sm:3"><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    }
    expect(host.sessions.getSync('alice@localhost/r1')!.state).toBe('detached');
    const ok = await reconnect(host);
    await ok.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect((await ok.nextSent()).name).toBe('resumed');
  });

  it('h too high on <resume/> → handled-count-too-high; the old session ends and is spilled', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='7'/>`);
    expect(await next(c2)).toBe(
      `<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">You acknowledged 7 stanzas, but I only sent you 1 so far.</text>` +
        `<handled-count-too-high xmlns="urn:xmpp:sm:3" h="7" send-count="1"/></stream:error>`,
    );
    await host.time.flush();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
    expect((await host.offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'))).toEqual(['1']);
  });

  it('stanzas sent while the stream is being attached are retransmitted after <resumed/>, counted once', async () => {
    @injectable()
    class Greeter implements SessionListener {
      readonly priority = 0;
      async onResumed(session: Session) {
        await session.send(xml('message', { from: 'localhost', to: session.jid.toString(), type: 'headline' }, xml('body', {}, 'welcome back')));
      }
    }
    const host = await smHost(quiet, {
      extra: [new ContainerModule(({ bind }) => { bind(Greeter).toSelf().inSingletonScope(); bind(SessionListener).toService(Greeter); })],
    });
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(c2.sent()[0]!.name).toBe('resumed');
    expect(bodies(c2.sent())).toEqual(['1', 'welcome back']);
    expect(smState(c2).queue.sent).toBe(2);
    await c2.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    expect(smState(c2).queue.length).toBe(0);
  });

  it('if the host cannot attach the stream: <failed><item-not-found/></failed>, the session keeps hibernating', async () => {
    const host = await smHost({ ...quiet, resumeTimeout: 60 });
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    const registry = host.sessions;
    const original = registry.attachStream.bind(registry);
    registry.attachStream = async () => {
      throw new Error('node is draining');
    };
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(host.sessions.getSync('alice@localhost/r1')!.state).toBe('detached');
    expect(host.sessions.getSync('alice@localhost/r1')!.slots.get(SmSessionKey)!.phase).toBe('hibernating');
    registry.attachStream = original;
    const c3 = await reconnect(host);
    await c3.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(c3.sent()[0]!.name).toBe('resumed');
    expect(bodies(c3.sent())).toEqual(['1']);
    expect(await host.metrics.expose()).toContain('strand_sm_resume_failed_total{reason="attach-failed"} 1');
  });

  it('two concurrent resumes are serialised: the later one takes over', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    const a = await reconnect(host);
    const b = await reconnect(host);
    await Promise.all([
      a.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`),
      b.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`),
    ]);
    expect(a.sent()[0]!.name).toBe('resumed');
    expect(b.sent()[0]!.name).toBe('resumed');
    expect(a.sent().some((e) => e.name === 'stream:error')).toBe(true); // conflict
    expect(b.session?.state).toBe('active');
    expect(host.sessions.endedSessions).toEqual([]);
  });
});

describe('expiry and <failed h/>', () => {
  it('on expiry the session ends: unacked messages go to offline storage exactly once with their original delay, iqs bounce, presence is dropped; the owner then gets <failed h/>', async () => {
    const host = await smHost({ ...quiet, resumeTimeout: 60, failedHRetention: 600 });
    const { client, id } = await enabledClient(host);
    const t0 = host.time.now();
    await client.receive(`<presence/>`);
    await client.receive(`<presence/>`);
    await deliver(host, 'alice@localhost/r1', 'm1');
    await host.time.advance(1000);
    await host.router.route(xml('iq', { from: 'bob@localhost/b', to: 'alice@localhost/r1', type: 'get', id: 'v1' }, xml('query', { xmlns: 'jabber:iq:version' })));
    await host.router.route(xml('presence', { from: 'bob@localhost/b', to: 'alice@localhost/r1' }));
    await deliver(host, 'alice@localhost/r1', 'm2');
    await client.dropTransport();
    await host.time.advance(2000);
    await deliver(host, 'alice@localhost/r1', 'm3'); // held while hibernating
    await host.time.advance(57_999); // 59 999 ms after the loss
    expect(host.sessions.endedSessions).toEqual([]);
    await host.time.advance(1);
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['expired']);

    const stored = await host.offline.list('alice@localhost');
    expect(stored.map((m) => [m.stanza.getChildText('body'), m.at - t0])).toEqual([
      ['m1', 0],
      ['m2', 1000],
      ['m3', 3000],
    ]);
    expect(stored[0]!.stanza.getChild('delay', 'urn:xmpp:delay')?.attrs).toEqual({
      xmlns: 'urn:xmpp:delay',
      stamp: new Date(t0).toISOString(),
      from: 'localhost',
    });
    const iqErrors = host.routed.filter((r) => r.stanza.name === 'iq' && r.stanza.attrs.type === 'error');
    expect(iqErrors.map((r) => str(r.stanza))).toEqual([
      `<iq type="error" id="v1" to="bob@localhost/b" from="alice@localhost/r1"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
    ]);
    expect(stanzaErrorCondition(iqErrors[0]!.stanza)).toBe('service-unavailable');
    // spilled in original-time order; the presence was dropped
    expect(host.routed.filter((r) => r.at === host.time.now()).map((r) => r.stanza.getChildText('body') ?? r.stanza.name)).toEqual(['m1', 'iq', 'm2', 'm3']);
    const pres = (await host.presence.get('alice@localhost'))[0]!;
    expect(pres.current).toBeUndefined();
    expect(pres.lastUnavailable).toBeDefined();

    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:3" h="2"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    // not twice: the failed resume changes nothing
    expect(await host.offline.count('alice@localhost')).toBe(3);
    expect(await host.metrics.expose()).toMatch(/strand_sm_expired_total 1/);
    expect(await host.metrics.expose()).toMatch(/strand_sm_resume_failed_total\{reason="expired"\} 1/);

    // another user never sees the h
    const m = await reconnect(host, 'mallory');
    await m.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(m)).toBe(`<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);

    // after failedHRetention the ID is forgotten
    await host.time.advance(600_000);
    const c3 = await reconnect(host);
    await c3.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(c3)).toBe(`<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(host.get(SmIdRegistryImpl).size).toEqual({ live: 0, retained: 0 });
  });

  it('after expiry a message goes to another available resource instead of storage', async () => {
    const host = await smHost({ ...quiet, resumeTimeout: 60 });
    const other = await host.connect({ resource: 'desk', available: true });
    other.clearSent();
    const { client } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', 'for-r1');
    await client.dropTransport();
    await host.time.advance(60_000);
    expect(bodies(other.sentStanzas())).toEqual(['for-r1']);
    expect(other.sentStanzas()[0]!.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    expect(await host.offline.count('alice@localhost')).toBe(0);
  });
});

void nothingMore;
