/**
 * Closing an idle stream: the handshake (final nonzas of higher-priority listeners, close tag,
 * nothing more), no data loss in either direction, session end, metrics and the log line.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { Priority, StreamListener, xml, type StreamContext, type StreamListener as StreamListenerT } from '@strand/core';
import { isCloseTag, isStreamError } from '@strand/testing';
import { bodies, deliver, expectPlainClose, idleHost, metric } from './helpers.js';

/** Writes a final `<a/>` in onClosing, like stream management (priority above idle-close). */
@injectable()
class FinalAckListener implements StreamListenerT {
  readonly priority = Priority.stream.STREAM_MANAGEMENT;
  readonly order: string[] = [];
  onClosing(ctx: StreamContext, options: { reason?: string }): void {
    this.order.push(`closing:${options.reason}`);
    ctx.stream.writeNonza(xml('a', { xmlns: 'urn:xmpp:sm:3', h: '0' }));
  }
}
const finalAck = new FinalAckListener();
const finalAckModule = new ContainerModule(({ bind }) => {
  bind(StreamListener).toConstantValue(finalAck);
});

describe('closing an idle stream', () => {
  it('lets higher-priority listeners write their last nonza, then writes the close tag and nothing more', async () => {
    const host = await idleHost({ c2sIdle: 60 }, { extra: [finalAckModule] });
    const alice = await host.connect({ available: true });
    alice.clearSent();
    await host.time.advance(60_000);
    const sent = alice.sent().map((e) => (isCloseTag(e) ? '</stream:stream>' : e.toString()));
    expect(sent).toEqual([`<a xmlns="urn:xmpp:sm:3" h="0"/>`, '</stream:stream>']);
    expect(finalAck.order).toEqual(['closing:idle']);
    // Anything routed to the session now is refused by the stream and re-routed: never written.
    await deliver(host, 'alice@localhost/r1', 'after close tag');
    alice.stream.sendKeepalive();
    expect(alice.sent()).toHaveLength(2);
    expect(alice.stream.keepalivesSent).toBe(0);
  });

  it('re-routes messages sent to the closing session: to offline storage when it was the only resource', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect({ available: true });
    await host.time.advance(60_000);
    expect(alice.stream.state).toBe('closing');
    await deliver(host, 'alice@localhost/r1', 'to the full JID');
    await deliver(host, 'alice@localhost', 'to the bare JID');
    expect(bodies(alice.sentStanzas())).toEqual([]);
    const stored = await host.offline.list('alice@localhost');
    expect(stored.map((m) => m.stanza.getChildText('body'))).toEqual(['to the full JID', 'to the bare JID']);
    expect(host.bounces).toEqual([]);
  });

  it('re-routes messages sent to the closing session to another available resource', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const phone = await host.connect({ resource: 'phone', available: true });
    await host.time.advance(30_000);
    const laptop = await host.connect({ resource: 'laptop', available: true });
    await host.time.advance(30_000);
    expect(phone.stream.state).toBe('closing');
    expect(laptop.stream.state).toBe('open');
    await deliver(host, 'alice@localhost/phone', 'full');
    await deliver(host, 'alice@localhost', 'bare');
    expect(bodies(laptop.sentStanzas())).toEqual(['full', 'bare']);
    expect(await host.offline.count('alice@localhost')).toBe(0);
  });

  it('still processes a stanza the client sends after our close tag and before its own', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const bob = await host.connect({ user: 'bob', resource: 'desk', available: true });
    await host.time.advance(30_000);
    const alice = await host.connect({ available: true });
    await host.time.advance(29_000);
    await bob.receive(`<presence/>`); // bob stays active
    await host.time.advance(31_000);
    expect(alice.stream.state).toBe('closing');
    expect(bob.stream.state).toBe('open');
    await alice.receive(`<message to='bob@localhost/desk' type='chat' id='late'><body>one last thing</body></message>`);
    expect(bodies(bob.sentStanzas())).toEqual(['one last thing']);
    await alice.closeFromPeer();
    expect(alice.stream.closeInfo).toMatchObject({ handshakeTimedOut: false, reason: 'idle' });
    expect(alice.sent().filter((e) => e.name === 'message')).toEqual([]); // nothing written after the close tag
  });

  it('disconnects a client that never answers at the handshake timeout, without an error element', async () => {
    const host = await idleHost({ c2sIdle: 60 }, { config: { timeouts: { closeHandshake: 1 } } });
    const alice = await host.connect({ available: true });
    alice.clearSent();
    await host.time.advance(60_000);
    await host.time.advance(999);
    expect(alice.stream.state).toBe('closing');
    await host.time.advance(1);
    expect(alice.stream.state).toBe('closed');
    expect(alice.stream.closeInfo).toMatchObject({ initiator: 'server', handshakeTimedOut: true, endSession: true, reason: 'idle' });
    expect(alice.stream.closeInfo?.error).toBeUndefined();
    expect(alice.sent().filter(isStreamError)).toEqual([]);
    expectPlainClose(alice);
    expect(alice.session).toBeDefined();
    expect(host.sessions.endedSessions.map((e) => [e.session.jid.toString(), e.reason])).toEqual([['alice@localhost/r1', 'server-close']]);
    // After the end: routed to the bare JID → offline storage.
    await deliver(host, 'alice@localhost/r1', 'later');
    expect(await host.offline.count('alice@localhost')).toBe(1);
  });

  it('counts idle closes by reason and handshakes completed vs timed out, and logs the reason', async () => {
    const host = await idleHost({ c2sIdle: 60, componentIdle: 60 }, { config: { timeouts: { closeHandshake: 2 } } });
    const answers = await host.connect({ user: 'alice' });
    const silent = await host.connect({ user: 'bob' });
    const comp = await host.connectComponent({ domain: 'bot.localhost' });
    await host.time.advance(60_000);
    await answers.closeFromPeer();
    await comp.closeFromPeer();
    await host.time.advance(2_000);
    expect(silent.stream.state).toBe('closed');
    expect(await metric(host, 'strand_idle_close_closes_total{kind="c2s",reason="idle"}')).toBe(2);
    expect(await metric(host, 'strand_idle_close_closes_total{kind="component",reason="idle"}')).toBe(1);
    expect(await metric(host, 'strand_idle_close_handshakes_total{reason="idle",result="completed"}')).toBe(2);
    expect(await metric(host, 'strand_idle_close_handshakes_total{reason="idle",result="timed-out"}')).toBe(1);
    expect(await metric(host, 'strand_idle_close_handshake_seconds_count{result="timed-out"}')).toBe(1);
    expect(await metric(host, 'strand_idle_close_handshake_seconds_sum{result="timed-out"}')).toBe(2);
    const lines = host.logs.find('info', 'closing idle stream');
    expect(lines).toHaveLength(3);
    expect(lines[0]!.data).toMatchObject({
      reason: 'idle',
      kind: 'c2s',
      jid: 'alice@localhost/r1',
      idleSeconds: 60,
      limitSeconds: 60,
      connectionId: answers.stream.connectionId,
    });
    expect(lines[2]!.data).toMatchObject({ reason: 'idle', kind: 'component', jid: 'bot.localhost' });
  });

  it('does not close a stream twice when the peer closes while our handshake runs', async () => {
    const host = await idleHost({ c2sIdle: 1 });
    const alice = await host.connect();
    await host.time.advance(1_000);
    expect(alice.stream.state).toBe('closing');
    await alice.closeFromPeer();
    await host.time.advance(10_000);
    expect(alice.sent().filter(isCloseTag)).toHaveLength(1);
    expect(await metric(host, 'strand_idle_close_closes_total{kind="c2s",reason="idle"}')).toBe(1);
  });
});
