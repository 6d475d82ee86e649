import { describe, expect, it } from '@jest/globals';
import { MemoryOfflineStoreImpl, xml } from '@strand/core';
import { isCloseTag } from '@strand/testing';
import { bodies, deliver, enabledClient, next, reconnect, smHost, smState, str } from './helpers.js';

const limits = { ackRequestEvery: 1000, ackRequestQuietMs: 60_000, maxQueue: 10, hardQueueLimit: 20 };
const offlineBodies = async (host: Awaited<ReturnType<typeof smHost>>) =>
  (await host.offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'));
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));

describe('queue limits', () => {
  it('attached: past hardQueueLimit the session ends with resource-constraint; every message is spilled, none dropped', async () => {
    const host = await smHost(limits);
    const { client } = await enabledClient(host);
    client.clearSent();
    for (let i = 1; i <= 21; i++) await deliver(host, 'alice@localhost/r1', String(i));
    const names = client.sent().map((e) => e.name);
    expect(names.filter((n) => n === 'r')).toHaveLength(1); // at 11 (> maxQueue)
    expect(names.slice(-4)).toEqual(['message', 'a', 'stream:error', '/stream:stream']);
    expect(client.sent().at(-2)!.getChild('resource-constraint')).toBeDefined();
    await deliver(host, 'alice@localhost/r1', '22'); // after the close started: held
    await client.closeFromPeer();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
    expect(await offlineBodies(host)).toEqual(range(1, 22));
  });

  it('hibernating: past maxQueue messages go to offline storage; after a resume the queue is retransmitted, then they are flushed (and leave storage)', async () => {
    const host = await smHost(limits);
    const { client, id } = await enabledClient(host);
    await deliver(host, 'alice@localhost/r1', '1');
    await client.dropTransport();
    for (let i = 2; i <= 14; i++) {
      await host.time.advance(100);
      await deliver(host, 'alice@localhost/r1', String(i));
    }
    // presence beyond maxQueue is held (it cannot be stored offline)
    await host.router.route(xml('presence', { from: 'bob@localhost/b', to: 'alice@localhost/r1' }));
    expect(smState(client).queue.length).toBe(11);
    expect(await offlineBodies(host)).toEqual(range(11, 14));
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    await host.time.flush();
    const out = c2.sent();
    expect(out[0]!.name).toBe('resumed');
    expect(out.map((e) => (e.name === 'message' ? e.getChildText('body') : e.name))).toEqual([
      'resumed', ...range(1, 10), 'presence', 'r', ...range(11, 14),
    ]);
    // flushed ones carry their original time
    const eleven = out.find((e) => e.getChildText('body') === '11')!;
    expect(eleven.getChild('delay', 'urn:xmpp:delay')!.attrs.stamp).toBe(new Date(host.time.now() - 300).toISOString());
    expect(await host.offline.count('alice@localhost')).toBe(0);
    expect(smState(c2).queue.length).toBe(15);
    expect(await host.metrics.expose()).toMatch(/strand_sm_offline_flushed_total 4/);
  });

  it('hibernating: messages the storage refuses bounce to the sender', async () => {
    const host = await smHost(limits);
    host.get(MemoryOfflineStoreImpl).maxPerUser = 2;
    const { client } = await enabledClient(host);
    await client.dropTransport();
    for (let i = 1; i <= 13; i++) await deliver(host, 'alice@localhost/r1', String(i));
    expect(await offlineBodies(host)).toEqual(['11', '12']);
    const bounced = host.routed.filter((r) => r.stanza.attrs.type === 'error').map((r) => str(r.stanza));
    expect(bounced).toEqual([
      `<message type="error" id="13" to="bob@localhost/b" from="alice@localhost/r1"><body>13</body><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
    ]);
  });

  it('hibernating: past hardQueueLimit the session ends and everything is spilled', async () => {
    const host = await smHost(limits);
    const { client } = await enabledClient(host);
    await client.dropTransport();
    for (let i = 1; i <= 21; i++) await host.router.route(xml('presence', { from: `u${i}@localhost/x`, to: 'alice@localhost/r1' }));
    await host.time.flush();
    expect(host.sessions.endedSessions.map((e) => e.reason)).toEqual(['server-close']);
  });

  it('expiry after offline overflow: each message is stored exactly once, in original-time order', async () => {
    const host = await smHost({ ...limits, resumeTimeout: 60 });
    const { client, id } = await enabledClient(host);
    await client.dropTransport();
    for (let i = 1; i <= 14; i++) {
      await host.time.advance(10);
      await deliver(host, 'alice@localhost/r1', String(i));
    }
    await host.time.advance(60_000);
    expect(await offlineBodies(host)).toEqual(range(1, 14));
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    expect(await next(c2)).toBe(`<failed xmlns="urn:xmpp:sm:3" h="0"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect(bodies(c2.sentStanzas())).toEqual([]);
    void isCloseTag;
  });
});
