/**
 * The plugins behave the same over TCP and WebSocket: every case runs on both transports, with
 * the transport's own keepalive (whitespace / ping frame) and close tag (`</stream:stream>` /
 * `<close/>`).
 *
 * - `@strand/keepalive`: a silent client gets keepalives at the default interval; a client that
 *   stops reading (no pong, no XEP-0199 answer) is found dead after the read timeout and dropped,
 *   while one that answers stays.
 * - `@strand/idle-close`: an idle authenticated stream is closed through the close handshake,
 *   with stream management's final `<a/>` before the close tag, and the session ends.
 * (Stream management resumption over both transports: sm-resume.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CloseInfo } from '@strand/core';
import { SessionRegistryImpl } from '@strand/server';
import keepalive from '@strand/keepalive';
import idleClose from '@strand/idle-close';
import sm from '@strand/stream-management';
import { connectPeer, TRANSPORTS, type Peer } from '../helpers/peer.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const SM = `<enable xmlns='urn:xmpp:sm:3' resume='true'/>`;

for (const transport of TRANSPORTS) {
  describe(`plugins over ${transport}`, () => {
    const peers: Peer[] = [];
    let seq = 0;
    afterAll(() => {
      for (const p of peers) p.destroy();
    });
    async function peer(srv: RunningServer, options: { dead?: boolean } = {}): Promise<{ p: Peer; jid: string }> {
      const p = await connectPeer(transport, srv.ports, options);
      peers.push(p);
      const jid = await p.login('alice', `${transport}-${++seq}`);
      return { p, jid };
    }
    function streamOf(srv: RunningServer, jid: string) {
      const s = srv.server.container.get(SessionRegistryImpl).getLocal(jid)?.stream;
      if (!s) throw new Error(`no stream for ${jid}`);
      return s;
    }

    describe('@strand/keepalive', () => {
      let srv: RunningServer;
      beforeAll(async () => {
        srv = await startServer(
          {
            timeouts: { preAuth: 60, closeHandshake: 2, read: 2 },
            plugins: { '@strand/keepalive': { minInterval: 1, maxInterval: 10, defaultInterval: 1, pingTimeout: 1 } },
          },
          { plugins: { '@strand/keepalive': keepalive } },
        );
      });
      afterAll(async () => {
        await srv.stop();
      });

      it('sends keepalives to a silent client at the default interval (whitespace on TCP, ping frames on WebSocket)', async () => {
        const { p, jid } = await peer(srv);
        const stream = streamOf(srv, jid);
        expect(stream.transport).toBe(transport);
        expect(stream.supportsWhitespaceKeepalive).toBe(transport === 'tcp');
        const deadline = Date.now() + 8000;
        while (p.keepalives() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(p.keepalives()).toBeGreaterThanOrEqual(2);
        if (transport === 'websocket') expect(p.text()).not.toMatch(/>\s+</); // no whitespace between messages
        expect(p.closed()).toBe(false);
      });

      it('XEP-0304 negotiation is offered on TCP only (RFC 7395 forbids whitespace between messages)', async () => {
        const { p } = await peer(srv);
        const features = p.text().slice(p.text().lastIndexOf('<stream:features'));
        if (transport === 'tcp') expect(features).toContain('urn:xmpp:keepalive:0');
        else expect(features).not.toContain('urn:xmpp:keepalive:0');
      });

      it('drops a dead peer after the read timeout and an unanswered XEP-0199 ping; a live one stays', async () => {
        const live = await peer(srv);
        live.p.answerPings();
        const dead = await peer(srv, { dead: true });
        const deadStream = streamOf(srv, dead.jid);
        let timer: NodeJS.Timeout | undefined;
        const info: CloseInfo = await Promise.race([
          deadStream.closed,
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the dead peer was not dropped')), 15_000))),
        ]).finally(() => clearTimeout(timer));
        // The probe went out before the drop.
        expect(dead.p.text()).toMatch(/<ping xmlns=["']urn:xmpp:ping["']\/>/);
        expect(info.initiator).toBe('transport');
        await dead.p.waitClosed(5000);
        // The live peer (its pongs, or its ping answers, count as reads) is still there.
        expect(live.p.closed()).toBe(false);
        expect(streamOf(srv, live.jid).state).toBe('open');
      }, 30_000);
    });

    describe('@strand/idle-close (with stream management)', () => {
      let srv: RunningServer;
      beforeAll(async () => {
        srv = await startServer(
          {
            plugins: {
              '@strand/idle-close': { c2sIdle: 2 },
              '@strand/stream-management': { resumeTimeout: 60 },
            },
          },
          { plugins: { '@strand/idle-close': idleClose, '@strand/stream-management': sm } },
        );
      });
      afterAll(async () => {
        await srv.stop();
      });

      it('closes an idle stream through the handshake: <a/>, then the close tag, no error; the session ends', async () => {
        const { p, jid } = await peer(srv);
        await p.send(SM);
        await p.waitFor(/<enabled /);
        const stream = streamOf(srv, jid);
        await p.waitFor(p.closeTag, 8000);
        const text = p.text();
        const tail = text.slice(text.lastIndexOf('<enabled '));
        expect(tail).not.toContain('stream:error');
        // Stream management's last ack comes before the close tag (DESIGN.md: SM in onClosing).
        expect(tail.indexOf('<a xmlns')).toBeGreaterThan(-1);
        expect(tail.indexOf('<a xmlns')).toBeLessThan(tail.indexOf(p.closeTag));
        expect(tail.endsWith(p.closeTag)).toBe(true);
        // The peer answers; the server ends the connection.
        await p.send(p.closeTag);
        await p.waitClosed(5000);
        const info = await stream.closed;
        expect(info).toMatchObject({ initiator: 'server', endSession: true, handshakeTimedOut: false });
        expect(srv.server.container.get(SessionRegistryImpl).getLocal(jid)).toBeUndefined();
      }, 20_000);
    });
  });
}
