/**
 * `@strand/idle-close` with a client that never answers the server's close tag: `@xmpp/client`
 * 0.14 parses `</stream:stream>`, detaches its parser and waits — it neither sends its own close
 * tag nor ends TCP. The server must still end the stream cleanly at `closeHandshake`, without an
 * error element (XEP-0190 §2.2 "Handshake Failure"), and lose nothing: stanzas routed to the
 * session during the handshake go to offline storage.
 *
 * Idle limit 2 s (sweep every 500 ms), `closeHandshake` 1 s, no stream management.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OfflineStore, Router, xml, type OfflineStore as OfflineStoreT, type Router as RouterT } from '@strand/core';
import idleClose from '@strand/idle-close';
import { startServer, type RunningServer } from './helpers/server.js';
import { startWatchedClient, type WatchedClient } from './helpers/watched-client.js';

const IDLE_S = 2;
const SWEEP_MS = 500;

describe('@strand/idle-close with @xmpp/client 0.14 (never answers our close tag)', () => {
  let srv: RunningServer;
  let alice: WatchedClient | undefined;

  beforeAll(async () => {
    srv = await startServer(
      {
        timeouts: { preAuth: 60, closeHandshake: 1, read: 300 },
        plugins: { '@strand/idle-close': { c2sIdle: IDLE_S } },
      },
      { plugins: { '@strand/idle-close': idleClose } },
    );
  });
  afterAll(async () => {
    await alice?.stop();
    await srv.stop();
  });

  it('is disconnected at the close timeout with no error element, and nothing is lost', async () => {
    const router = srv.server.container.get<RouterT>(Router);
    const offline = srv.server.container.get<OfflineStoreT>(OfflineStore);
    const send = (id: string) =>
      router.route(xml('message', { from: 'bob@localhost/desk', to: 'alice@localhost/phone', type: 'chat', id }, xml('body', {}, id)));

    alice = await startWatchedClient({ port: srv.ports.c2s, username: 'alice', resource: 'phone' });
    const onlineAt = alice.at('online')!;
    // Traffic *to* the client is not activity: it is still closed for idleness.
    await send('before-1');
    await send('before-2');

    // While the handshake runs (our close tag is out, the client stays silent), more arrives.
    const during = alice.waitStatus('close', 6000).then(async () => {
      for (const id of ['during-1', 'during-2', 'during-3']) await send(id);
    });
    const closeAt = await alice.waitStatus('close', 6000);
    expect(closeAt - onlineAt).toBeGreaterThanOrEqual(IDLE_S * 1000 - 100);
    expect(closeAt - onlineAt).toBeLessThan(IDLE_S * 1000 + SWEEP_MS + 500);

    const disconnectAt = await alice.waitStatus('disconnect', 4000);
    await during;
    const cutAfter = disconnectAt - closeAt;
    expect(cutAfter).toBeGreaterThanOrEqual(850);
    expect(cutAfter).toBeLessThan(1700);

    // Byte level: the close tag is the last thing the server wrote; no <stream:error/> at all.
    expect(alice.input.endsWith('</stream:stream>')).toBe(true);
    expect(alice.input.indexOf('</stream:stream>')).toBe(alice.input.length - '</stream:stream>'.length);
    expect(alice.input).not.toContain('stream:error');
    expect(alice.errors).toEqual([]); // a clean end for the client too: no stream error, no socket error

    // Nothing lost: delivered before the close, stored offline during the handshake.
    expect(alice.inbox.filter((el) => el.is('message')).map((el) => el.attrs.id)).toEqual(['before-1', 'before-2']);
    const stored = await offline.list('alice@localhost');
    expect(stored.map((m) => m.stanza.attrs.id)).toEqual(['during-1', 'during-2', 'during-3']);

    expect(srv.server.streamCount).toBe(0);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toContain('strand_idle_close_closes_total{kind="c2s",reason="idle"} 1');
    expect(metrics).toContain('strand_idle_close_handshakes_total{reason="idle",result="timed-out"} 1');
    expect(metrics).not.toContain('result="completed"');
  });
});
