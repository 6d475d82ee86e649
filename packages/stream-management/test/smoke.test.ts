import { describe, expect, it } from '@jest/globals';
import { bodies, deliver, enabledClient, next, nothingMore, reconnect, smHost, smState } from './helpers.js';

describe('smoke', () => {
  it('enables, acks, hibernates and resumes', async () => {
    const host = await smHost();
    const { client, id } = await enabledClient(host);
    expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    await deliver(host, 'alice@localhost/r1', 'one');
    await deliver(host, 'alice@localhost/r1', 'two');
    expect(bodies(client.sentStanzas())).toEqual(['one', 'two']);
    expect(smState(client).queue.length).toBe(2);
    await client.receive(`<a xmlns='urn:xmpp:sm:3' h='1'/>`);
    expect(smState(client).queue.length).toBe(1);
    await client.dropTransport();
    const session = client.session ?? host.sessions.getSync('alice@localhost/r1');
    expect(session?.state).toBe('detached');
    await deliver(host, 'alice@localhost/r1', 'three');
    const c2 = await reconnect(host);
    await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='1'/>`);
    expect(await next(c2)).toBe(`<resumed xmlns="urn:xmpp:sm:3" h="0" previd="${id}"/>`);
    expect(bodies(c2.sentStanzas())).toEqual(['two', 'three']);
    void nothingMore;
  });
});
