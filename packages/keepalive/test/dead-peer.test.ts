/**
 * Dead-peer detection on fake time: the silence limit only after negotiation, the ping-first path
 * for everyone else, and the negotiated interval surviving resumption.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import {
  Priority,
  SessionListener,
  StreamListener,
  xml,
  type Session,
  type StreamContext,
} from '@strand/core';
import type { TestClient, TestHost } from '@strand/testing';
import { KeepaliveInterval, KeepaliveSchedulerImpl, PendingPingKey } from '../src/index.js';
import { hostWith, metric, negotiate } from './helpers.js';

/** Advances fake time in steps, letting the client send whitespace before each step. */
async function talkFor(host: TestHost, c: TestClient, ms: number, everyMs: number): Promise<void> {
  for (let t = 0; t < ms; t += everyMs) {
    c.receiveWhitespace();
    await host.time.advance(Math.min(everyMs, ms - t));
  }
}

/** Answers every ping the server wrote since the last call; returns how many. */
async function answerPings(c: TestClient, type: 'result' | 'error' = 'result'): Promise<number> {
  const pings = c.sent().filter((el) => el.is('iq') && el.attrs.type === 'get' && el.getChild('ping', 'urn:xmpp:ping'));
  c.clearSent();
  for (const p of pings) {
    await c.receive(
      type === 'result'
        ? `<iq type='result' id='${p.attrs.id}' to='localhost'/>`
        : `<iq type='error' id='${p.attrs.id}' to='localhost'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`,
    );
  }
  return pings.length;
}

describe('silence limit (XEP-0304 §3.2) — only after negotiation', () => {
  it('a client that never negotiated is never dropped for silence alone (no read timeout configured)', async () => {
    const host = await hostWith({ defaultInterval: 120 }, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await host.time.advance(4 * 3600_000);
    expect(c.stream.state).toBe('open');
    expect(c.stream.keepalivesSent).toBe(120);
    expect(await metric(host, 'strand_keepalive_dead_peers_total', 'reason="silence"')).toBe(0);
  });

  it('a negotiated client silent for longer than silenceFactor × interval is a dead peer: transport destroyed', async () => {
    const host = await hostWith({ silenceFactor: 3 }, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await negotiate(c, 60); // last read at t = 0
    await host.time.advance(180_000);
    expect(c.stream.state).toBe('open'); // exactly 3 × 60 s: not *longer* yet
    expect(c.stream.keepalivesSent).toBe(3);
    await host.time.advance(1_000);
    expect(c.stream.state).toBe('closed');
    expect(c.stream.closeInfo).toEqual({
      initiator: 'transport',
      handshakeTimedOut: false,
      endSession: false,
      reason: 'keepalive-silence',
    });
    expect(c.sent().some((el) => el.name === 'stream:error')).toBe(false); // no handshake: the peer is gone
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['transport-lost']); // nobody claimed it
    expect(await metric(host, 'strand_keepalive_dead_peers_total', 'reason="silence"')).toBe(1);
    expect(host.get(KeepaliveSchedulerImpl).size).toBe(0);
    expect(host.time.pendingTimers()).toBe(0);
  });

  it('any read counts: client whitespace keeps a negotiated stream alive indefinitely', async () => {
    const host = await hostWith({}, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await negotiate(c, 60);
    await talkFor(host, c, 3600_000, 60_000);
    expect(c.stream.state).toBe('open');
    await host.time.advance(181_000);
    expect(c.stream.state).toBe('closed');
  });

  it('the limit restarts at each read and follows the configured factor', async () => {
    const host = await hostWith({ silenceFactor: 2 }, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await negotiate(c, 60);
    await host.time.advance(100_000);
    await c.receive(xml('presence'));
    await host.time.advance(120_000); // 2 × 60 s since the presence
    expect(c.stream.state).toBe('open');
    await host.time.advance(1_000);
    expect(c.stream.state).toBe('closed');
  });

  it('renegotiation changes the limit (the last value wins)', async () => {
    const host = await hostWith({}, { config: { timeouts: { read: 0 } } });
    const c = await host.connect();
    await negotiate(c, 300, 'a');
    await negotiate(c, 60, 'b');
    await host.time.advance(181_000);
    expect(c.stream.state).toBe('closed');
  });
});

describe('read timeout → XEP-0199 ping (RFC 6120 §4.6) for clients that did not negotiate', () => {
  const cfg = { config: { timeouts: { read: 300 } } };

  it('pings from the domain to the full JID after the read timeout; unanswered within pingTimeout → dead peer', async () => {
    const host = await hostWith({ pingTimeout: 30, defaultInterval: 0 }, cfg);
    const c = await host.connect();
    await host.time.advance(299_999);
    expect(c.sent()).toEqual([]);
    await host.time.advance(1);
    const ping = await c.nextSent();
    expect(ping.toString()).toMatch(
      /^<iq type="get" id="ka-[0-9a-f]{8}-[0-9a-z]+" from="localhost" to="alice@localhost\/r1"><ping xmlns="urn:xmpp:ping"\/><\/iq>$/,
    );
    expect(c.stream.slots.get(PendingPingKey)).toMatchObject({ id: ping.attrs.id });
    await host.time.advance(29_999);
    expect(c.stream.state).toBe('open');
    await host.time.advance(1);
    expect(c.stream.state).toBe('closed');
    expect(c.stream.closeInfo).toMatchObject({ initiator: 'transport', endSession: false, reason: 'keepalive-ping-timeout' });
    expect(await metric(host, 'strand_keepalive_pings_sent_total')).toBe(1);
    expect(await metric(host, 'strand_keepalive_pings_unanswered_total')).toBe(1);
    expect(await metric(host, 'strand_keepalive_dead_peers_total', 'reason="ping-timeout"')).toBe(1);
  });

  it('a client that stays silent but answers pings is never dropped; the pong is consumed', async () => {
    const host = await hostWith({ pingTimeout: 30 }, cfg);
    const c = await host.connect();
    let answered = 0;
    for (let round = 0; round < 12; round++) {
      await host.time.advance(300_000);
      answered += await answerPings(c);
      expect(c.stream.state).toBe('open');
    }
    expect(answered).toBe(12);
    expect(host.routed).toEqual([]); // the results went nowhere else
    expect(await metric(host, 'strand_keepalive_pings_answered_total', 'type="result"')).toBe(12);
    expect(await metric(host, 'strand_keepalive_pings_unanswered_total')).toBe(0);
  });

  it('an error reply (a client without XEP-0199) also proves the peer alive', async () => {
    const host = await hostWith({ pingTimeout: 30 }, cfg);
    const c = await host.connect();
    await host.time.advance(300_000);
    expect(await answerPings(c, 'error')).toBe(1);
    await host.time.advance(60_000);
    expect(c.stream.state).toBe('open');
    expect(await metric(host, 'strand_keepalive_pings_answered_total', 'type="error"')).toBe(1);
  });

  it('any read within pingTimeout counts as alive (whitespace instead of a pong)', async () => {
    const host = await hostWith({ pingTimeout: 30 }, cfg);
    const c = await host.connect();
    await host.time.advance(310_000);
    c.receiveWhitespace();
    await host.time.advance(30_000);
    expect(c.stream.state).toBe('open');
    expect(c.stream.slots.has(PendingPingKey)).toBe(false);
  });

  it('a reply with another id, or addressed elsewhere, is not our pong', async () => {
    const host = await hostWith({ pingTimeout: 30 }, cfg);
    const c = await host.connect();
    await host.time.advance(300_000);
    const ping = await c.nextSent();
    await c.receive(`<iq type='result' id='other' to='localhost'/>`); // a read: alive anyway
    expect(c.stream.slots.get(PendingPingKey)?.id).toBe(ping.attrs.id);
    await c.receive(`<iq type='result' id='${ping.attrs.id}' to='bob@localhost/x'/>`);
    expect(host.routed.map((r) => r.stanza.attrs.to)).toEqual(['bob@localhost/x']); // routed, not consumed
    expect(c.stream.slots.get(PendingPingKey)?.id).toBe(ping.attrs.id);
    await c.receive(`<iq type='result' id='${ping.attrs.id}'/>`); // no to: addressed to the server
    expect(c.stream.slots.has(PendingPingKey)).toBe(false);
  });

  it('stream management first: a higher-priority listener that handles the timeout (its <r/>) means no ping', async () => {
    @injectable()
    class FakeSmReadTimeout implements StreamListener {
      readonly priority = Priority.readTimeout.STREAM_MANAGEMENT;
      calls = 0;
      onReadTimeout(ctx: StreamContext): 'handled' {
        this.calls++;
        ctx.stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
        return 'handled';
      }
    }
    const sm = new ContainerModule(({ bind }) => {
      bind(FakeSmReadTimeout).toSelf().inSingletonScope();
      bind(StreamListener).toService(FakeSmReadTimeout);
    });
    const host = await hostWith({ pingTimeout: 30 }, { ...cfg, plugins: [sm] });
    const c = await host.connect();
    await host.time.advance(300_000);
    expect(c.sent().map((e) => e.name)).toEqual(['r']);
    expect(host.get(FakeSmReadTimeout).calls).toBe(1);
    await host.time.advance(60_000);
    expect(c.stream.state).toBe('open'); // the probe is SM's business now
  });

  it('negotiated clients are not pinged: their contract is the silence limit', async () => {
    const host = await hostWith({ pingTimeout: 30 }, { config: { timeouts: { read: 100 } } });
    const c = await host.connect();
    await negotiate(c, 300);
    c.clearSent();
    await host.time.advance(899_000);
    expect(c.sent()).toEqual([]);
    expect(c.stream.state).toBe('open');
    await host.time.advance(2_000);
    expect(c.stream.closeInfo?.reason).toBe('keepalive-silence');
  });

  it('streams without a bound session are not pinged (nothing to address)', async () => {
    const host = await hostWith({ pingTimeout: 30 }, cfg);
    const c = await host.connect({ bind: false });
    await host.time.advance(400_000);
    expect(c.sent()).toEqual([]);
    expect(c.stream.state).toBe('open');
  });
});

describe('the negotiated interval survives resumption (XEP-0304 §4 note 1)', () => {
  /** A stand-in for stream management: claims every lost session (hibernation). */
  @injectable()
  class Hibernator implements SessionListener {
    readonly priority = Priority.session.STREAM_MANAGEMENT;
    readonly claimed: Session[] = [];
    onTransportLost(session: Session): boolean {
      this.claimed.push(session);
      return true;
    }
  }
  const hibernation = new ContainerModule(({ bind }) => {
    bind(Hibernator).toSelf().inSingletonScope();
    bind(SessionListener).toService(Hibernator);
  });

  it('a dead peer goes through onTransportLost (a claimer may hibernate it); on resume the interval is intact', async () => {
    const host = await hostWith({ defaultInterval: 120, minInterval: 10 }, { config: { timeouts: { read: 0 } }, plugins: [hibernation] });
    const c = await host.connect();
    expect((await negotiate(c, 10)).attrs.type).toBe('result');
    const session = c.session!;
    await host.time.advance(31_000);
    expect(c.stream.closeInfo?.reason).toBe('keepalive-silence');
    expect(host.get(Hibernator).claimed).toEqual([session]);
    expect(session.state).toBe('detached');
    expect(session.slots.get(KeepaliveInterval)).toBe(10);

    await host.time.advance(5_000);
    const c2 = await host.connect({ bind: false }); // a new connection, authenticated as alice
    await host.sessions.attachStream(session, c2.stream); // what SM's <resume/> does
    expect(session.stream).toBe(c2.stream);
    // The new stream runs on the negotiated 10 s, not the default 120 s: whitespace at 10 s …
    await host.time.advance(10_000);
    expect(c2.stream.keepalivesSent).toBe(1);
    // … and the silence limit applies again (3 × 10 s).
    await host.time.advance(21_000);
    expect(c2.stream.closeInfo?.reason).toBe('keepalive-silence');
    expect(host.get(Hibernator).claimed).toEqual([session, session]);
  });
});
