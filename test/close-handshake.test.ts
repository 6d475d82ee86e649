/**
 * Foundation acceptance: the RFC 6120 §4.4 / XEP-0190 close handshake, observed byte by byte on
 * real sockets through the full server.
 *
 * (a) after the server's `</stream:stream>` not one byte follows, and the server waits for the
 *     peer's close tag before it ends TCP (pre-auth timeout → `connection-timeout`, shutdown →
 *     `system-shutdown`);
 * (b) a stanza the peer sends after the server's close tag, before its own, is still processed
 *     (resource conflict, RFC 6120 §7.7.2.2: the replaced session still delivers its last message);
 * (c) a peer that never sends its close tag is cut `closeHandshake` seconds after the server's,
 *     with no further byte.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, type TestXmpp } from './helpers/xmpp.js';
import { CLOSE_TAG, header, streamErrorAtEnd, WireClient } from './helpers/wire-client.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('close handshake at byte level', () => {
  const servers: RunningServer[] = [];
  const wires: WireClient[] = [];
  const clients: TestXmpp[] = [];

  afterEach(async () => {
    for (const w of wires.splice(0)) w.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  async function server(timeouts: { preAuth: number; closeHandshake: number; read: number }): Promise<RunningServer> {
    const srv = await startServer({ timeouts });
    servers.push(srv);
    return srv;
  }
  async function wire(port: number): Promise<WireClient> {
    const w = await WireClient.connect(port);
    wires.push(w);
    return w;
  }

  /** Offset just past the server's close tag, and when that byte arrived. */
  function closeTagOf(w: WireClient): { end: number; at: number } {
    const end = w.text.indexOf(CLOSE_TAG) + CLOSE_TAG.length;
    expect(end).toBeGreaterThanOrEqual(CLOSE_TAG.length);
    return { end, at: w.arrivalOf(end) };
  }

  it('(a) server-initiated close (pre-auth timeout): nothing after the close tag; TCP ends only after ours', async () => {
    const srv = await server({ preAuth: 1, closeHandshake: 2, read: 300 });
    const w = await wire(srv.ports.c2s);
    await w.send(header());
    await w.waitFor(CLOSE_TAG, 4000);
    const tag = closeTagOf(w);
    expect(w.text).toMatch(streamErrorAtEnd('connection-timeout'));

    // The server now waits for our close tag (up to closeHandshake = 2 s): silence, socket open.
    await sleep(1200);
    expect(w.text.length).toBe(tag.end);
    expect(w.finAt).toBeUndefined();
    expect(w.closedAt).toBeUndefined();

    const sentAt = Date.now();
    w.sendCloseAndEnd();
    await w.waitClosed(2000);
    // Our close tag completed the handshake: the server ended TCP at once, adding nothing.
    expect(w.finAt! - sentAt).toBeLessThan(500);
    expect(w.text.length).toBe(tag.end);
    expect(w.text).toMatch(streamErrorAtEnd('connection-timeout'));
    expect(w.error).toBeUndefined();
    expect(srv.server.streamCount).toBe(0);
  });

  it('(a) shutdown: <system-shutdown/>, nothing after the close tag, stop() waits for the peer\'s close tag', async () => {
    const srv = await server({ preAuth: 60, closeHandshake: 2, read: 300 });
    const w = await wire(srv.ports.c2s);
    await w.login('alice', 'secret', 'shutdown');
    let stopped = false;
    const stopping = srv.server.stop().then(() => (stopped = true));
    await w.waitFor(CLOSE_TAG, 2000);
    const tag = closeTagOf(w);
    expect(w.text).toMatch(streamErrorAtEnd('system-shutdown'));

    await sleep(500);
    expect(w.text.length).toBe(tag.end);
    expect(w.finAt).toBeUndefined();
    expect(stopped).toBe(false); // still in the handshake

    w.sendCloseAndEnd();
    await w.waitClosed(1000);
    await stopping;
    expect(w.text.length).toBe(tag.end);
    expect(w.finAt).toBeDefined();
    expect(w.error).toBeUndefined();
  });

  it('(b) a stanza sent after the server\'s close tag (before ours) is still processed', async () => {
    const srv = await server({ preAuth: 60, closeHandshake: 2, read: 300 });
    const bob = await startClient({ port: srv.ports.c2s, username: 'bob', resource: 'desk' });
    clients.push(bob);
    const first = await wire(srv.ports.c2s);
    expect(await first.login('alice', 'secret', 'r')).toBe('alice@localhost/r');

    // Same full JID again: the first session is replaced (RFC 6120 §7.7.2.2) with <conflict/>.
    const second = await wire(srv.ports.c2s);
    expect(await second.login('alice', 'secret', 'r')).toBe('alice@localhost/r');
    await first.waitFor(CLOSE_TAG, 2000);
    const tag = closeTagOf(first);
    expect(first.text).toMatch(streamErrorAtEnd('conflict'));

    // The replaced peer flushes one last message, then closes its side.
    await first.send(
      `<message to='bob@localhost/desk' type='chat' id='last'><body>sent after the server's close tag</body></message>`,
    );
    const got = await bob.waitFor((el) => el.is('message') && el.attrs.id === 'last', 3000);
    expect(got.getChildText('body')).toBe("sent after the server's close tag");
    expect(got.attrs.from).toBe('alice@localhost/r');
    first.sendCloseAndEnd();
    await first.waitClosed(2000);
    expect(first.text.length).toBe(tag.end); // no reply, no error: nothing after the close tag
    expect(first.error).toBeUndefined();

    // The replacing session is unaffected and works.
    expect(second.text).not.toContain('<stream:error');
    await second.send(`<message to='bob@localhost/desk' type='chat' id='new'><body>from the new session</body></message>`);
    const fresh = await bob.waitFor((el) => el.is('message') && el.attrs.id === 'new', 3000);
    expect(fresh.attrs.from).toBe('alice@localhost/r');
  });

  it('(c) a peer that never sends its close tag is cut closeHandshake (1 s) after the server\'s, with no further byte', async () => {
    const srv = await server({ preAuth: 1, closeHandshake: 1, read: 300 });
    const silent = await wire(srv.ports.c2s);
    await silent.send(header());
    await silent.waitFor(CLOSE_TAG, 4000);
    const tag = closeTagOf(silent);
    expect(silent.text).toMatch(streamErrorAtEnd('connection-timeout'));
    await silent.waitClosed(3000);
    const cutAfter = silent.closedAt! - tag.at;
    expect(cutAfter).toBeGreaterThanOrEqual(900);
    expect(cutAfter).toBeLessThan(3000); // generous upper bound: a loaded CI machine may be slow to fire timers
    expect(silent.text.length).toBe(tag.end);
    expect(srv.server.streamCount).toBe(0);
  });

  it('(c) a peer that keeps talking but never closes is cut at the same deadline', async () => {
    const srv = await server({ preAuth: 60, closeHandshake: 1, read: 300 });
    const chatty = await wire(srv.ports.c2s);
    await chatty.login('alice', 'secret', 'r');
    const replacer = await wire(srv.ports.c2s);
    await replacer.login('alice', 'secret', 'r');
    await chatty.waitFor(CLOSE_TAG, 2000);
    const tag = closeTagOf(chatty);
    expect(chatty.text).toMatch(streamErrorAtEnd('conflict'));
    // Whitespace keepalives and iqs do not extend the handshake.
    const talk = setInterval(() => void chatty.send(` <iq type='get' id='p' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`), 100);
    try {
      await chatty.waitClosed(3000);
    } finally {
      clearInterval(talk);
    }
    const cutAfter = chatty.closedAt! - tag.at;
    expect(cutAfter).toBeGreaterThanOrEqual(900);
    expect(cutAfter).toBeLessThan(3000); // generous upper bound: a loaded CI machine may be slow to fire timers
    // The iqs were processed, but their results may not be written after the close tag.
    expect(chatty.text.length).toBe(tag.end);
    replacer.sendCloseAndEnd();
    await replacer.waitClosed(2000);
  });
});
