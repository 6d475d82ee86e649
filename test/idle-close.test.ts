/**
 * `@strand/idle-close` acceptance over real sockets, byte by byte (XEP-0190 / RFC 6120 §4.4):
 *
 * (a) a client idle past `c2sIdle` receives exactly `</stream:stream>` — no stream error — and
 *     afterwards not one byte; a message it sends after the server's close tag and before its own
 *     is delivered; its close tag completes the handshake;
 * (b) stanzas routed to the closing session never vanish: without stream management, messages go
 *     to offline storage (the only resource) and iqs bounce, nothing is written after the close tag;
 *     a peer that never answers is cut at `closeHandshake`;
 * (c) whitespace keepalives and XEP-0199 ping traffic are not activity, other stanzas are;
 * (d) the README's override module (host config `overrides:`) exempts accounts from the policy.
 *
 * Idle limit 1 s (sweep every 250 ms), `closeHandshake` 1 s.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { OfflineStore, type OfflineStore as OfflineStoreT } from '@strand/core';
import idleClose from '@strand/idle-close';
import { startServer, testConfig, type RunningServer } from './helpers/server.js';
import { CLOSE_TAG, WireClient } from './helpers/wire-client.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const IDLE_S = 1;
const SWEEP_MS = 250;

describe('@strand/idle-close over real sockets', () => {
  const servers: RunningServer[] = [];
  const wires: WireClient[] = [];
  const clients: TestXmpp[] = [];

  afterEach(async () => {
    for (const w of wires.splice(0)) w.destroy();
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  async function server(): Promise<RunningServer> {
    const srv = await startServer(
      {
        timeouts: { preAuth: 60, closeHandshake: 1, read: 300 },
        plugins: { '@strand/idle-close': { c2sIdle: IDLE_S } },
        overrides: [join(process.cwd(), 'test', 'fixtures', 'idle-close-exempt.ts')],
        accounts: [...testConfig().accounts, { username: 'observer', password: 'secret' }],
      },
      { plugins: { '@strand/idle-close': idleClose } },
    );
    servers.push(srv);
    return srv;
  }
  async function wire(srv: RunningServer): Promise<WireClient> {
    const w = await WireClient.connect(srv.ports.c2s);
    wires.push(w);
    return w;
  }
  /** An @xmpp/client that the override module exempts from the idle policy. */
  async function observer(srv: RunningServer): Promise<TestXmpp> {
    const c = await startClient({ port: srv.ports.c2s, username: 'observer', resource: 'desk' });
    clients.push(c);
    return c;
  }
  /** Offset just past the server's close tag, and when that byte arrived. */
  function closeTagOf(w: WireClient): { end: number; at: number } {
    const end = w.text.indexOf(CLOSE_TAG) + CLOSE_TAG.length;
    expect(end).toBeGreaterThanOrEqual(CLOSE_TAG.length);
    return { end, at: w.arrivalOf(end) };
  }
  /** Everything the server wrote after the bind result. */
  function afterBind(w: WireClient): string {
    const jid = w.text.indexOf('<jid>');
    const iqEnd = w.text.indexOf('</iq>', jid) + '</iq>'.length;
    return w.text.slice(iqEnd);
  }
  async function metrics(srv: RunningServer): Promise<string> {
    return (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
  }

  it('(a) an idle client gets </stream:stream> and then not one byte; its late message is delivered', async () => {
    const srv = await server();
    const obs = await observer(srv);
    const w = await wire(srv);
    expect(await w.login('alice', 'secret', 'raw')).toBe('alice@localhost/raw');
    const boundAt = Date.now();

    await w.waitFor(CLOSE_TAG, 4000);
    const tag = closeTagOf(w);
    // Closed between the limit and the limit plus one sweep (plus scheduling slack).
    expect(tag.at - boundAt).toBeGreaterThanOrEqual(IDLE_S * 1000 - 50);
    expect(tag.at - boundAt).toBeLessThan(IDLE_S * 1000 + SWEEP_MS + 400);
    // The plain handshake: exactly the close tag after the bind result — no <stream:error/>.
    expect(afterBind(w)).toBe(CLOSE_TAG);

    // Our last message, after the server's close tag and before ours, is still processed.
    await w.send(`<message to='observer@localhost/desk' type='chat' id='late'><body>sent after the close tag</body></message>`);
    const got = await obs.waitFor((el) => el.is('message') && el.attrs.id === 'late', 3000);
    expect(got.getChildText('body')).toBe('sent after the close tag');
    expect(got.attrs.from).toBe('alice@localhost/raw');

    // The server waits for our close tag, silently.
    await sleep(300);
    expect(w.text.length).toBe(tag.end);
    expect(w.finAt).toBeUndefined();

    const sentAt = Date.now();
    w.sendCloseAndEnd();
    await w.waitClosed(2000);
    expect(w.finAt! - sentAt).toBeLessThan(500); // our close tag completed the handshake
    expect(w.text.length).toBe(tag.end); // not one byte after the close tag
    expect(w.error).toBeUndefined();

    const m = await metrics(srv);
    expect(m).toContain('strand_idle_close_closes_total{kind="c2s",reason="idle"} 1');
    expect(m).toContain('strand_idle_close_handshakes_total{reason="idle",result="completed"} 1');
    expect(m).not.toContain('result="timed-out"');
    expect(obs.xmpp.status).toBe('online'); // the exempt observer was never closed
  });

  it('(b) stanzas routed to the closing session are re-routed, never written; a silent peer is cut at closeHandshake', async () => {
    const srv = await server();
    const obs = await observer(srv);
    const w = await wire(srv);
    await w.login('alice', 'secret', 'raw');
    await w.waitFor(CLOSE_TAG, 4000);
    const tag = closeTagOf(w);

    // Sent to the closing session: a chat to the full JID, a normal message to the bare JID, an iq.
    await obs.xmpp.send(xml('message', { to: 'alice@localhost/raw', type: 'chat', id: 'full' }, xml('body', {}, 'to the full JID')));
    await obs.xmpp.send(xml('message', { to: 'alice@localhost', id: 'bare' }, xml('body', {}, 'to the bare JID')));
    await obs.xmpp.send(xml('iq', { to: 'alice@localhost/raw', type: 'get', id: 'q1' }, xml('query', { xmlns: 'urn:example:q' })));
    const bounce = await obs.waitFor((el) => el.is('iq') && el.attrs.id === 'q1', 3000);
    expect(bounce.attrs.type).toBe('error');
    expect(bounce.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();

    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    const stored = await offline.list('alice@localhost');
    expect(stored.map((m) => m.stanza.attrs.id)).toEqual(['full', 'bare']);
    expect(stored.map((m) => m.stanza.getChildText('body'))).toEqual(['to the full JID', 'to the bare JID']);

    // We never answer: the server cuts the socket closeHandshake (1 s) after its close tag.
    await w.waitClosed(3000);
    const cutAfter = w.closedAt! - tag.at;
    expect(cutAfter).toBeGreaterThanOrEqual(900);
    expect(cutAfter).toBeLessThan(1600);
    expect(w.text.length).toBe(tag.end);
    expect(afterBind(w)).toBe(CLOSE_TAG);
    expect(srv.server.streamCount).toBe(1); // only the observer

    const m = await metrics(srv);
    expect(m).toContain('strand_idle_close_handshakes_total{reason="idle",result="timed-out"} 1');
  });

  it('(c) whitespace keepalives and XEP-0199 ping traffic do not keep a stream open; stanzas do', async () => {
    const srv = await server();
    const spaces = await wire(srv);
    const pinger = await wire(srv);
    const talker = await wire(srv);
    await spaces.login('alice', 'secret', 'spaces');
    await pinger.login('carol', 'secret', 'pinger');
    await talker.login('bob', 'secret', 'talker');
    const start = Date.now();
    let n = 0;
    const keepalive = setInterval(() => void spaces.send(' '), 150);
    // Client pings, and answers to (pretend) server pings: liveness, not use.
    const ping = setInterval(() => {
      n++;
      void pinger.send(
        n % 2
          ? `<iq type='get' id='p${n}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`
          : `<iq type='result' id='s${n}' to='localhost'/>`,
      );
    }, 200);
    const talk = setInterval(() => void talker.send(`<presence/>`), 300);
    try {
      await Promise.all([spaces.waitFor(CLOSE_TAG, 4000), pinger.waitFor(CLOSE_TAG, 4000)]);
      expect(Date.now() - start).toBeLessThan(IDLE_S * 1000 + SWEEP_MS + 400);
      expect(afterBind(spaces)).toBe(CLOSE_TAG);
      // The pings were answered; then the close tag, no stream error.
      expect(pinger.text).toContain(`<iq type="result" id="p1" to="carol@localhost/pinger" from="localhost"/>`);
      expect(pinger.text).toMatch(/<iq type="result" id="p\d+"[^>]*\/><\/stream:stream>$/);
      expect(pinger.text).not.toContain('<stream:error');
      await sleep(1500); // > limit + sweep: the talker is still open
      expect(talker.text).not.toContain(CLOSE_TAG);
    } finally {
      clearInterval(keepalive);
      clearInterval(ping);
      clearInterval(talk);
    }
    // Silent from now on: closed within the limit plus one sweep.
    const silentAt = Date.now();
    await talker.waitFor(CLOSE_TAG, 4000);
    expect(Date.now() - silentAt).toBeLessThan(IDLE_S * 1000 + SWEEP_MS + 400);
    expect(talker.text).not.toContain('<stream:error');
    for (const w of [spaces, pinger, talker]) w.sendCloseAndEnd();
    await Promise.all([spaces.waitClosed(2000), pinger.waitClosed(2000), talker.waitClosed(2000)]);
  });
});
