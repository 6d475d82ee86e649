/**
 * Stream management behaves the same over both transports: the same `@xmpp/client` 0.14
 * resumption scenario runs over TCP and over WebSocket. 300 messages are routed to the client
 * while its connection is cut 12 times — alternately by the client (its socket/WebSocket
 * dropped) and by the server (`XmlStream.destroy()`, a server-side socket drop); every message
 * arrives exactly once and in order, through XEP-0198 resumption.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { Router, type Router as RouterT } from '@strand/core';
import { SessionRegistryImpl } from '@strand/server';
import sm from '@strand/stream-management';
import { startServer, type RunningServer } from '../helpers/server.js';
import { installWebSocketGlobal, wsUrl } from '../helpers/ws-wire.js';

type Transport = 'tcp' | 'websocket';

const MESSAGES = 300;
const DROPS = 12;

interface SmClient {
  xmpp: Client;
  sm: { enabled: boolean; id: string; on(ev: string, fn: () => void): void; removeListener?(ev: string, fn: () => void): void };
  bodies: number[];
  resumes: number;
  /** Drops the transport from the client's side, as a network failure would. */
  dropSocket(): void;
}

async function startSmClient(srv: RunningServer, transport: Transport): Promise<SmClient> {
  if (transport === 'websocket') installWebSocketGlobal();
  const xmpp = client({
    service: transport === 'tcp' ? `xmpp://localhost:${srv.ports.c2s}` : wsUrl(srv.ports.http),
    domain: 'localhost',
    resource: 'phone',
    username: 'alice',
    password: 'secret',
  });
  xmpp.reconnect.delay = 5;
  xmpp.on('error', () => undefined);
  const smApi = (xmpp as unknown as { streamManagement: SmClient['sm'] }).streamManagement;
  const c: SmClient = {
    xmpp,
    sm: smApi,
    bodies: [],
    resumes: 0,
    dropSocket() {
      // @xmpp/client wraps the transport: after STARTTLS `socket.socket` is the TLSSocket; over
      // WebSocket it is the `ws` WebSocket.
      const socket = (xmpp as unknown as { socket?: { socket?: { destroy?(): void; terminate?(): void } } }).socket?.socket;
      if (transport === 'tcp') socket?.destroy?.();
      else socket?.terminate?.();
    },
  };
  smApi.on('resumed', () => c.resumes++);
  xmpp.on('stanza', (el: Element) => {
    if (el.is('message')) c.bodies.push(Number(el.getChildText('body')));
  });
  await xmpp.start();
  // @xmpp/client resolves start() at bind; <enable/> → <enabled/> completes right after.
  const deadline = Date.now() + 5000;
  while (!smApi.enabled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  return c;
}

for (const transport of ['tcp', 'websocket'] as const) {
  describe(`stream management resumption over ${transport}`, () => {
    let srv: RunningServer;
    let alice: SmClient | undefined;
    beforeAll(async () => {
      srv = await startServer(
        { plugins: { '@strand/stream-management': { resumeTimeout: 60 } } },
        { plugins: { '@strand/stream-management': sm } },
      );
    });
    afterAll(async () => {
      if (alice) {
        alice.xmpp.reconnect.stop();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([alice.xmpp.stop().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2000)))]);
        clearTimeout(timer);
        alice.dropSocket();
      }
      await srv.stop();
    });

    it(`loses no message across ${DROPS} client- and server-side drops`, async () => {
      alice = await startSmClient(srv, transport);
      const a = alice;
      expect(a.sm.enabled).toBe(true);
      const registry = srv.server.container.get(SessionRegistryImpl);
      expect(registry.getLocal('alice@localhost/phone')?.stream?.transport).toBe(transport);
      const router = srv.server.container.get<RouterT>(Router);
      const points = new Set<number>();
      for (let k = 1; k <= DROPS; k++) points.add(Math.round((k * MESSAGES) / (DROPS + 1)) + (k % 3));
      let pendingResume: Promise<void> | undefined;
      let drops = 0;
      for (let i = 1; i <= MESSAGES; i++) {
        await router.route(
          xml(
            'message',
            { from: 'bob@localhost/desk', to: 'alice@localhost/phone', type: 'chat', id: `m${i}` },
            xml('body', {}, String(i)),
          ),
        );
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
        if (!points.has(i)) continue;
        if (pendingResume) await pendingResume;
        let resolveResume!: () => void;
        pendingResume = new Promise<void>((resolve) => (resolveResume = resolve));
        const before = a.resumes;
        const poll = setInterval(() => {
          if (a.resumes > before) {
            clearInterval(poll);
            resolveResume();
          }
        }, 5);
        if (drops % 2 === 0) a.dropSocket();
        else registry.getLocal('alice@localhost/phone')?.stream?.destroy('test: server-side drop');
        drops++;
      }
      if (pendingResume) await pendingResume;
      const deadline = Date.now() + 20_000;
      while (a.bodies.length < MESSAGES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(drops).toBe(DROPS);
      expect(a.bodies).toEqual(Array.from({ length: MESSAGES }, (_, k) => k + 1));
      expect(a.resumes).toBe(DROPS);
      expect(registry.getLocal('alice@localhost/phone')?.stream?.transport).toBe(transport);
      const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
      expect(metrics).toContain(`strand_sm_resumed_total{version="sm3"} ${DROPS}`);
    }, 90_000);
  });
}
