/**
 * Whitespace keepalives on fake time: at the interval of write silence, reset by any write, the
 * negotiated interval replacing the default, one shared timer for every stream.
 */
import { describe, expect, it } from '@jest/globals';
import { xml } from '@strand/core';
import { KeepaliveSchedulerImpl } from '../src/index.js';
import { hostWith, metric, negotiate } from './helpers.js';

describe('whitespace keepalives', () => {
  it('default interval: a keepalive after exactly defaultInterval of write silence, then every interval', async () => {
    const host = await hostWith({ defaultInterval: 120 });
    const c = await host.connect();
    await host.time.advance(119_999);
    expect(c.stream.keepalivesSent).toBe(0);
    await host.time.advance(1);
    expect(c.stream.keepalivesSent).toBe(1);
    expect(c.stream.lastWriteAt - host.time.start).toBe(120_000);
    await host.time.advance(120_000);
    expect(c.stream.keepalivesSent).toBe(2);
    expect(c.sent()).toEqual([]); // keepalives are not elements
    expect(await metric(host, 'strand_keepalive_sent_total', 'mode="default"')).toBe(2);
  });

  it('any write resets the timer (a stanza, a nonza)', async () => {
    // No read timeout: this client never answers, a ping would end it at 330 s.
    const host = await hostWith({ defaultInterval: 120 }, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await host.time.advance(100_000);
    await c.session!.send(xml('message', { from: 'bob@localhost/x', to: 'alice@localhost/r1', type: 'chat' }, xml('body', {}, 'hi')));
    await host.time.advance(119_999);
    expect(c.stream.keepalivesSent).toBe(0); // 219.999 s: only 119.999 s since the message
    await host.time.advance(1);
    expect(c.stream.keepalivesSent).toBe(1); // 220 s
    await host.time.advance(80_000);
    c.stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' })); // 300 s
    await host.time.advance(119_999);
    expect(c.stream.keepalivesSent).toBe(1); // not at 340 s: the nonza moved it to 420 s
    await host.time.advance(1);
    expect(c.stream.keepalivesSent).toBe(2); // 420 s
  });

  it('deadlines are checked on a 100 ms grid: never early, less than 0.1 s late', async () => {
    const host = await hostWith({ defaultInterval: 120 });
    const c = await host.connect();
    await host.time.advance(50);
    c.stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' })); // 0.05 s
    await host.time.advance(120_000); // 120.05 s: due, but the next check is at 120.1 s
    expect(c.stream.keepalivesSent).toBe(0);
    await host.time.advance(50);
    expect(c.stream.keepalivesSent).toBe(1);
    expect(c.stream.lastWriteAt - host.time.start).toBe(120_100);
    await host.time.advance(120_000); // the next one exactly 120 s after that keepalive
    expect(c.stream.keepalivesSent).toBe(2);
  });

  it('reads do not reset the write timer', async () => {
    const host = await hostWith({ defaultInterval: 120 });
    const c = await host.connect();
    await host.time.advance(60_000);
    c.receiveWhitespace();
    await host.time.advance(60_000);
    expect(c.stream.keepalivesSent).toBe(1);
  });

  it('after negotiation the negotiated interval replaces the default, counted from the last write (the result)', async () => {
    const host = await hostWith({ defaultInterval: 120 });
    const c = await host.connect();
    await host.time.advance(10_000);
    expect((await negotiate(c, 60)).attrs.type).toBe('result');
    await host.time.advance(59_999);
    expect(c.stream.keepalivesSent).toBe(0);
    await host.time.advance(1);
    expect(c.stream.keepalivesSent).toBe(1);
    await host.time.advance(60_000);
    expect(c.stream.keepalivesSent).toBe(2);
    expect(await metric(host, 'strand_keepalive_sent_total', 'mode="negotiated"')).toBe(2);
  });

  it('renegotiation to a longer interval takes effect at once', async () => {
    const host = await hostWith({ defaultInterval: 0 });
    const c = await host.connect();
    await negotiate(c, 60, 'a');
    await host.time.advance(30_000);
    await negotiate(c, 200, 'b');
    await host.time.advance(199_999);
    expect(c.stream.keepalivesSent).toBe(0);
    await host.time.advance(1);
    expect(c.stream.keepalivesSent).toBe(1);
  });

  it('defaultInterval 0: no keepalives and no timer for clients that do not negotiate', async () => {
    const host = await hostWith({ defaultInterval: 0 }, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    expect(host.time.pendingTimers()).toBe(0);
    await host.time.advance(3_600_000);
    expect(c.stream.keepalivesSent).toBe(0);
    await negotiate(c, 60);
    expect(host.time.pendingTimers()).toBe(1);
    await host.time.advance(60_000);
    expect(c.stream.keepalivesSent).toBe(1);
  });

  it('WebSocket: the default interval still applies, as ping frames (sendKeepalive)', async () => {
    const host = await hostWith({ defaultInterval: 30 });
    const c = await host.connect({ transport: 'websocket' });
    await host.time.advance(30_000);
    expect(c.stream.keepalivesSent).toBe(1);
  });

  it('unauthenticated streams get nothing; the close handshake stops keepalives', async () => {
    const host = await hostWith({ defaultInterval: 10 });
    const pre = await host.connect({ authenticate: false });
    const c = await host.connect();
    await host.time.advance(10_000);
    expect(pre.stream.keepalivesSent).toBe(0);
    expect(c.stream.keepalivesSent).toBe(1);
    const closing = c.stream.close();
    await host.time.advance(4_000); // inside the handshake
    expect(c.stream.keepalivesSent).toBe(1);
    await c.closeFromPeer();
    await closing;
    expect(host.get(KeepaliveSchedulerImpl).isWatched(c.stream)).toBe(false);
    expect(host.time.pendingTimers()).toBe(0);
  });

  it('one shared timer for every stream, and writes never touch it (no per-session timer churn)', async () => {
    const host = await hostWith({ defaultInterval: 120, minInterval: 1 });
    let timersCreated = 0;
    const origTimeout = host.time.setTimeout.bind(host.time);
    const origInterval = host.time.setInterval.bind(host.time);
    host.time.setTimeout = (fn, ms) => (timersCreated++, origTimeout(fn, ms));
    host.time.setInterval = (fn, ms) => (timersCreated++, origInterval(fn, ms));
    const clients = [];
    for (let i = 0; i < 50; i++) clients.push(await host.connect({ user: `u${i}` }));
    for (let i = 0; i < 50; i += 2) await negotiate(clients[i]!, 1 + (i % 7));
    expect(host.time.pendingTimers()).toBe(1);
    const before = timersCreated;
    for (let k = 0; k < 20; k++) {
      for (const c of clients) c.stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
    }
    expect(timersCreated).toBe(before);
    expect(host.time.pendingTimers()).toBe(1);
    // Over 10 s the single timer is re-armed once per occupied 100 ms slot: bounded by distinct
    // deadlines (keepalives on whole seconds, silence limits at +0.1 s), never by streams × writes.
    // (The clients keep talking, otherwise the 1-second negotiated ones would be dead after 3 s.)
    for (let s = 0; s < 10; s++) {
      await host.time.advance(1000);
      for (const c of clients) c.receiveWhitespace();
    }
    expect(timersCreated - before).toBeLessThanOrEqual(20);
    expect(clients[0]!.stream.keepalivesSent).toBe(10); // negotiated 1 s
    expect(clients[2]!.stream.keepalivesSent).toBe(3); // negotiated 3 s
    expect(clients[1]!.stream.keepalivesSent).toBe(0); // default 120 s
    expect(clients.every((c) => c.stream.state === 'open')).toBe(true);
  });
});
