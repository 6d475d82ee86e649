/**
 * Hardening: XEP-0198 resumption security over real sockets, byte for byte. Another user's SM-ID,
 * a guessed, truncated or oversized ID, and the ID of another user's ended session all get exactly
 * the bytes an unknown ID gets; resuming before authentication or on a bound stream fails; an ID
 * whose session ended cleanly gets `<failed h/>` for its owner only; the same user resuming while
 * the old stream is alive is a takeover: it succeeds and the old stream gets `<conflict/>`.
 */
import { describe, expect, it } from '@jest/globals';
import { OfflineStore, type OfflineStore as OfflineStoreT } from '@strand/core';
import sm, { StreamManagerImpl } from '@strand/stream-management';
import type { RunningServer } from '../helpers/server.js';
import { streamErrorAtEnd } from '../helpers/wire-client.js';
import { after, authenticate, countStanzas, delay, enableSm, header, Resources, routeMessage, SM3, until, type WireClient } from './helpers.js';

const res = new Resources();
const NOT_FOUND = `<failed xmlns="${SM3}"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`;

async function smServer(): Promise<RunningServer> {
  return res.server(
    { plugins: { '@strand/stream-management': { ackRequestEvery: 1000, ackRequestQuietMs: 60_000 } } },
    { plugins: { '@strand/stream-management': sm } },
  );
}

/** Everything the server writes in answer to one `<resume/>` on a fresh authenticated stream of `user`. */
async function resumeReply(srv: RunningServer, user: string, previd: string, h = 0): Promise<{ reply: string; client: WireClient }> {
  const c = await res.connect(srv.ports.c2s);
  await authenticate(c, user);
  const mark = c.text.length;
  await c.send(`<resume xmlns='${SM3}' previd='${previd}' h='${h}'/>`);
  await after(c, mark, /<\/failed>|<resumed [^>]*\/>/);
  await delay(50); // anything else the server might add
  return { reply: c.text.slice(mark), client: c };
}

async function aliceWithSm(srv: RunningServer, resource = 'phone'): Promise<{ c: WireClient; id: string; mark: number }> {
  const c = await res.connect(srv.ports.c2s);
  await c.login('alice', 'secret', resource);
  const { id, mark } = await enableSm(c);
  return { c, id, mark };
}

describe('resumption security (XEP-0198 §4, over sockets)', () => {
  it("another user's SM-ID, guessed, truncated, oversized and ended-session IDs all get the bytes of an unknown ID", async () => {
    const srv = await smServer();
    const live = await aliceWithSm(srv, 'live');
    live.c.destroy(); // hibernating
    const ended = await aliceWithSm(srv, 'ended');
    await routeMessage(srv, 'carol@localhost/x', 'alice@localhost/ended', 'one');
    await ended.c.waitFor(/<body>one<\/body>/);
    ended.c.sendCloseAndEnd(); // clean close: the session ends, its h is retained for alice
    await ended.c.waitClosed();
    const manager = srv.server.container.get(StreamManagerImpl);
    await until(() => manager.hibernatingCount === 1, 5000, 'hibernation');

    const unknown = (await resumeReply(srv, 'bob', 'AAAAAAAAAAAAAAAAAAAAAAAA')).reply;
    expect(unknown).toBe(NOT_FOUND);
    const attempts: Record<string, string> = {
      "alice's live SM-ID": live.id,
      "alice's ended session's SM-ID": ended.id,
      'a truncated SM-ID': live.id.slice(0, 12),
      'an SM-ID with one character changed': live.id.slice(0, -1) + (live.id.endsWith('A') ? 'B' : 'A'),
      'a random guess': 'R4nd0mGu3ssR4nd0mGu3ss12',
      'an oversized ID (5000 characters)': 'x'.repeat(5000),
      'an ID with XML-escaped characters': 'a&amp;b&lt;c',
    };
    for (const [what, previd] of Object.entries(attempts)) {
      const { reply, client } = await resumeReply(srv, 'bob', previd, 1);
      expect({ what, reply }).toEqual({ what, reply: unknown });
      expect(client.closedAt).toBeUndefined(); // bob may still bind
    }
    // The owner learns the final h of her ended session; the hibernating one still resumes.
    expect((await resumeReply(srv, 'alice', ended.id)).reply).toBe(
      `<failed xmlns="${SM3}" h="0"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    const { reply } = await resumeReply(srv, 'alice', live.id);
    expect(reply).toMatch(new RegExp(`^<resumed xmlns="${SM3}" h="0" previd="${live.id}"/>`));
  });

  it('before authentication and on a bound stream: <failed><unexpected-request/>, and the session is untouched', async () => {
    const srv = await smServer();
    const alice = await aliceWithSm(srv);
    alice.c.destroy();
    const anon = await res.connect(srv.ports.c2s);
    await anon.send(header());
    await anon.waitFor(/<\/stream:features>/);
    let mark = anon.text.length;
    await anon.send(`<resume xmlns='${SM3}' previd='${alice.id}' h='0'/>`);
    expect(await after(anon, mark, /<\/failed>/)).toBe(
      `<failed xmlns="${SM3}"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    const bound = await res.connect(srv.ports.c2s);
    await bound.login('alice', 'secret', 'other');
    mark = bound.text.length;
    await bound.send(`<resume xmlns='${SM3}' previd='${alice.id}' h='0'/>`);
    expect(await after(bound, mark, /<\/failed>/)).toBe(
      `<failed xmlns="${SM3}"><unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`,
    );
    expect((await resumeReply(srv, 'alice', alice.id)).reply).toMatch(/^<resumed /);
  });

  it('an SM-ID whose session ended cleanly: <failed h/> for the owner, item-not-found like any unknown ID for others; acked messages are not stored again', async () => {
    const srv = await smServer();
    const alice = await aliceWithSm(srv);
    await routeMessage(srv, 'bob@localhost/x', 'alice@localhost/phone', 'before-close');
    await alice.c.waitFor(/before-close/);
    const h = countStanzas(alice.c.text.slice(alice.mark));
    await alice.c.send(`<a xmlns='${SM3}' h='${h}'/>`);
    alice.c.sendCloseAndEnd();
    await alice.c.waitClosed();
    const { reply } = await resumeReply(srv, 'alice', alice.id, h);
    expect(reply).toBe(`<failed xmlns="${SM3}" h="0"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>`);
    expect((await resumeReply(srv, 'bob', alice.id)).reply).toBe(NOT_FOUND);
    expect(await srv.server.container.get<OfflineStoreT>(OfflineStore).count('alice@localhost')).toBe(0);
  });

  it('the same user resuming while the old stream is alive takes over: <resumed/>, the old stream gets <conflict/>; no message lost or doubled', async () => {
    const srv = await smServer();
    const old = await aliceWithSm(srv);
    for (const b of ['m1', 'm2']) await routeMessage(srv, 'bob@localhost/x', 'alice@localhost/phone', b);
    await old.c.waitFor(/<body>m2<\/body>/);
    await old.c.send(`<a xmlns='${SM3}' h='1'/>`); // m1 acknowledged, m2 not
    await delay(50);
    const takeover = await res.connect(srv.ports.c2s);
    await authenticate(takeover, 'alice');
    const mark = takeover.text.length;
    await takeover.send(`<resume xmlns='${SM3}' previd='${old.id}' h='1'/>`);
    const text = await after(takeover, mark, /<body>m2<\/body><\/message>/);
    expect(text).toMatch(new RegExp(`^<resumed xmlns="${SM3}" h="0" previd="${old.id}"/><message[^>]*><body>m2</body></message>`));
    await old.c.waitFor(streamErrorAtEnd('conflict'));
    expect(old.c.text).toContain('Session resumed on another stream');
    await routeMessage(srv, 'bob@localhost/x', 'alice@localhost/phone', 'm3');
    await takeover.waitFor(/<body>m3<\/body>/);
    const all = old.c.text + takeover.text.slice(mark);
    expect(all.match(/<body>m1<\/body>/g)).toHaveLength(1);
    expect(takeover.text.slice(mark).match(/<body>m2<\/body>/g)).toHaveLength(1);
    expect(all.match(/<body>m3<\/body>/g)).toHaveLength(1);
    expect(old.c.text.slice(old.c.text.indexOf('<stream:error>'))).not.toContain('<message');
  });
});
