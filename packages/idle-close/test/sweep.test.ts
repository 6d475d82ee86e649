/**
 * The idle policy: which streams are watched, what counts as activity, one shared sweep timer.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { NonzaHandler, xml, type NonzaHandler as NonzaHandlerT } from '@strand/core';
import { isCloseTag, isStreamError } from '@strand/testing';
import { IdleCloseSweepImpl } from '../src/index.js';
import { closeTagWritten, expectPlainClose, idleHost } from './helpers.js';

/** Accepts `<r xmlns='urn:xmpp:sm:3'/>` and `<active xmlns='urn:xmpp:csi:0'/>` and does nothing (nonza traffic). */
@injectable()
class SilentNonzas implements NonzaHandlerT {
  readonly xmlns: string;
  readonly names: readonly string[];
  constructor(xmlns: string, names: string[]) {
    this.xmlns = xmlns;
    this.names = names;
  }
  handle(): void {}
}
const nonzaModule = new ContainerModule(({ bind }) => {
  bind(NonzaHandler).toConstantValue(new SilentNonzas('urn:xmpp:sm:3', ['r', 'a']));
  bind(NonzaHandler).toConstantValue(new SilentNonzas('urn:xmpp:csi:0', ['active', 'inactive']));
});

describe('idle sweep', () => {
  it('closes an authenticated c2s stream idle for c2sIdle with the plain handshake, not before', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect({ user: 'alice' });
    alice.clearSent();
    await host.time.advance(59_999);
    expect(alice.stream.state).toBe('open');
    expect(alice.sent()).toEqual([]);
    await host.time.advance(1);
    expect(alice.stream.state).toBe('closing');
    expectPlainClose(alice);
    expect(alice.session?.state).toBe('active'); // still registered until the handshake ends
    await alice.closeFromPeer();
    expect(alice.stream.closeInfo).toMatchObject({ initiator: 'server', reason: 'idle', endSession: true, handshakeTimedOut: false });
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
  });

  it('measures from the last inbound stanza: a stanza restarts the count', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect();
    await host.time.advance(50_000);
    await alice.receive(`<message to='bob@localhost' type='chat'><body>hi</body></message>`);
    await host.time.advance(59_000);
    expect(alice.stream.state).toBe('open');
    await host.time.advance(15_000); // next sweep after 60 s of silence
    expect(alice.stream.state).toBe('closing');
  });

  it('does not count whitespace keepalives, WebSocket pongs or nonzas (SM acks, CSI) as activity', async () => {
    const host = await idleHost({ c2sIdle: 60 }, { extra: [nonzaModule] });
    const tcp = await host.connect({ user: 'alice' });
    const ws = await host.connect({ user: 'bob', transport: 'websocket' });
    for (let t = 0; t < 4; t++) {
      await host.time.advance(15_000);
      tcp.receiveWhitespace();
      ws.receivePong();
      await tcp.receive(`<r xmlns='urn:xmpp:sm:3'/>`);
      await ws.receive(`<active xmlns='urn:xmpp:csi:0'/>`);
    }
    expect(tcp.stream.state).toBe('closing');
    expect(ws.stream.state).toBe('closing');
    expect(tcp.sent().filter(isStreamError)).toEqual([]);
    expect(ws.sent().filter(isStreamError)).toEqual([]);
  });

  it('does not count XEP-0199 ping traffic (client pings, answers to server pings) as activity', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect();
    await host.time.advance(20_000);
    await alice.receive(`<message to='bob@localhost' type='chat'><body>last real one</body></message>`);
    await host.time.advance(20_000);
    await alice.receive(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await host.time.advance(20_000);
    await alice.receive(`<iq type='result' id='srv-ping-1' to='localhost'/>`);
    await host.time.advance(20_000);
    await alice.receive(`<iq type='result' id='srv-ping-2'/>`);
    expect(alice.stream.state).toBe('open'); // swept at 75 s: 55 s since the message
    await host.time.advance(10_000); // sweep at 90 s: 70 s since the last real stanza
    expect(alice.stream.state).toBe('closing');
  });

  it('counts other iqs (e.g. disco) as activity', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect();
    await host.time.advance(45_000);
    await alice.receive(`<iq type='get' id='d1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    await host.time.advance(45_000);
    expect(alice.stream.state).toBe('open');
    await host.time.advance(15_000);
    expect(alice.stream.state).toBe('closing');
  });

  it('never watches unauthenticated streams (the host pre-auth timeout owns them)', async () => {
    const host = await idleHost({ c2sIdle: 1 }, { config: { timeouts: { preAuth: 3600 } } });
    const anon = await host.connect({ authenticate: false });
    await host.time.advance(600_000);
    expect(anon.stream.state).toBe('open');
    expect(host.get(IdleCloseSweepImpl).watchedCount).toBe(0);
    expect(host.time.pendingTimers()).toBe(0);
  });

  it('watches authenticated but unbound streams', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const c = await host.connect({ bind: false });
    await host.time.advance(60_000);
    expect(c.stream.state).toBe('closing');
    expect(isCloseTag(c.sent().at(-1)!)).toBe(true);
  });

  it('closes idle component streams with componentIdle, independently of c2sIdle', async () => {
    const host = await idleHost({ c2sIdle: 0, componentIdle: 120 });
    const comp = await host.connectComponent({ domain: 'bot.localhost' });
    const alice = await host.connect();
    await host.time.advance(100_000);
    await comp.receive(`<message from='echo@bot.localhost' to='alice@localhost/r1'><body>ping</body></message>`);
    await host.time.advance(119_000); // sweeps every 30 s; at 210 s: idle for 110 s
    expect(comp.stream.state).toBe('open');
    await host.time.advance(21_000); // at 240 s: idle for 140 s
    expect(comp.stream.state).toBe('closing');
    expectPlainClose(comp);
    expect(alice.stream.state).toBe('open'); // c2sIdle 0 = off
    await host.time.advance(3_600_000);
    expect(alice.stream.state).toBe('open');
  });

  it('leaves component streams alone when componentIdle is 0', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const comp = await host.connectComponent({ domain: 'bot.localhost' });
    const alice = await host.connect();
    await host.time.advance(60_000);
    expect(alice.stream.state).toBe('closing');
    expect(comp.stream.state).toBe('open');
  });

  it('runs one shared sweep timer however many streams it watches, and none when idle or off', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    expect(host.time.pendingTimers()).toBe(0);
    const clients = [];
    for (let i = 0; i < 20; i++) clients.push(await host.connect({ user: `u${i}`, resource: 'r' }));
    expect(host.time.pendingTimers()).toBe(1);
    expect(host.time.timers()[0]?.intervalMs).toBe(15_000);
    expect(host.get(IdleCloseSweepImpl).watchedCount).toBe(20);
    await host.time.advance(60_000);
    expect(clients.every(closeTagWritten)).toBe(true);
    expect(host.get(IdleCloseSweepImpl).watchedCount).toBe(0);
    expect(host.time.pendingTimers()).toBe(0);
    await Promise.all(clients.map((c) => c.closeFromPeer()));
    expect(host.sessions.count()).toBe(0);

    const off = await idleHost({});
    await off.connect();
    await off.connectComponent({ domain: 'bot.localhost' });
    expect(off.time.pendingTimers()).toBe(0);
  });

  it('stops watching a stream that closes for another reason', async () => {
    const host = await idleHost({ c2sIdle: 60 });
    const alice = await host.connect();
    expect(host.time.pendingTimers()).toBe(1);
    await alice.closeFromPeer();
    expect(host.get(IdleCloseSweepImpl).watchedCount).toBe(0);
    expect(host.time.pendingTimers()).toBe(0);
    const bob = await host.connect({ user: 'bob' });
    await bob.dropTransport();
    expect(host.time.pendingTimers()).toBe(0);
  });

  it('sweeps every quarter of the shortest limit, between 250 ms and 30 s', async () => {
    const period = async (config: Record<string, unknown>, component = false): Promise<number | undefined> => {
      const host = await idleHost(config);
      if (component) await host.connectComponent({ domain: 'c.localhost' });
      else await host.connect();
      return host.time.timers()[0]?.intervalMs;
    };
    expect(await period({ c2sIdle: 1 })).toBe(250);
    expect(await period({ c2sIdle: 2 })).toBe(500);
    expect(await period({ c2sIdle: 60, componentIdle: 20 })).toBe(5_000);
    expect(await period({ c2sIdle: 3600 })).toBe(30_000);
    expect(await period({ componentIdle: 600 }, true)).toBe(30_000);
  });

  it('closes at most one sweep period late', async () => {
    const host = await idleHost({ c2sIdle: 2 });
    const alice = await host.connect();
    await host.time.advance(700);
    await alice.receive(xml('presence'));
    // idle since 700 ms: limit reached at 2 700 ms, sweeps every 500 ms → closed at 3 000 ms
    await host.time.advance(2_299);
    expect(alice.stream.state).toBe('open');
    await host.time.advance(1);
    expect(alice.stream.state).toBe('closing');
  });
});
