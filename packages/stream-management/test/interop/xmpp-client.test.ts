/**
 * Interop over real sockets with `@xmpp/client` 0.14 (its XEP-0198 implementation enables SM with
 * resumption and resumes after reconnecting): 1 000 messages while the test destroys the client's
 * socket at 50 random points; every message arrives exactly once and in order.
 *
 * Needs the server harness (`/work/main/test/helpers`) and the test CA (`NODE_EXTRA_CA_CERTS`, set
 * by `scripts/run-tests.mjs`).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { client, xml, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { Router, type Router as RouterT } from '@strand/core';
import sm from '../../src/index.js';
import { startServer, type RunningServer } from '../../../../test/helpers/server.js';
import { prng, rawSocket, smOf, type ClientSm } from '../../../../test/helpers/sm-client.js';


interface SmClient {
  xmpp: Client;
  sm: ClientSm;
  bodies: number[];
  violations: string[];
  resumes: number;
}

async function startSmClient(port: number): Promise<SmClient> {
  const xmpp = client({
    service: `xmpp://localhost:${port}`,
    domain: 'localhost',
    resource: 'phone',
    username: 'alice',
    password: 'secret',
  });
  xmpp.reconnect.delay = 5;
  xmpp.on('error', () => undefined);
  const sm = smOf(xmpp);
  const c: SmClient = {
    xmpp,
    sm,
    bodies: [],
    violations: [],
    resumes: 0,
  };
  sm.on('resumed', () => c.resumes++);
  xmpp.on('stanza', (el: Element) => {
    if (!el.is('message')) return;
    const n = Number(el.getChildText('body'));
    const expected = c.bodies.length + 1;
    if (n !== expected) c.violations.push(`got ${n}, expected ${expected}`);
    c.bodies.push(n);
  });
  await xmpp.start();
  // <enabled/> is processed right after the client reports online
  const until = Date.now() + 5000;
  while (!sm.enabled && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  return c;
}

describe('interop: @xmpp/client 0.14 resumes across 50 socket losses', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startServer(
      { plugins: { '@strand/stream-management': { resumeTimeout: 60 } } },
      { plugins: { '@strand/stream-management': sm } },
    );
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('receives 1 000 messages exactly once and in order', async () => {
    const alice = await startSmClient(srv.ports.c2s);
    expect(alice.sm.enabled).toBe(true);
    expect(alice.sm.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const router = srv.server.container.get<RouterT>(Router);
    const random = prng(0x5eed);
    const points = new Set<number>();
    while (points.size < 50) points.add(1 + Math.floor(random() * 1000));
    let pendingResume: Promise<void> | undefined;
    let drops = 0;
    for (let i = 1; i <= 1000; i++) {
      await router.route(xml('message', { from: 'bob@localhost/desk', to: 'alice@localhost/phone', type: 'chat', id: `m${i}` }, xml('body', {}, String(i))));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r)); // let the sockets breathe
      if (points.has(i)) {
        if (pendingResume) await pendingResume; // each loss hits a live, resumed stream
        const socket = rawSocket(alice.xmpp);
        pendingResume = new Promise<void>((resolve) => alice.sm.once('resumed', resolve));
        socket.destroy();
        drops++;
      }
    }
    if (pendingResume) await pendingResume;
    const deadline = Date.now() + 20_000;
    while (alice.bodies.length < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(drops).toBe(50);
    expect(alice.violations).toEqual([]);
    expect(alice.bodies).toEqual(Array.from({ length: 1000 }, (_, k) => k + 1));
    expect(alice.resumes).toBe(50);
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toContain('strand_sm_resumed_total{version="sm3"} 50');
    expect(metrics).toContain('strand_sm_enabled_total{version="sm3",resume="true"} 1');
    await alice.xmpp.stop();
  }, 120_000);
});
