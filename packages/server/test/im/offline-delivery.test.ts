/** Offline messages (RFC 6121 §8.5.2.2.1 storage by the router, XEP-0160 delivery, XEP-0203 stamps). */
import { beforeEach, describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable } from 'inversify';
import { OutboundStanzaInterceptor, xml, type Element, type OutboundContext, type SendResult } from '@strand/core';
import { errorCondition, ImHarness } from './harness.js';

let h: ImHarness;
beforeEach(() => {
  h = new ImHarness();
});

const messages = (list: Element[]) => list.filter((s) => s.name === 'message');

describe('offline message delivery', () => {
  it('delivers stored messages on initial presence, in order, each with a delay stamp, and empties the store', async () => {
    const alice = await h.online('alice');
    const t0 = h.now;
    for (const [i, body] of ['one', 'two', 'three'].entries()) {
      h.now = t0 + i * 1000;
      await alice.send(`<message type='chat' to='bob@localhost' id='m${i}'><body>${body}</body></message>`);
    }
    expect(await h.offline.count('bob@localhost')).toBe(3);
    h.now = t0 + 60_000;
    const bob = await h.login('bob');
    await bob.rosterGet();
    expect(messages(bob.received)).toHaveLength(0); // not before available presence
    await bob.presence();
    const got = messages(bob.received);
    expect(got.map((m) => m.getChildText('body'))).toEqual(['one', 'two', 'three']);
    got.forEach((m, i) => {
      expect(m.attrs.from).toBe('alice@localhost/r1');
      const delay = m.getChild('delay', 'urn:xmpp:delay')!;
      expect(delay.attrs.from).toBe('localhost');
      expect(delay.attrs.stamp).toBe(new Date(t0 + i * 1000).toISOString());
    });
    expect(await h.offline.count('bob@localhost')).toBe(0);
  });

  it('orders by original time, not by storage order', async () => {
    await h.offline.store('bob@localhost', xml('message', { type: 'chat', to: 'bob@localhost' }, xml('body', {}, 'late')), 2000);
    await h.offline.store('bob@localhost', xml('message', { type: 'chat', to: 'bob@localhost' }, xml('body', {}, 'early')), 1000);
    const bob = await h.online('bob');
    expect(messages(bob.received).map((m) => m.getChildText('body'))).toEqual(['early', 'late']);
  });

  it('waits for a non-negative priority (XEP-0160), then delivers', async () => {
    const alice = await h.online('alice');
    await alice.send(`<message to='bob@localhost'><body>hi</body></message>`);
    const bob = await h.login('bob');
    await bob.presence('<priority>-1</priority>');
    expect(messages(bob.received)).toHaveLength(0);
    // a negative-priority resource does not get messages to the bare JID: they are stored too
    await alice.send(`<message to='bob@localhost'><body>again</body></message>`);
    expect(await h.offline.count('bob@localhost')).toBe(2);
    await bob.presence('<priority>0</priority>');
    expect(messages(bob.received).map((m) => m.getChildText('body'))).toEqual(['hi', 'again']);
    // a later presence update does not deliver anything twice
    await bob.presence('<priority>3</priority>');
    expect(messages(bob.received)).toHaveLength(2);
  });

  it('keeps messages the session refused (never loses one)', async () => {
    const alice = await h.online('alice');
    await alice.send(`<message to='bob@localhost'><body>keep me</body></message>`);
    const bob = await h.login('bob');
    bob.stream.writable = false;
    await bob.presence();
    expect(await h.offline.count('bob@localhost')).toBe(1);
    const bob2 = await h.online('bob', 'r2');
    expect(messages(bob2.received).map((m) => m.getChildText('body'))).toEqual(['keep me']);
    expect(await h.offline.count('bob@localhost')).toBe(0);
  });

  it("counts 'held' as delivered (stream management took responsibility)", async () => {
    @injectable()
    class HoldAll implements OutboundStanzaInterceptor {
      readonly priority = 1000;
      readonly held: string[] = [];
      async intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
        if (ctx.stanza.name !== 'message') return next();
        this.held.push(ctx.stanza.getChildText('body') ?? '');
        return 'held';
      }
    }
    h = new ImHarness({
      modules: [
        new ContainerModule(({ bind }) => {
          bind(HoldAll).toSelf().inSingletonScope();
          bind(OutboundStanzaInterceptor).toService(HoldAll);
        }),
      ],
    });
    const alice = await h.online('alice');
    await alice.send(`<message to='bob@localhost'><body>x</body></message>`);
    await h.online('bob');
    expect(h.container.get(HoldAll).held).toEqual(['x']);
    expect(await h.offline.count('bob@localhost')).toBe(0);
  });

  it('delivers each message exactly once when two resources come online at the same time', async () => {
    const alice = await h.online('alice');
    for (let i = 0; i < 5; i++) await alice.send(`<message to='bob@localhost'><body>${i}</body></message>`);
    const b1 = await h.login('bob', 'one');
    const b2 = await h.login('bob', 'two');
    await Promise.all([b1.presence(), b2.presence()]);
    const all = [...messages(b1.received), ...messages(b2.received)].map((m) => m.getChildText('body')).sort();
    expect(all).toEqual(['0', '1', '2', '3', '4']);
  });

  it('stores neither headline, groupchat nor error messages (router, §8.5.2.2)', async () => {
    const alice = await h.online('alice');
    alice.drain();
    await alice.send(`<message type='headline' to='bob@localhost'><body>h</body></message>`);
    await alice.send(`<message type='error' to='bob@localhost'><body>e</body></message>`);
    await alice.send(`<message type='groupchat' to='bob@localhost'><body>g</body></message>`);
    expect(await h.offline.count('bob@localhost')).toBe(0);
    const bounced = alice.drain().filter((s) => s.attrs.type === 'error');
    expect(bounced.map(errorCondition)).toEqual(['service-unavailable']); // groupchat only
  });

  it('bounces with service-unavailable when the offline quota is reached', async () => {
    h.offline.maxPerUser = 1;
    const alice = await h.online('alice');
    await alice.send(`<message to='bob@localhost' id='a'><body>1</body></message>`);
    alice.drain();
    await alice.send(`<message to='bob@localhost' id='b'><body>2</body></message>`);
    const [err] = alice.drain();
    expect(err!.attrs).toMatchObject({ type: 'error', id: 'b', from: 'bob@localhost' });
    expect(errorCondition(err!)).toBe('service-unavailable');
  });
});
