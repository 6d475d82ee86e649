import { describe, expect, it } from '@jest/globals';
import { isCloseTag } from '@strand/testing';
import { bodies, deliver, enabledClient, next, reconnect, smHost, str } from './helpers.js';

const quiet = { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 };
const offlineBodies = async (host: Awaited<ReturnType<typeof smHost>>) =>
  (await host.offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'));

describe('which closes end the session (XEP-0198 §6 "Stream Closure")', () => {
  it("the client's </stream:stream> ends the session: unacked stanzas spilled once; a later resume gets <failed h/>", async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await client.receive(`<presence/>`);
    for (const b of ['1', '2', '3']) await deliver(host, 'alice@localhost/r1', b);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`); // RECOMMENDED final ack before closing
    client.clearSent();
    await client.closeFromPeer();
    // answering the peer's close: our final <a h/>, no <r/> (nothing can answer it any more)
    expect(client.sent().map(str)).toEqual([`<a xmlns="urn:xmpp:sm:3" h="1"/>`, str(client.sent()[1]!)]);
    expect(isCloseTag(client.sent()[1]!)).toBe(true);
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['closed']);
    expect(await offlineBodies(host)).toEqual(['2', '3']);
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='3'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:3" h="1"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(await offlineBodies(host)).toEqual(['2', '3']);
  });

  it('a deliberate server close (idle close): <a h/> and <r/> in onClosing, the peer\'s <a/> is processed until its close tag, the rest spilled in the end', async () => {
    const host = await smHost(quiet);
    const { client } = await enabledClient(host);
    await client.receive(`<presence/>`);
    for (const b of ['1', '2', '3']) await deliver(host, 'alice@localhost/r1', b);
    client.clearSent();
    const closing = client.stream.close({ endSession: true, reason: 'idle' });
    await host.time.flush();
    expect(client.sent().map(str)).toEqual([`<a xmlns="urn:xmpp:sm:3" h="1"/>`, `<r xmlns="urn:xmpp:sm:3"/>`, str(client.sent()[2]!)]);
    expect(isCloseTag(client.sent()[2]!)).toBe(true);
    await deliver(host, 'alice@localhost/r1', '4'); // arrives while closing: held, not lost
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    expect(await host.offline.count('alice@localhost')).toBe(0); // nothing spilled before onClosed
    await client.closeFromPeer();
    await closing;
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
    expect(await offlineBodies(host)).toEqual(['3', '4']);
  });

  it('during our close, an ack covering a stanza that was held (never written) is too high', async () => {
    const host = await smHost(quiet);
    const { client } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    void client.stream.close({ endSession: true, reason: 'idle' });
    await host.time.flush();
    await deliver(host, 'alice@localhost/r1', '2'); // refused by the closing stream: held
    client.clearSent();
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='2'/>`);
    await client.closeFromPeer();
    // the stream was already closing (nothing more can be written), but the ack was refused:
    expect(await offlineBodies(host)).toEqual(['1', '2']);
    expect(await host.metrics.expose()).toContain('strand_sm_handled_count_too_high_total 1');
  });

  it('onClosing sends no <r/> when nothing is unacked', async () => {
    const host = await smHost(quiet);
    const { client } = await enabledClient(host);
    client.clearSent();
    void client.stream.close({ endSession: true, reason: 'kick' });
    await host.time.flush();
    expect(client.sent().map(str).slice(0, 1)).toEqual([`<a xmlns="urn:xmpp:sm:3" h="0"/>`]);
    expect(isCloseTag(client.sent()[1]!)).toBe(true);
  });

  it('kick/shutdown through SessionRegistry.end: final ack, then spill once the handshake is over (timeout)', async () => {
    const host = await smHost(quiet);
    const { client } = await enabledClient(host);
    for (const b of ['1', '2']) await deliver(host, 'alice@localhost/r1', b);
    client.clearSent();
    await host.sessions.end(client.session!, 'shutdown');
    expect(client.sent().map((e) => e.name)).toEqual(['a', 'r', 'stream:error', '/stream:stream']);
    expect(client.sent()[2]!.getChild('system-shutdown')).toBeDefined();
    await host.time.advance(4_999);
    expect(await host.offline.count('alice@localhost')).toBe(0);
    await host.time.advance(1); // close handshake timeout (5 s)
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['shutdown']);
    expect(await offlineBodies(host)).toEqual(['1', '2']);
  });

  it('a close that does not end the session (endSession: false, e.g. a plugin fault) hibernates it', async () => {
    const host = await smHost(quiet);
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    const closing = client.stream.close({ error: { condition: 'internal-server-error' }, endSession: false, reason: 'plugin-fault' });
    await client.closeFromPeer();
    await closing;
    expect(host.sessions.endedSessions).toEqual([]);
    expect(host.sessions.getSync('alice@localhost/r1')!.state).toBe('detached');
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(c2.sent()[0]!.name).toBe('resumed');
    expect(bodies(c2.sent())).toEqual(['1']);
  });

  it('a transport error hibernates; closing the hibernated session later does not spill twice', async () => {
    const host = await smHost({ ...quiet, resumeTimeout: 30 });
    const { client } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    await host.time.advance(30_000);
    await host.time.advance(30_000);
    expect(await offlineBodies(host)).toEqual(['1']);
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['expired']);
  });
});
