/**
 * Scale-out acceptance: an `@xmpp/client` 0.14 session with stream management is resumed on the
 * *other* node after each socket loss — 20 hops between node A and node B while bob (on node B)
 * sends 1 000 messages; every message arrives exactly once and in order.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { client, type Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { KeepaliveInterval } from '@strand/keepalive';
import { SessionRegistryImpl } from '@strand/server';
import { OfflineStore, type OfflineStore as OfflineStoreT } from '@strand/core';
import { startClusterEnv, startNode, startNodes, type ClusterEnv } from '../helpers/cluster.js';
import { until } from '../helpers/presence-probe.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';
import { prng, rawSocket, smOf } from '../helpers/sm-client.js';



describe('cluster: resumption on another node', () => {
  let env: ClusterEnv;
  let a: RunningServer;
  let b: RunningServer;
  let bob: TestXmpp | undefined;
  let alice: Client | undefined;

  beforeAll(async () => {
    env = await startClusterEnv();
    [a, b] = (await startNodes(env, ['a', 'b'])) as [RunningServer, RunningServer];
  });
  afterAll(async () => {
    await alice?.stop().catch(() => undefined);
    await bob?.stop();
    await a?.stop();
    await b?.stop();
    await env?.stop();
  });

  it('1 000 messages across 20 hops A↔B arrive exactly once and in order', async () => {
    const services = [`xmpp://localhost:${a.ports.c2s}`, `xmpp://localhost:${b.ports.c2s}`];
    const xmpp = (alice = client({ service: services[0], domain: 'localhost', resource: 'phone', username: 'alice', password: 'secret' }));
    xmpp.reconnect.delay = 5;
    xmpp.on('error', () => undefined);
    const sm = smOf(xmpp);
    const bodies: number[] = [];
    const violations: string[] = [];
    let resumes = 0;
    sm.on('resumed', () => resumes++);
    xmpp.on('stanza', (el: Element) => {
      if (!el.is('message')) return;
      const n = Number(el.getChildText('body'));
      if (n !== bodies.length + 1) violations.push(`got ${n}, expected ${bodies.length + 1}`);
      bodies.push(n);
    });
    await xmpp.start();
    await until(() => sm.enabled, 'SM enabled', 5000);
    const firstId = sm.id;
    // Another plugin's per-session state (a session slot with a JSON codec) travels with the session.
    a.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/phone')!.slots.set(KeepaliveInterval, 42);

    bob = await startClient({ port: b.ports.c2s, username: 'bob', resource: 'desk' });
    const random = prng(0xc105);
    const points = new Set<number>();
    while (points.size < 20) points.add(1 + Math.floor(random() * 1000));
    let node = 0;
    let pending: Promise<void> | undefined;
    for (let i = 1; i <= 1000; i++) {
      await bob.xmpp.send(xml('message', { to: 'alice@localhost/phone', type: 'chat', id: `m${i}` }, xml('body', {}, String(i))));
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1)); // let the sockets breathe
      if (points.has(i)) {
        if (pending) await pending; // each loss hits a live, resumed stream
        pending = new Promise<void>((resolve) => sm.once('resumed', resolve));
        node = 1 - node;
        (xmpp.options as { service: string }).service = services[node]!; // reconnect to the other node
        rawSocket(xmpp).destroy();
      }
    }
    if (pending) await pending;
    await until(() => bodies.length >= 1000, '1 000 messages', 30_000);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive now
    expect(violations).toEqual([]);
    expect(bodies).toEqual(Array.from({ length: 1000 }, (_, k) => k + 1));
    expect(resumes).toBe(20);
    expect(sm.id).toBe(firstId); // one SM session all along
    // 20 hops: back on node A, rebuilt from what node B handed over; nothing left on node B
    const final = a.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/phone');
    expect(final?.slots.get(KeepaliveInterval)).toBe(42);
    expect(b.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/phone')).toBeUndefined();

    const resumed = async (srv: RunningServer): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
      return Number(/strand_sm_resumed_total\{version="sm3"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    expect((await resumed(a)) + (await resumed(b))).toBe(20);
    expect(await resumed(a)).toBe(10); // every resumption landed on the other node
    const metricsA = await (await fetch(`http://127.0.0.1:${a.ports.http}/metrics`)).text();
    expect(metricsA).toContain('strand_cluster_handovers_total{direction="in",result="ok"} 10');
    expect(metricsA).toContain('strand_cluster_handovers_total{direction="out",result="ok"} 10');
    expect(metricsA).toMatch(/strand_cluster_live_nodes 2/);
  }, 60_000);

  it('a node stopping gracefully gives its resumable sessions away: the client resumes on another node', async () => {
    const c = await startNode(env, 'c');
    let cStopped = false;
    try {
      await until(() => b.server.cluster!.liveNodes.includes('c'), 'B sees C', 5000);
      bob ??= await startClient({ port: b.ports.c2s, username: 'bob', resource: 'desk' });
      const xmpp = client({ service: `xmpp://localhost:${c.ports.c2s}`, domain: 'localhost', resource: 'phone', username: 'carol', password: 'secret' });
      xmpp.reconnect.delay = 5;
      xmpp.on('error', () => undefined);
      const sm = smOf(xmpp);
      const bodies: number[] = [];
      xmpp.on('stanza', (el: Element) => {
        if (el.is('message')) bodies.push(Number(el.getChildText('body')));
      });
      await xmpp.start();
      try {
        await until(() => sm.enabled, 'SM enabled', 5000);
        const resumed = new Promise<void>((resolve) => sm.once('resumed', resolve));
        for (let i = 1; i <= 200; i++) {
          await bob.xmpp.send(xml('message', { to: 'carol@localhost/phone', type: 'chat' }, xml('body', {}, String(i))));
          if (i === 100) {
            (xmpp.options as { service: string }).service = `xmpp://localhost:${a.ports.c2s}`; // the load balancer's choice
            await c.stop(); // gives carol's session away, then closes her stream with <system-shutdown/>
            cStopped = true;
          }
        }
        await resumed;
        try {
          await until(() => bodies.length >= 200, '200 messages', 20_000);
        } catch (err) {
          const missing = Array.from({ length: 200 }, (_, k) => k + 1).filter((n) => !bodies.includes(n));
          const stored = await a.server.container.get<OfflineStoreT>(OfflineStore).list('carol@localhost');
          throw new Error(`${(err as Error).message}: missing ${missing.join(',')}; offline: ${stored.map((m) => m.stanza.getChildText('body')).join(',')}`);
        }
        await new Promise((r) => setTimeout(r, 300));
        expect(bodies).toEqual(Array.from({ length: 200 }, (_, k) => k + 1));
        expect(a.server.container.get(SessionRegistryImpl).getLocal('carol@localhost/phone')).toBeDefined();
      } finally {
        await xmpp.stop().catch(() => undefined);
      }
    } finally {
      if (!cStopped) await c.stop();
    }
  }, 60_000);
});
