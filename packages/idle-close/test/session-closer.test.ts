/**
 * `SessionCloser`: the graceful-close service other modules inject (e.g. an admin module).
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { Priority, SessionListener, type SessionListener as SessionListenerT } from '@strand/core';
import { isCloseTag, streamErrorCondition } from '@strand/testing';
import { SessionCloser, type SessionCloser as SessionCloserT } from '../src/index.js';
import { deliver, expectPlainClose, idleHost, metric } from './helpers.js';

/** Claims every session on transport loss, like stream management hibernating it. */
@injectable()
class Claimer implements SessionListenerT {
  readonly priority = Priority.session.STREAM_MANAGEMENT;
  onTransportLost(): boolean {
    return true;
  }
}
const claimerModule = new ContainerModule(({ bind }) => {
  bind(Claimer).toSelf().inSingletonScope();
  bind(SessionListener).toService(Claimer);
});

describe('SessionCloser', () => {
  it('closes a session with the plain handshake and ends it, also with both idle limits off', async () => {
    const host = await idleHost({});
    const alice = await host.connect({ available: true });
    alice.clearSent();
    const closer = host.get<SessionCloserT>(SessionCloser);
    const done = closer.closeSession(alice.session!);
    await host.flush();
    expect(alice.stream.state).toBe('closing');
    expectPlainClose(alice);
    await deliver(host, 'alice@localhost/r1', 'while closing');
    expect(await host.offline.count('alice@localhost')).toBe(1);
    await alice.closeFromPeer();
    await expect(done).resolves.toBe('completed');
    expect(alice.stream.closeInfo).toMatchObject({ reason: 'admin', endSession: true, handshakeTimedOut: false });
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
    expect(await metric(host, 'strand_idle_close_closes_total{kind="c2s",reason="admin"}')).toBe(1);
    expect(await metric(host, 'strand_idle_close_handshakes_total{reason="admin",result="completed"}')).toBe(1);
    expect(host.logs.has('info', 'closing stream with the close handshake')).toBe(true);
  });

  it('may write a stream error first (a kick) and reports a timed-out handshake', async () => {
    const host = await idleHost({}, { config: { timeouts: { closeHandshake: 3 } } });
    const alice = await host.connect();
    alice.clearSent();
    const done = host
      .get<SessionCloserT>(SessionCloser)
      .closeSession(alice.session!, { reason: 'kick', error: { condition: 'policy-violation', text: 'kicked' } });
    await host.time.advance(3_000);
    await expect(done).resolves.toBe('timed-out');
    const sent = alice.sent();
    expect(sent).toHaveLength(2);
    expect(streamErrorCondition(sent[0]!)).toBe('policy-violation');
    expect(isCloseTag(sent[1]!)).toBe(true);
    expect(await metric(host, 'strand_idle_close_handshakes_total{reason="kick",result="timed-out"}')).toBe(1);
  });

  it('honours timeoutMs', async () => {
    const host = await idleHost({});
    const alice = await host.connect();
    const done = host.get<SessionCloserT>(SessionCloser).closeSession(alice.session!, { timeoutMs: 100 });
    await host.time.advance(100);
    await expect(done).resolves.toBe('timed-out');
  });

  it('ends a detached (hibernating) session through the registry', async () => {
    const host = await idleHost({}, { extra: [claimerModule] });
    const alice = await host.connect();
    const session = alice.session!;
    await alice.dropTransport();
    expect(session.state).toBe('detached');
    await expect(host.get<SessionCloserT>(SessionCloser).closeSession(session)).resolves.toBe('detached');
    expect(session.state).toBe('ended');
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
  });

  it('makes sure the session ends when its stream is already closing without ending it', async () => {
    const host = await idleHost({}, { extra: [claimerModule] });
    const alice = await host.connect();
    const session = alice.session!;
    void alice.stream.close({ endSession: false, reason: 'test' });
    const done = host.get<SessionCloserT>(SessionCloser).closeSession(session);
    await host.time.advance(5_000); // that close times out; the claimer keeps the session…
    await expect(done).resolves.toBe('detached'); // …which the closer then ends
    expect(session.state).toBe('ended');
  });

  it('closes every session of a bare JID, or the one of a full JID', async () => {
    const host = await idleHost({});
    const a1 = await host.connect({ resource: 'a1' });
    const a2 = await host.connect({ resource: 'a2' });
    const bob = await host.connect({ user: 'bob' });
    const closer = host.get<SessionCloserT>(SessionCloser);
    expect(await closer.closeJid('alice@localhost/nope')).toEqual([]);
    const all = closer.closeJid('alice@localhost', { reason: 'account-disabled' });
    await host.flush();
    expect([a1.stream.state, a2.stream.state, bob.stream.state]).toEqual(['closing', 'closing', 'open']);
    await a1.closeFromPeer();
    await a2.closeFromPeer();
    await expect(all).resolves.toEqual(['completed', 'completed']);
    const one = closer.closeJid('bob@localhost/r1');
    await bob.closeFromPeer();
    await expect(one).resolves.toEqual(['completed']);
    expect(await metric(host, 'strand_idle_close_closes_total{kind="c2s",reason="account-disabled"}')).toBe(2);
  });

  it('does nothing for ended sessions or streams that are already closed, and bounds reason labels', async () => {
    const host = await idleHost({});
    const alice = await host.connect();
    const session = alice.session!;
    await alice.closeFromPeer();
    const closer = host.get<SessionCloserT>(SessionCloser);
    await expect(closer.closeSession(session)).resolves.toBe('not-open');
    await expect(closer.closeStream(alice.stream)).resolves.toBe('not-open');
    const bob = await host.connect({ user: 'bob' });
    const done = closer.closeStream(bob.stream, { reason: 'Not A Label {}' });
    await bob.closeFromPeer();
    await expect(done).resolves.toBe('completed');
    expect(await metric(host, 'strand_idle_close_closes_total{kind="c2s",reason="other"}')).toBe(1);
    expect(bob.stream.closeInfo?.reason).toBe('Not A Label {}');
  });

  it('closes component streams', async () => {
    const host = await idleHost({});
    const comp = await host.connectComponent({ domain: 'bot.localhost' });
    const done = host.get<SessionCloserT>(SessionCloser).closeStream(comp.stream, { reason: 'maintenance' });
    await comp.closeFromPeer();
    await expect(done).resolves.toBe('completed');
    expect(await metric(host, 'strand_idle_close_closes_total{kind="component",reason="maintenance"}')).toBe(1);
  });
});
