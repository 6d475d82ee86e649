/**
 * Scale-out: a node that joins is reachable at once — the other nodes learn it from the directory
 * feed, not from their next liveness check (with `heartbeatTtl: 30` that check is 10 s away).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startClusterEnv, startNode, type ClusterEnv } from '../helpers/cluster.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';

describe('cluster: joining', () => {
  let env: ClusterEnv;
  const nodes: RunningServer[] = [];
  const clients: TestXmpp[] = [];
  beforeAll(async () => {
    env = await startClusterEnv();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    for (const n of nodes) await n.stop();
    await env?.stop();
  });

  it('the sessions of a node that just joined get messages from the first second', async () => {
    const a = await startNode(env, 'a', { heartbeatTtl: 30 });
    nodes.push(a);
    const alice = await startClient({ port: a.ports.c2s, username: 'alice', resource: 'desk' });
    clients.push(alice);
    const c = await startNode(env, 'c', { heartbeatTtl: 30 });
    nodes.push(c);
    const bob = await startClient({ port: c.ports.c2s, username: 'bob', resource: 'phone' });
    clients.push(bob);
    await bob.xmpp.send(xml('presence'));
    expect(a.server.cluster!.liveNodes).toEqual(['a', 'c']);
    const got = bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'welcome', 3000);
    // the directory entry of bob/phone reaches node A through the feed within milliseconds
    const deadline = Date.now() + 2000;
    while (!a.server.cluster!.remoteByFull('bob@localhost/phone')?.available && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, 'welcome')));
    expect((await got).attrs.from).toBe('alice@localhost/desk');
  }, 30_000);
});
