/**
 * Hardening: slowloris. A peer trickling bytes keeps `lastReadAt` fresh, so read timeouts never
 * fire; the host closes such streams with `timeouts.preAuth` (before authentication:
 * `connection-timeout`) and `timeouts.stanza` (an element or header started but not completed in
 * time: `policy-violation`). Fast configs (seconds) keep this file short; the host checks once a
 * second, so a close comes between the limit and one second later.
 */
import { describe, expect, it } from '@jest/globals';
import sm, { StreamManagerImpl } from '@strand/stream-management';
import { streamErrorAtEnd } from '../helpers/wire-client.js';
import { after, authenticate, delay, enableSm, header, Resources, SM3, until, type WireClient } from './helpers.js';

const res = new Resources();

/** Sends `text` one byte every `everyMs` until it is sent or the socket closes. */
async function trickle(c: WireClient, text: string, everyMs: number): Promise<void> {
  for (const ch of text) {
    if (c.closedAt !== undefined || c.finAt !== undefined) return;
    await c.send(ch);
    await delay(everyMs);
  }
}

describe('slowloris', () => {
  it('an authenticated client trickling one byte at a time inside a stanza is closed with policy-violation after timeouts.stanza', async () => {
    const srv = await res.server({ timeouts: { preAuth: 60, closeHandshake: 1, read: 300, stanza: 2 } });
    const c = await res.connect(srv.ports.c2s);
    await c.login('alice', 'secret', 'slow');
    const started = Date.now();
    const body = `<message to='bob@localhost' type='chat'><body>${'z'.repeat(200)}</body></message>`;
    void trickle(c, body, 100);
    await c.waitFor(streamErrorAtEnd('policy-violation'), 6000);
    const elapsed = Date.now() - started;
    expect(c.text).toContain('an element was not completed within 2 s');
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(4500);
    await c.waitClosed(4000);
  });

  it('a stream header that never ends is closed by the pre-auth timeout (connection-timeout)', async () => {
    const srv = await res.server({ timeouts: { preAuth: 2, closeHandshake: 1, read: 300, stanza: 0 } });
    const c = await res.connect(srv.ports.c2s);
    void trickle(c, header().slice(0, -1) + ' '.repeat(100), 100);
    await c.waitFor(streamErrorAtEnd('connection-timeout'), 6000);
    expect(c.text).toContain('authentication took too long');
    await c.waitClosed(4000);
  });

  it('after authentication, a restart header that never ends is closed by the stanza timeout', async () => {
    const srv = await res.server({ timeouts: { preAuth: 60, closeHandshake: 1, read: 300, stanza: 2 } });
    const c = await res.connect(srv.ports.c2s);
    await c.send(header());
    await c.waitFor(/<\/stream:features>/);
    await c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from('\0alice\0secret').toString('base64')}</auth>`);
    await c.waitFor(/<success/);
    const started = Date.now();
    void trickle(c, header().slice(0, -1) + ' '.repeat(100), 100);
    await c.waitFor(streamErrorAtEnd('policy-violation'), 6000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });

  it('a busy client whose reads end mid-stanza, and a slow stanza completed in time, are not closed', async () => {
    const srv = await res.server({ timeouts: { preAuth: 60, closeHandshake: 1, read: 300, stanza: 2 } });
    const bob = await res.connect(srv.ports.c2s);
    await bob.login('bob', 'secret', 'b');
    const c = await res.connect(srv.ports.c2s);
    await c.login('alice', 'secret', 'busy');
    // 4.5 s of traffic where every write ends in the middle of the next stanza.
    const msg = (i: number) => `<message to='bob@localhost/b' type='chat' id='m${i}'><body>${i}</body></message>`;
    await c.send(msg(0).slice(0, 20));
    for (let i = 0; i < 15; i++) {
      await c.send(msg(i).slice(20) + msg(i + 1).slice(0, 20));
      await delay(300);
    }
    await c.send(msg(15).slice(20));
    // One stanza trickled over 1.5 s (below the 2 s limit).
    await trickle(c, `<message to='bob@localhost/b' type='chat' id='slow'><body>x</body></message>`, 1500 / 70);
    await bob.waitFor(/id="slow"/, 5000);
    for (let i = 0; i <= 15; i++) expect(bob.text).toContain(`id="m${i}"`);
    expect(c.text).not.toContain('<stream:error>');
    expect(c.closedAt).toBeUndefined();
  });

  it('the stanza timeout is a loss of transport for stream management: the session hibernates and resumes', async () => {
    const srv = await res.server(
      { timeouts: { preAuth: 60, closeHandshake: 1, read: 300, stanza: 2 }, plugins: { '@strand/stream-management': { ackRequestQuietMs: 60_000 } } },
      { plugins: { '@strand/stream-management': sm } },
    );
    const c = await res.connect(srv.ports.c2s);
    await c.login('alice', 'secret', 'sm');
    const { id } = await enableSm(c);
    void trickle(c, `<message to='bob@localhost' type='chat'><body>${'z'.repeat(100)}</body></message>`, 100);
    await c.waitFor(streamErrorAtEnd('policy-violation'), 6000);
    const manager = srv.server.container.get(StreamManagerImpl);
    await until(() => manager.hibernatingCount === 1, 5000, 'hibernation');
    const r = await res.connect(srv.ports.c2s);
    await authenticate(r, 'alice');
    const mark = r.text.length;
    await r.send(`<resume xmlns='${SM3}' previd='${id}' h='0'/>`);
    expect(await after(r, mark, /<resumed [^>]*\/>/)).toContain(`previd="${id}"`);
  });
});
