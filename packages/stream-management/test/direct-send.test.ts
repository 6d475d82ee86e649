/**
 * The outbound path without the lock (`OutboundContext.writeNow`): taken only when the session is
 * attached and nothing holds or waits for the session's lock; sends made while the lock is held
 * queue behind it and reach the wire, and the unacked queue, in call order.
 */
import { describe, expect, it } from '@jest/globals';
import { xml } from '@strand/core';
import { bodies, enabledClient, smHost, smState } from './helpers.js';

const msg = (body: string) => xml('message', { from: 'bob@localhost/b', to: 'alice@localhost/r1', type: 'chat', id: body }, xml('body', {}, body));

describe('stream management: direct (lock-free) sends', () => {
  it('an uncontended send is written and recorded in the same step', async () => {
    const host = await smHost({ ackRequestEvery: 1000 });
    const { client } = await enabledClient(host);
    const session = client.session!;
    const state = smState(client);
    const p = session.send(msg('one'));
    // Nothing awaited yet: already on the wire and in the queue, with its sequence number.
    expect(bodies(client.sentStanzas())).toEqual(['one']);
    expect(state.queue.length).toBe(1);
    expect(state.writtenSeq).toBe(1);
    expect(state.lock.locked).toBe(false);
    await expect(p).resolves.toBe('written');
  });

  it('sends made while the lock is held wait for it and keep their order, before and after later sends', async () => {
    const host = await smHost({ ackRequestEvery: 1000 });
    const { client } = await enabledClient(host);
    const session = client.session!;
    const state = smState(client);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = state.lock.run(() => gate); // e.g. a retransmission in progress
    const a = session.send(msg('a'));
    const b = session.send(msg('b'));
    expect(bodies(client.sentStanzas())).toEqual([]);
    release();
    await held;
    // A send after the lock was released but while a and b may still be queued on it must not
    // overtake them.
    const c = session.send(msg('c'));
    await Promise.all([a, b, c]);
    expect(bodies(client.sentStanzas())).toEqual(['a', 'b', 'c']);
    expect(state.queue.toArray().map((q) => q.stanza.getChildText('body'))).toEqual(['a', 'b', 'c']);
    expect(state.writtenSeq).toBe(3);
  });

  it('a stanza refused by a closing stream is kept for resumption, not lost', async () => {
    const host = await smHost({ ackRequestEvery: 1000 });
    const { client } = await enabledClient(host);
    const session = client.session!;
    const state = smState(client);
    await session.send(msg('before'));
    await client.dropTransport();
    await expect(session.send(msg('while-away'))).resolves.toBe('held');
    expect(state.queue.toArray().map((q) => q.stanza.getChildText('body'))).toEqual(['before', 'while-away']);
    expect(state.writtenSeq).toBe(1);
  });
});
