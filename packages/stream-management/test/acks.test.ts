import { describe, expect, it } from '@jest/globals';
import { ContainerModule } from 'inversify';
import { Priority, StreamListener, xml } from '@strand/core';
import type { Session, StreamContext } from '@strand/core';
import { injectable } from 'inversify';
import { SmEvents, UINT32_MAX, UnackedQueue, type SmAckDelayedEvent } from '../src/index.js';
import { bodies, closeTag, deliver, enabledClient, manager, next, nothingMore, reconnect, smHost, smState, str } from './helpers.js';

const iqToServer = (id: string) => `<iq type='get' id='${id}'><query xmlns='urn:example:unknown'/></iq>`;

describe('inbound h (XEP-0198 §4)', () => {
  it('counts every stanza handled after <enable/>, including ones answered with a stanza error; <r/> is answered at once', async () => {
    const host = await smHost({ ackRequestQuietMs: 60_000 });
    const client = await host.connect({ available: true }); // initial presence: before <enable/>, not counted
    await client.receive(`<message to='bob@localhost' type='chat'><body>before</body></message>`);
    await client.receive(`<enable xmlns='urn:xmpp:sm:3'/>`);
    client.clearSent();
    await client.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="0"/>`);
    await client.receive(`<message to='bob@localhost' type='chat'><body>1</body></message>`);
    await client.receive(iqToServer('q1')); // service-unavailable error reply: still handled
    const err = await client.nextSent();
    expect(err.attrs.type).toBe('error');
    await client.receive(`<presence/>`);
    await client.receive(`<message to='not a jid@@' type='chat'/>`); // jid-malformed error: handled
    await client.nextSent();
    await client.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="4"/>`);
    await nothingMore(client);
  });

  it('does not count a stanza whose processing failed (the client keeps responsibility for it)', async () => {
    const host = await smHost();
    const { client } = await enabledClient(host);
    const m = manager(host);
    await m.countInbound(client.stream, async () => undefined);
    await expect(m.countInbound(client.stream, async () => { throw new Error('host fault'); })).rejects.toThrow('host fault');
    expect(smState(client).inbound).toBe(1);
  });

  it('does not count a stanza of a replaced stream that finishes after the resume (the client resends it)', async () => {
    const host = await smHost();
    const { client, id } = await enabledClient(host);
    const m = manager(host);
    let release!: () => void;
    const slow = m.countInbound(client.stream, () => new Promise<void>((r) => (release = r)));
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(str(c2.sent()[0]!)).toBe(`<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${id}"/>`);
    release();
    await slow;
    expect(smState(c2).inbound).toBe(0);
  });

  it('works the same in urn:xmpp:sm:2', async () => {
    const host = await smHost({ ackRequestEvery: 2, ackRequestQuietMs: 60_000 });
    const { client } = await enabledClient(host, { ns: 'urn:xmpp:sm:2' });
    await client.receive(`<presence/>`);
    client.clearSent();
    await client.receive(`<r xmlns='urn:xmpp:sm:2'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:2" h="1"/>`);
    await deliver(host, 'alice@localhost/r1', '1');
    await deliver(host, 'alice@localhost/r1', '2');
    expect(str(client.sent().at(-1)!)).toBe(`<r xmlns="urn:xmpp:sm:2"/>`);
    await client.receive(`<a xmlns='urn:xmpp:sm:2' h='2'/>`);
    expect(smState(client).queue.length).toBe(0);
  });

  it('wraps h from 2^32-1 to 0', async () => {
    const host = await smHost();
    const { client } = await enabledClient(host);
    smState(client).inbound = UINT32_MAX - 1;
    await client.receive(`<presence/>`);
    await client.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="4294967295"/>`);
    await client.receive(`<presence/>`);
    await client.receive(`<presence/>`);
    await client.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="1"/>`);
  });

  it('<r/> or <a/> without stream management → unsupported-stanza-type', async () => {
    const host = await smHost();
    const c = await host.connect();
    c.clearSent();
    await c.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
    const e = await c.nextSent();
    expect(e.name).toBe('stream:error');
    expect(e.getChild('unsupported-stanza-type')).toBeDefined();
  });

  it('an <a/> in another SM namespace than the enabled one → unsupported-stanza-type', async () => {
    const host = await smHost();
    const { client } = await enabledClient(host);
    await client.receive(`<a xmlns='urn:xmpp:sm:2' h='0'/>`);
    expect((await client.nextSent()).name).toBe('a'); // final ack in onClosing
    const e = await client.nextSent();
    expect(e.getChild('unsupported-stanza-type')).toBeDefined();
  });
});

describe('outbound queue and <a h/> (XEP-0198 §4)', () => {
  it('records every stanza written after <enabled/> until acked; stanzas before <enabled/> are not counted', async () => {
    const host = await smHost({ ackRequestEvery: 100, ackRequestQuietMs: 60_000 });
    const client = await host.connect({ available: true });
    await deliver(host, 'alice@localhost/r1', 'before');
    await client.receive(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await deliver(host, 'alice@localhost/r1', 'a');
    await client.receive(iqToServer('q1')); // the error reply is an outbound stanza too
    await deliver(host, 'alice@localhost/r1', 'b');
    const state = smState(client);
    expect(state.queue.length).toBe(3);
    expect(state.queue.sent).toBe(3);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    expect(state.queue.toArray().map((q) => q.stanza.getChildText('body'))).toEqual(['b']);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`); // repeated: nothing
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`); // stale: ignored
    expect(state.queue.length).toBe(1);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
    expect(state.queue.length).toBe(0);
  });

  it('h beyond what was sent → undefined-condition + <handled-count-too-high/> with the spec text; the session ends', async () => {
    const host = await smHost({ ackRequestEvery: 100, ackRequestQuietMs: 60_000 });
    const { client } = await enabledClient(host);
    for (let i = 1; i <= 8; i++) await deliver(host, 'alice@localhost/r1', `m${i}`);
    client.clearSent();
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='10'/>`);
    expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="0"/>`); // final ack, no <r/> after a protocol failure
    expect(await next(client)).toBe(
      `<stream:error><undefined-condition xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
        `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">You acknowledged 10 stanzas, but I only sent you 8 so far.</text>` +
        `<handled-count-too-high xmlns="urn:xmpp:sm:3" h="10" send-count="8"/></stream:error>`,
    );
    expect(closeTag(await client.nextSent())).toBe(true);
    await client.closeFromPeer();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
    // the 8 unacked messages were spilled exactly once to offline storage
    expect((await host.offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'))).toEqual([
      'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8',
    ]);
  });

  it('h counting held (never written) stanzas is too high: only written stanzas can be acked', async () => {
    const host = await smHost({ ackRequestEvery: 100, ackRequestQuietMs: 60_000 });
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', 'w');
    await client.dropTransport();
    await deliver(host, 'alice@localhost/r1', 'held');
    const c2 = await host.connect({ bind: false });
    c2.clearSent();
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='2'/>`);
    const e = await c2.nextSent();
    expect(e.getChild('handled-count-too-high')?.attrs).toEqual({ xmlns: 'urn:xmpp:sm:3', h: '2', 'send-count': '1' });
  });

  it.each([`<a xmlns='urn:xmpp:sm:3'/>`, `<a xmlns='urn:xmpp:sm:3' h='-1'/>`, `<a xmlns='urn:xmpp:sm:3' h='01'/>`, `<a xmlns='urn:xmpp:sm:3' h='4294967296'/>`])(
    'a malformed ack %s → invalid-xml stream error',
    async (bad) => {
      const host = await smHost();
      const { client } = await enabledClient(host);
      client.clearSent();
      await client.receive(bad);
      expect(await next(client)).toBe(`<a xmlns="urn:xmpp:sm:3" h="0"/>`);
      const e = await client.nextSent();
      expect(e.getChild('invalid-xml')).toBeDefined();
    },
  );

  it('the outbound count wraps modulo 2^32', async () => {
    const host = await smHost({ ackRequestEvery: 100, ackRequestQuietMs: 60_000 });
    const { client } = await enabledClient(host);
    const state = smState(client);
    state.queue = new UnackedQueue(UINT32_MAX - 1);
    state.writtenSeq = state.lastRequestSeq = UINT32_MAX - 1;
    await deliver(host, 'alice@localhost/r1', 'x');
    await deliver(host, 'alice@localhost/r1', 'y');
    await deliver(host, 'alice@localhost/r1', 'z');
    expect(state.queue.sent).toBe(1);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='0'/>`);
    expect(bodies(state.queue.toArray().map((q) => q.stanza))).toEqual(['z']);
    client.clearSent();
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    const e = await client.nextSent();
    expect(e.name).toBe('a');
    expect((await client.nextSent()).getChild('handled-count-too-high')?.attrs['send-count']).toBe('1');
  });
});

describe('ack requests', () => {
  it('sends <r/> after ackRequestEvery stanzas, one outstanding at a time', async () => {
    const host = await smHost({ ackRequestEvery: 3, ackRequestQuietMs: 60_000 });
    const { client } = await enabledClient(host);
    client.clearSent();
    for (const b of ['1', '2', '3']) await deliver(host, 'alice@localhost/r1', b);
    expect(client.sent().map((e) => e.name)).toEqual(['message', 'message', 'message', 'r']);
    client.clearSent();
    for (const b of ['4', '5', '6', '7']) await deliver(host, 'alice@localhost/r1', b);
    expect(client.sent().map((e) => e.name)).toEqual(['message', 'message', 'message', 'message']); // r outstanding
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
    client.clearSent();
    await deliver(host, 'alice@localhost/r1', '8');
    expect(client.sent().map(String)).toEqual([expect.stringContaining('<body>8</body>'), `<r xmlns="urn:xmpp:sm:3"/>`]);
  });

  it('sends <r/> when unacked stanzas exist and nothing was sent for ackRequestQuietMs', async () => {
    const host = await smHost({ ackRequestEvery: 100, ackRequestQuietMs: 500 });
    const { client } = await enabledClient(host);
    client.clearSent();
    await deliver(host, 'alice@localhost/r1', '1');
    await host.time.advance(300);
    await deliver(host, 'alice@localhost/r1', '2');
    await host.time.advance(300); // 300 ms after the last stanza: still quiet-pending
    expect(client.sent().map((e) => e.name)).toEqual(['message', 'message']);
    await host.time.advance(200);
    expect(client.sent().map((e) => e.name)).toEqual(['message', 'message', 'r']);
    // acked: no further request
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    await host.time.advance(10_000);
    expect(client.sent().map((e) => e.name)).toEqual(['message', 'message', 'r']);
  });

  it('past maxQueue while attached requests an ack', async () => {
    const host = await smHost({ ackRequestEvery: 1000, ackRequestQuietMs: 60_000, maxQueue: 10, hardQueueLimit: 100 });
    const { client } = await enabledClient(host);
    client.clearSent();
    for (let i = 1; i <= 11; i++) await deliver(host, 'alice@localhost/r1', String(i));
    expect(client.sent().filter((e) => e.name === 'r')).toHaveLength(1);
    expect(client.sent().at(-1)!.name).toBe('r');
    expect(client.sent().at(-2)!.getChildText('body')).toBe('11');
  });

  it('answers the read timeout with <r/> before keepalive, and an ack timeout hibernates the session', async () => {
    const keepaliveCalls: string[] = [];
    @injectable()
    class FakeKeepalive implements StreamListener {
      readonly priority = Priority.readTimeout.KEEPALIVE;
      onReadTimeout(ctx: StreamContext): 'handled' {
        keepaliveCalls.push(ctx.stream.connectionId);
        return 'handled';
      }
    }
    const host = await smHost(
      { ackTimeout: 30, ackDelayed: 10 },
      {
        config: { timeouts: { read: 60 } },
        extra: [new ContainerModule(({ bind }) => { bind(FakeKeepalive).toSelf().inSingletonScope(); bind(StreamListener).toService(FakeKeepalive); })],
      },
    );
    const plain = await host.connect({ resource: 'nosm' });
    const { client } = await enabledClient(host);
    client.clearSent();
    await host.time.advance(60_000);
    expect(client.sent().map(String)).toEqual([`<r xmlns="urn:xmpp:sm:3"/>`]);
    expect(keepaliveCalls).toEqual([plain.stream.connectionId]); // SM handled its stream; keepalive got the other
    await host.time.advance(29_999);
    expect(client.stream.state).toBe('open');
    await host.time.advance(1);
    expect(client.stream.state).toBe('closed');
    expect(client.stream.closeInfo).toMatchObject({ initiator: 'transport', endSession: false, reason: 'sm-ack-timeout' });
    const session = host.sessions.getSync('alice@localhost/r1')!;
    expect(session.state).toBe('detached');
    expect(host.sessions.endedSessions).toEqual([]);
  });

  it('an <a/> in time cancels the ack timeout', async () => {
    const host = await smHost({ ackTimeout: 30 }, { config: { timeouts: { read: 60 } } });
    const { client } = await enabledClient(host);
    await host.time.advance(60_000);
    await host.time.advance(10_000);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='0'/>`);
    await host.time.advance(25_000);
    expect(client.stream.state).toBe('open');
  });

  it('fires SmEvents.onAckDelayed when <r/> stays unanswered for ackDelayed seconds', async () => {
    const events: SmAckDelayedEvent[] = [];
    @injectable()
    class Listener implements SmEvents {
      onAckDelayed(_s: Session, e: SmAckDelayedEvent) {
        events.push(e);
      }
    }
    const host = await smHost(
      { ackRequestEvery: 2, ackDelayed: 20, ackTimeout: 120 },
      { extra: [new ContainerModule(({ bind }) => { bind(Listener).toSelf().inSingletonScope(); bind(SmEvents).toService(Listener); })] },
    );
    await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await deliver(host, 'alice@localhost/r1', '2');
    await host.time.advance(19_999);
    expect(events).toEqual([]);
    await host.time.advance(1);
    expect(events).toEqual([{ unacked: 2, waitedMs: 20_000 }]);
  });

  it('priorities: SM is outermost for inbound/outbound, first on read timeout and on session events', async () => {
    const host = await smHost();
    const names = (xs: object[]) => xs.map((x) => x.constructor.name);
    expect(names(host.hooks.inboundInterceptors)[0]).toBe('SmInboundCounterImpl');
    expect(names(host.hooks.outboundInterceptors)[0]).toBe('SmOutboundQueueImpl');
    expect(names(host.hooks.streamListeners)[0]).toBe('SmStreamListenerImpl');
    expect(names(host.hooks.sessionListeners)[0]).toBe('SmSessionListenerImpl');
    expect(host.hooks.streamListeners[0]!.priority).toBe(1000);
  });
});

void xml;
void nothingMore;
