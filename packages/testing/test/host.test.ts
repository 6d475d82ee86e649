import { describe, it, expect } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { defineSessionKey, jsonCodec, MemoryOfflineStoreImpl, NS, StreamListener, xml, type Element } from '@strand/core';
import { TestHost, isCloseTag, stanzaErrorCondition, streamErrorCondition, type TestClient } from '@strand/testing';
import examplePlugin, { EX, ExampleFeature, ExampleLog, HighStreamListener, LowStreamListener } from './example-plugin.js';

async function makeHost(config: Record<string, unknown> = {}) {
  const host = await TestHost.create({ plugins: [[examplePlugin, config]] });
  return { host, log: host.get(ExampleLog) };
}

const Counter = defineSessionKey<number>('@example/counter', jsonCodec<number>());
const names = (els: Element[]) => els.map((e) => e.name);

describe('TestHost: plugins, config and hooks', () => {
  it('validates the plugin section with its schema and exposes it in HostConfig', async () => {
    await expect(TestHost.create({ plugins: [[examplePlugin, { greeting: '' }]] })).rejects.toThrow(
      /plugins\.@example\/plugin\.greeting:/,
    );
    await expect(TestHost.create({ plugins: [[examplePlugin, { nope: 1 }]] })).rejects.toThrow(/@example\/plugin/);
    const host = await TestHost.create({
      plugins: [examplePlugin],
      config: { plugins: { '@example/plugin': { greeting: 'hello' } }, timeouts: { closeHandshake: 2 } },
    });
    expect(host.config.plugins['@example/plugin']).toEqual({ claim: true, greeting: 'hello', slowMs: 1000 });
    expect(host.config.timeouts).toEqual({ preAuth: 60, closeHandshake: 2, read: 300 });
    expect(host.config.domain).toBe('localhost');
    expect(host.serverInfo.startedAt).toBe(host.time.now());
  });

  it('collects multi-bound hooks sorted by priority, not load order', async () => {
    const { host } = await makeHost();
    expect(host.hooks.streamListeners[0]).toBeInstanceOf(HighStreamListener);
    expect(host.hooks.streamListeners[1]).toBeInstanceOf(LowStreamListener);
    expect(host.hooks.inboundInterceptors.map((i) => i.priority)).toEqual([1000, 10]);
    expect(host.hooks.sessionListeners.map((l) => l.priority)).toEqual([1000, 10, 0]);
  });

  it('offers stream features by stage', async () => {
    const { host } = await makeHost();
    const c = await host.connect({ bind: false });
    expect(c.features('pre-auth')).toEqual([]);
    expect(c.features('post-auth').map((e) => e.toString())).toEqual([`<example xmlns="${EX}"/>`]);
  });

  it('fires stream and session lifecycle events on connect', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect({ user: 'alice', resource: 'phone' });
    const id = c.stream.connectionId;
    expect(log.events).toEqual([
      `opened:${id}-s0`,
      'authenticated:alice@localhost',
      `opened:${id}-s1`,
      'bound:alice@localhost/phone',
    ]);
    expect(c.session?.jid.toString()).toBe('alice@localhost/phone');
    expect(await host.sessions.get('alice@localhost/phone')).toBe(c.session);
    expect(c.stream.session).toBe(c.session);
  });

  it('overrides rebind a contribution through its concrete class', async () => {
    @injectable()
    class OtherFeature extends ExampleFeature {
      override offer() {
        return [xml('other', { xmlns: EX })];
      }
    }
    const host = await TestHost.create({
      plugins: [examplePlugin],
      overrides: [
        new ContainerModule(({ rebind }) => {
          rebind(ExampleFeature).to(OtherFeature).inSingletonScope();
        }),
      ],
    });
    const c = await host.connect();
    expect(names(c.features('post-auth'))).toEqual(['other']);
    expect(host.container.getAll(StreamListener)).toHaveLength(2); // other contributions intact
  });
});

describe('TestHost: inbound processing', () => {
  it('dispatches nonzas by namespace and local name', async () => {
    const { host, log } = await makeHost({ greeting: 'hey' });
    const c = await host.connect();
    await c.receive(`<ping xmlns='${EX}'/>`);
    const pong = await c.nextSent();
    expect(pong.toString()).toBe(`<pong xmlns="${EX}">hey</pong>`);
    expect(log.events).toContain('nonza:ping');
  });

  it('answers an unknown nonza with unsupported-stanza-type and closes', async () => {
    const { host } = await makeHost();
    const c = await host.connect();
    await c.receive(xml('enable', { xmlns: 'urn:xmpp:sm:3' }));
    expect(streamErrorCondition(await c.nextSent())).toBeUndefined(); // <bye/> from onClosing first
    expect(streamErrorCondition(await c.nextSent())).toBe('unsupported-stanza-type');
    expect(isCloseTag(await c.nextSent())).toBe(true);
    expect(c.stream.state).toBe('closing');
  });

  it('a nonza handler throwing StreamErrorException closes with that error; other errors are logged', async () => {
    const { host } = await makeHost();
    const a = await host.connect({ user: 'a' });
    await a.receive(`<boom xmlns='${EX}'/>`);
    expect(names(a.sent())).toEqual(['bye', 'stream:error', '/stream:stream']);
    expect(streamErrorCondition(a.sent()[1]!)).toBe('policy-violation');
    const b = await host.connect({ user: 'b' });
    await b.receive(`<crash xmlns='${EX}'/>`);
    expect(streamErrorCondition(b.sent()[1]!)).toBe('internal-server-error');
    expect(host.logs.has('error', 'nonza handler failed')).toBe(true);
  });

  it('runs inbound interceptors around processing, highest priority outermost', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    log.events.length = 0;
    await c.receive(xml('message', { id: 'm1', to: 'alice@localhost' }, xml('swallow', { xmlns: EX })));
    expect(log.events).toEqual(['outer-in:m1', 'inner-in:m1', 'swallowed:m1', 'inner-out:m1', 'outer-out:m1']);
    expect(log.inboundCount).toBe(1);
    expect(host.routed).toHaveLength(0); // consumed by the stanza handler
  });

  it('processes inbound elements of one client strictly one at a time, in order', async () => {
    const { host, log } = await makeHost({ slowMs: 1000 });
    const c = await host.connect();
    log.events.length = 0;
    const p1 = c.receive(xml('message', { id: 'slow', to: 'bob@localhost' }, xml('slow', { xmlns: EX })));
    const p2 = c.receive(xml('message', { id: 'fast', to: 'bob@localhost' }, xml('swallow', { xmlns: EX })));
    await host.time.advance(999);
    expect(log.events).toEqual(['outer-in:slow', 'inner-in:slow']); // fast waits behind slow
    await host.time.advance(1);
    await Promise.all([p1, p2]);
    expect(log.events).toEqual([
      'outer-in:slow',
      'inner-in:slow',
      'slow-done:slow',
      'inner-out:slow',
      'outer-out:slow',
      'outer-in:fast',
      'inner-in:fast',
      'swallowed:fast',
      'inner-out:fast',
      'outer-out:fast',
    ]);
  });

  it('stamps from with the full JID and updates read times', async () => {
    const { host } = await makeHost();
    const c = await host.connect();
    await host.time.advance(10_000);
    await c.receive(`<message to='bob@localhost' from='alice@localhost' type='chat'><body>hi</body></message>`);
    expect(host.routed[0]!.stanza.attrs.from).toBe('alice@localhost/r1');
    expect(c.stream.lastStanzaAt).toBe(host.time.now());
    await host.time.advance(5);
    await c.receive(`<ping xmlns='${EX}'/>`);
    expect(c.stream.lastReadAt).toBe(host.time.now());
    expect(c.stream.lastStanzaAt).toBe(host.time.now() - 5);
  });

  it('closes with invalid-from on a spoofed from; answers not-allowed to a stanza before bind', async () => {
    const { host } = await makeHost();
    const a = await host.connect({ user: 'a' });
    await a.receive(`<message to='bob@localhost' from='mallory@localhost/x'/>`);
    expect(streamErrorCondition(a.sent()[1]!)).toBe('invalid-from');
    const b = await host.connect({ user: 'b', bind: false });
    await b.receive(`<message to='bob@localhost' id='m1'/>`);
    const [reply] = b.sent();
    expect(reply!.attrs).toMatchObject({ type: 'error', id: 'm1' });
    expect(reply!.getChild('error')?.getChild('not-allowed', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(b.stream.state).toBe('open');
    const u = await host.connect({ user: 'u', authenticate: false, bind: false });
    await u.receive(`<message to='bob@localhost'/>`);
    expect(streamErrorCondition(u.sent()[1]!)).toBe('not-authorized'); // [0] is the example plugin's onClosing nonza
  });

  it('dispatches iqs to the server by payload and type; error replies; service-unavailable when unhandled', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    await c.receive(`<iq type='get' id='q1'><query xmlns='${EX}'/></iq>`);
    expect((await c.nextSent()).toString()).toBe(
      `<iq type="result" id="q1" to="alice@localhost/r1"><query xmlns="${EX}"><to>alice@localhost</to></query></iq>`,
    );
    await c.receive(`<iq type='get' id='q2' to='localhost'><query xmlns='${EX}'/></iq>`);
    expect((await c.nextSent()).getChild('query')!.getChildText('to')).toBe('localhost');
    await c.receive(`<iq type='set' id='q3'><query xmlns='${EX}'/></iq>`);
    const err = await c.nextSent();
    expect(err.attrs).toMatchObject({ type: 'error', id: 'q3' });
    expect(stanzaErrorCondition(err)).toBe('not-allowed');
    await c.receive(`<iq type='get' id='q4'><unknown xmlns='urn:nothing'/></iq>`);
    expect(stanzaErrorCondition(await c.nextSent())).toBe('service-unavailable');
    // 'server' target handler does not answer iqs to an account's bare JID.
    await c.receive(`<iq type='get' id='q5' to='alice@localhost'><query xmlns='${EX}'/></iq>`);
    expect(stanzaErrorCondition(await c.nextSent())).toBe('service-unavailable');
    // Errors still count as handled for the inbound interceptors (SM's h).
    expect(log.inboundCount).toBe(5);
    expect(log.outboundCount).toBe(5);
  });

  it('answers disco#info for the server and accounts with contributed features', async () => {
    const { host } = await makeHost();
    const c = await host.connect();
    await c.receive(`<iq type='get' id='d1' to='localhost'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
    const q = (await c.nextSent()).getChild('query')!;
    expect(q.getChild('identity')!.attrs).toMatchObject({ category: 'server', type: 'im' });
    expect(q.getChildren('feature').map((f) => f.attrs.var)).toEqual([NS.DISCO_INFO, EX].sort());
  });

  it('turns a StanzaError from a stanza handler into an error reply', async () => {
    const { host } = await makeHost();
    const c = await host.connect();
    await c.receive(xml('message', { id: 'x', to: 'bob@localhost' }, xml('reject', { xmlns: EX })));
    const reply = await c.nextSent();
    expect(reply.attrs).toMatchObject({ type: 'error', id: 'x', to: 'alice@localhost/r1', from: 'bob@localhost' });
    expect(stanzaErrorCondition(reply)).toBe('policy-violation');
  });

  it('nextSent rejects when nothing was written, or waits in fake time with timeoutMs', async () => {
    const { host } = await makeHost();
    const c = await host.connect();
    await expect(c.nextSent()).rejects.toThrow(/nothing was written/);
    const late = c.nextSent({ timeoutMs: 10_000 });
    host.time.setTimeout(() => void c.stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' })), 3_000);
    await host.time.advance(3_000);
    expect((await late).name).toBe('r');
    const never = c.nextSent({ timeoutMs: 1_000 });
    await host.time.advance(1_000);
    await expect(never).rejects.toThrow(/within 1000 ms/);
    c.clearSent();
    expect(c.sent()).toEqual([]);
  });
});

describe('TestHost: routing', () => {
  it('delivers to a full JID through Session.send (outbound interceptors)', async () => {
    const { host, log } = await makeHost();
    const alice = await host.connect({ user: 'alice' });
    const bob = await host.connect({ user: 'bob' });
    await alice.receive(`<message to='bob@localhost/r1' id='m1' type='chat'><body>hi</body></message>`);
    const got = await bob.nextSent();
    expect(got.attrs).toMatchObject({ from: 'alice@localhost/r1', to: 'bob@localhost/r1', id: 'm1' });
    expect(log.outboundCount).toBe(1);
    expect(host.routed[0]!.outcome).toBe('delivered');
  });

  it('bare JID: available sessions get it; otherwise chat goes offline with the original time', async () => {
    const { host } = await makeHost();
    const alice = await host.connect({ user: 'alice' });
    await alice.receive(`<message to='bob@localhost' id='o1' type='chat'><body>1</body></message>`);
    expect(host.routed[0]!.outcome).toBe('stored-offline');
    const stored = await host.offline.list('bob@localhost');
    expect(stored.map((m) => [m.stanza.attrs.id, m.at])).toEqual([['o1', host.time.now()]]);
    await host.router.route(xml('message', { from: 'x@localhost/a', to: 'bob@localhost', id: 'o2' }), {
      originalTime: 1234,
    });
    expect((await host.offline.list('bob@localhost'))[0]!.at).toBe(1234);

    const bob = await host.connect({ user: 'bob', available: 5 });
    expect(bob.session!.available).toBe(true);
    expect(bob.session!.priority).toBe(5);
    await alice.receive(`<message to='bob@localhost' id='o3' type='chat'/>`);
    expect((await bob.nextSent()).attrs.id).toBe('o3');
  });

  it('bounces service-unavailable to the sender when the offline quota is exceeded', async () => {
    const { host } = await makeHost();
    host.get(MemoryOfflineStoreImpl).maxPerUser = 0;
    const alice = await host.connect({ user: 'alice' });
    await alice.receive(`<message to='bob@localhost' id='q' type='chat'/>`);
    expect(host.bounces).toHaveLength(1);
    expect(host.bounces[0]!.condition).toBe('service-unavailable');
    const err = await alice.nextSent();
    expect(err.attrs).toMatchObject({ type: 'error', id: 'q', to: 'alice@localhost/r1' });
    expect(stanzaErrorCondition(err)).toBe('service-unavailable');
    expect(host.logs.has('warn', 'quota')).toBe(true);
  });

  it('bounces an iq to a missing full JID; drops presence to nobody', async () => {
    const { host } = await makeHost();
    const alice = await host.connect();
    await alice.receive(`<iq to='bob@localhost/gone' type='get' id='i1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(stanzaErrorCondition(await alice.nextSent())).toBe('service-unavailable');
    await alice.receive(`<presence to='bob@localhost/gone'/>`);
    expect(host.routed.at(-1)!.outcome).toBe('dropped');
  });

  it('records broadcast presence in the PresenceStore and an unavailable one when the session ends', async () => {
    const { host } = await makeHost();
    const c = await host.connect({ available: true });
    expect((await host.presence.get('alice@localhost'))[0]!.current?.at).toBe(host.time.now());
    await host.time.advance(1_000);
    await c.closeFromPeer();
    const [rec] = await host.presence.get('alice@localhost');
    expect(rec!.current).toBeUndefined();
    expect(rec!.lastUnavailable!.at).toBe(host.time.now());
  });

  it('components: stanzas to the component domain go to its stream', async () => {
    const { host } = await makeHost();
    const comp = await host.connectComponent({ domain: 'bot.localhost' });
    expect(host.serverInfo.components.get('bot.localhost')).toEqual({ connectedAt: host.time.now() });
    const alice = await host.connect();
    await alice.receive(`<message to='echo@bot.localhost' id='c1'/>`);
    expect((await comp.nextSent()).attrs).toMatchObject({ from: 'alice@localhost/r1', id: 'c1' });
    await comp.receive(`<message from='echo@bot.localhost' to='alice@localhost/r1' id='c2'/>`);
    expect((await alice.nextSent()).attrs.id).toBe('c2');
    await comp.receive(`<message from='evil@localhost' to='alice@localhost/r1'/>`);
    expect(streamErrorCondition(comp.sent().at(-2)!)).toBe('invalid-from');
    await comp.closeFromPeer();
    expect(host.serverInfo.components.has('bot.localhost')).toBe(false);
  });
});

describe('TestHost: close handshake and session lifecycle', () => {
  it('server close: onClosing writes, then close tag; stanzas refused and re-routed; inbound still processed', async () => {
    const { host, log } = await makeHost();
    const alice = await host.connect({ user: 'alice' });
    const bob = await host.connect({ user: 'bob' });
    log.events.length = 0;
    const closing = alice.stream.close({ reason: 'idle' }); // what idle-close does
    await host.time.flush();
    expect(names(alice.sent())).toEqual(['bye', '/stream:stream']);
    expect(log.events.slice(0, 3)).toEqual([
      `closing-high:${alice.stream.connectionId}`,
      'bye-written:true',
      `closing-low:${alice.stream.connectionId}`,
    ]);
    // A message to alice's full JID is refused by the closing stream → handled as for the bare JID → offline.
    await bob.receive(`<message to='alice@localhost/r1' id='late' type='chat'/>`);
    expect(host.routed.at(-1)!.deliveries).toEqual([{ to: 'alice@localhost/r1', result: 'refused' }]);
    expect((await host.offline.list('alice@localhost')).map((m) => m.stanza.attrs.id)).toEqual(['late']);
    // Inbound elements are still processed while closing, but nothing more is written.
    await alice.receive(`<ping xmlns='${EX}'/>`);
    expect(log.events).toContain('nonza:ping');
    expect(names(alice.sent())).toEqual(['bye', '/stream:stream']);
    expect(log.ended).toEqual([]); // the session ends when the stream is closed
    await alice.closeFromPeer();
    await closing;
    expect(log.events.slice(-3)).toEqual([
      `closed-high:${alice.stream.connectionId}:server:false:true`,
      `closed-low:${alice.stream.connectionId}`,
      'ended:alice@localhost/r1:server-close',
    ]);
    expect(host.sessions.count()).toBe(1);
  });

  it('close handshake times out after timeouts.closeHandshake seconds of fake time', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    void c.stream.close();
    await host.time.advance(4_999);
    expect(c.stream.state).toBe('closing');
    await host.time.advance(1);
    expect(c.stream.closeInfo).toMatchObject({ handshakeTimedOut: true, endSession: true });
    expect(log.ended).toEqual([{ jid: 'alice@localhost/r1', reason: 'server-close' }]);
  });

  it('peer close ends the session with reason closed, onEnded exactly once', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    await c.closeFromPeer();
    await c.closeFromPeer();
    await host.sessions.end(c.session!, 'expired');
    expect(log.ended).toEqual([{ jid: 'alice@localhost/r1', reason: 'closed' }]);
    expect(c.session!.state).toBe('ended');
    expect(host.sessions.count()).toBe(0);
    // onClosing runs for a peer-initiated close too: the plugin's last nonza precedes our close tag.
    expect(names(c.sent())).toEqual(['bye', '/stream:stream']);
    await expect(c.receive('<presence/>')).rejects.toThrow(/closed/);
  });

  it('transport loss: a claiming listener keeps the session detached; stanzas are refused meanwhile', async () => {
    const { host, log } = await makeHost({ claim: true });
    const c = await host.connect();
    const session = c.session!;
    log.events.length = 0;
    const info = await c.dropTransport();
    expect(info).toMatchObject({ initiator: 'transport', endSession: false });
    expect(session.state).toBe('detached');
    expect(session.stream).toBeUndefined();
    expect(await host.sessions.get('alice@localhost/r1')).toBe(session);
    expect(log.events).toEqual([
      `closed-high:${c.stream.connectionId}:transport:false:false`,
      `closed-low:${c.stream.connectionId}`,
      'transport-lost:alice@localhost/r1:transport:detached',
    ]); // the second claimer is not asked once the session was claimed
    expect(log.ended).toEqual([]);
    expect(await session.send(xml('message', { to: 'alice@localhost/r1' }))).toBe('refused');
  });

  it('transport loss: unclaimed sessions end with transport-lost', async () => {
    const { host, log } = await makeHost({ claim: false });
    const c = await host.connect();
    await c.dropTransport();
    expect(log.events.slice(-3)).toEqual([
      'transport-lost:alice@localhost/r1:transport:detached',
      'second-claimer:alice@localhost/r1',
      'ended:alice@localhost/r1:transport-lost',
    ]);
    expect(host.sessions.count()).toBe(0);
  });

  it('close({ endSession: false }) is a loss of transport: claimable', async () => {
    const { host, log } = await makeHost({ claim: true });
    const c = await host.connect();
    const closing = c.stream.close({ endSession: false, reason: 'idle' });
    await c.closeFromPeer();
    await closing;
    expect(c.session?.state ?? host.sessions.getSync('alice@localhost/r1')!.state).toBe('detached');
    expect(log.ended).toEqual([]);
  });

  it('resumption: attaching a new stream to a detached session fires onResumed, keeps slots', async () => {
    const { host, log } = await makeHost({ claim: true });
    const old = await host.connect();
    const session = old.session!;
    session.slots.set(Counter, 7);
    await old.dropTransport();
    const fresh = await host.connect({ bind: false });
    await fresh.receive(`<attach xmlns='${EX}' jid='alice@localhost/r1'/>`);
    expect((await fresh.nextSent()).name).toBe('attached');
    expect(fresh.session).toBe(session);
    expect(session.state).toBe('active');
    expect(session.stream).toBe(fresh.stream);
    expect(log.events.at(-1)).toBe(`resumed:alice@localhost/r1:${fresh.stream.connectionId}:-`);
    expect(fresh.session!.slots.get(Counter)).toBe(7);
    await fresh.receive(`<message to='bob@localhost' id='after'/>`);
    expect(host.routed.at(-1)!.stanza.attrs.from).toBe('alice@localhost/r1');
  });

  it('attachStream closes the previous open stream with conflict: stream events only, never onEnded', async () => {
    const { host, log } = await makeHost();
    const old = await host.connect();
    const session = old.session!;
    const fresh = await host.connect({ bind: false });
    log.events.length = 0;
    await fresh.receive(`<attach xmlns='${EX}' jid='alice@localhost/r1'/>`);
    expect(names(old.sent())).toEqual(['bye', 'stream:error', '/stream:stream']);
    expect(streamErrorCondition(old.sent()[1]!)).toBe('conflict');
    expect(old.stream.session).toBeUndefined();
    expect(session.stream).toBe(fresh.stream);
    expect(log.events).toEqual([
      `nonza:attach`,
      `closing-high:${old.stream.connectionId}`,
      'bye-written:true',
      `closing-low:${old.stream.connectionId}`,
      `resumed:alice@localhost/r1:${fresh.stream.connectionId}:${old.stream.connectionId}`,
    ]);
    await host.time.advance(5_000); // the old peer never answers: handshake timeout
    expect(old.stream.state).toBe('closed');
    expect(log.events.slice(-2)).toEqual([
      `closed-high:${old.stream.connectionId}:server:true:false`,
      `closed-low:${old.stream.connectionId}`,
    ]);
    expect(log.ended).toEqual([]);
    expect(session.state).toBe('active');
    expect(await host.sessions.get('alice@localhost/r1')).toBe(session);
    // The session lives on: ending it later fires onEnded exactly once.
    await fresh.closeFromPeer();
    expect(log.ended).toEqual([{ jid: 'alice@localhost/r1', reason: 'closed' }]);
  });

  it('a bind of the same full JID replaces the old session (conflict), which ends once with replaced', async () => {
    const { host, log } = await makeHost();
    const first = await host.connect();
    const s1 = first.session!;
    const second = await host.connect();
    expect(await host.sessions.get('alice@localhost/r1')).toBe(second.session);
    expect(s1.state).toBe('ended');
    expect(streamErrorCondition(first.sent()[1]!)).toBe('conflict');
    expect(log.ended).toEqual([]); // after the old stream has closed
    await first.closeFromPeer();
    expect(log.ended).toEqual([{ jid: 'alice@localhost/r1', reason: 'replaced' }]);
    expect(host.sessions.count()).toBe(1);
  });

  it('registry.end on a detached session fires onEnded at once, exactly once', async () => {
    const { host, log } = await makeHost({ claim: true });
    const c = await host.connect();
    const s = c.session!;
    await c.dropTransport();
    await host.sessions.end(s, 'expired');
    await host.sessions.end(s, 'expired');
    expect(log.ended).toEqual([{ jid: 'alice@localhost/r1', reason: 'expired' }]);
    expect(host.sessions.count()).toBe(0);
    await expect(host.sessions.attachStream(s, (await host.connect({ bind: false })).stream)).rejects.toThrow(/ended/);
  });

  it('registry.end on an attached session closes its stream, onEnded after onClosed', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    log.events.length = 0;
    await host.sessions.end(c.session!, 'shutdown');
    expect(streamErrorCondition(c.sent()[1]!)).toBe('system-shutdown');
    expect(host.sessions.count()).toBe(0);
    await c.closeFromPeer();
    expect(log.events.slice(-2)).toEqual([`closed-low:${c.stream.connectionId}`, 'ended:alice@localhost/r1:shutdown']);
    expect(log.ended).toHaveLength(1);
  });

  it('runs onReadTimeout after timeouts.read seconds of silence; pre-auth timeout closes', async () => {
    const { host, log } = await makeHost();
    const c = await host.connect();
    await host.time.advance(300_000);
    expect(log.events.filter((e) => e.startsWith('read-timeout'))).toEqual([
      `read-timeout-high:${c.stream.connectionId}`,
      `read-timeout-low:${c.stream.connectionId}`,
    ]);
    expect(c.stream.keepalivesSent).toBe(1);
    const anon = await host.connect({ authenticate: false });
    await host.time.advance(60_000);
    expect(streamErrorCondition(anon.sent()[1]!)).toBe('connection-timeout');
  });

  it('websocket transport: no whitespace keepalives', async () => {
    const { host } = await makeHost();
    const c = await host.connect({ transport: 'websocket' });
    expect(c.stream.transport).toBe('websocket');
    expect(c.stream.supportsWhitespaceKeepalive).toBe(false);
  });
});

describe('TestHost without plugins', () => {
  it('works with plain ContainerModules and no plugin', async () => {
    const host = await TestHost.create();
    const c: TestClient = await host.connect();
    await c.receive(`<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(stanzaErrorCondition(await c.nextSent())).toBe('service-unavailable');
    host.metrics.counter('strand_test_total', 'test').inc();
    expect(await host.metrics.expose()).toContain('strand_test_total 1');
  });
});
