/**
 * The resumption acceptance rules over real sockets, byte-level (raw client): another user cannot
 * use alice's SM-ID and learns nothing; alice still resumes; after expiry alice gets `<failed h/>`
 * and the unacked messages are in offline storage exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { xml } from '@xmpp/client';
import { OfflineStore, Router, type OfflineStore as OfflineStoreT, type Router as RouterT } from '@strand/core';
import sm from '../../src/index.js';
import { startServer, type RunningServer } from '../../../../test/helpers/server.js';
import { RawClient, delay, header } from '../../../../test/helpers/raw-client.js';

/** Authenticates with SASL PLAIN (loopback) and stops at the post-auth features (no bind). */
async function authenticate(port: number, user: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  c.send(header());
  await c.waitFor(/<\/stream:features>/);
  c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0secret`).toString('base64')}</auth>`);
  await c.waitFor(/<success/);
  const mark = c.received.length;
  c.send(header());
  await c.waitFor(new RegExp(`[\\s\\S]{${mark}}[\\s\\S]*<\\/stream:features>`));
  return c;
}

/** Waits until `re` matches the text received after `offset`; returns that text. */
async function after(c: RawClient, offset: number, re: RegExp): Promise<string> {
  await c.waitFor(new RegExp(`^[\\s\\S]{${offset}}[\\s\\S]*?${re.source}`));
  return c.since(offset);
}

describe('interop (raw sockets): SM-ID ownership and <failed h/> after expiry', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(
      { plugins: { '@strand/stream-management': { ackRequestEvery: 100, ackRequestQuietMs: 60_000 } } },
      { plugins: { '@strand/stream-management': sm } },
    );
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('bob gets item-not-found for alice’s SM-ID, alice resumes, and after expiry gets <failed h/>', async () => {
    const router = srv.server.container.get<RouterT>(Router);
    const send = (body: string) =>
      router.route(xml('message', { from: 'bob@localhost/desk', to: 'alice@localhost/raw', type: 'chat', id: body }, xml('body', {}, body)));

    const alice = await RawClient.connect(srv.ports.c2s);
    await alice.login('alice', 'secret', 'raw');
    let mark = alice.received.length;
    alice.send(`<enable xmlns='urn:xmpp:sm:3' resume='true' max='1'/><presence/>`);
    const enabled = await after(alice, mark, /<enabled [^>]*\/>/);
    const id = /id="([^"]+)"/.exec(enabled)![1]!;
    expect(enabled).toContain(`<enabled xmlns="urn:xmpp:sm:3" id="${id}" resume="true" max="1"/>`);
    await send('one');
    await send('two');
    const afterEnabled = (await after(alice, mark, /<body>two<\/body><\/message>/)).split('<enabled ')[1]!;
    // the client's h: every stanza received since <enabled/> (its own presence, one, two)
    const stanzas = afterEnabled.match(/<(message|presence|iq)[\s>]/g)!.length;
    const hOne = stanzas - 1; // acknowledge everything but 'two'
    alice.send(`<a xmlns='urn:xmpp:sm:3' h='${hOne}'/>`);
    await delay(50);
    alice.destroy();
    await delay(100);

    const bob = await authenticate(srv.ports.c2s, 'bob');
    mark = bob.received.length;
    bob.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='0'/>`);
    const bobFailed = await after(bob, mark, /<\/failed>/);
    const unknown = await authenticate(srv.ports.c2s, 'bob');
    const mark2 = unknown.received.length;
    unknown.send(`<resume xmlns='urn:xmpp:sm:3' previd='AAAAAAAAAAAAAAAAAAAAAAAA' h='0'/>`);
    const unknownFailed = await after(unknown, mark2, /<\/failed>/);
    const expected = `<failed xmlns="urn:xmpp:sm:3"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;
    expect(bobFailed).toBe(expected);
    expect(unknownFailed).toBe(expected);
    bob.destroy();
    unknown.destroy();

    const alice2 = await authenticate(srv.ports.c2s, 'alice');
    mark = alice2.received.length;
    alice2.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='${hOne}'/>`);
    const resumed = await after(alice2, mark, /<body>two<\/body><\/message>/);
    expect(resumed.startsWith(`<resumed xmlns="urn:xmpp:sm:3" h="1" previd="${id}"/><message`)).toBe(true); // h: our presence
    expect(resumed).not.toContain('<body>one</body>'); // acked: never sent again
    await send('three');
    await after(alice2, mark, /<body>three<\/body>/);
    alice2.destroy(); // two and three unacked; the window is 1 s
    await delay(1500);

    const alice3 = await authenticate(srv.ports.c2s, 'alice');
    mark = alice3.received.length;
    alice3.send(`<resume xmlns='urn:xmpp:sm:3' previd='${id}' h='${hOne}'/>`);
    expect(await after(alice3, mark, /<\/failed>/)).toBe(
      `<failed xmlns="urn:xmpp:sm:3" h="1"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    alice3.destroy();
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    const stored = (await offline.list('alice@localhost')).map((m) => m.stanza.getChildText('body'));
    expect(stored).toEqual(['two', 'three']);
  }, 30_000);
});
