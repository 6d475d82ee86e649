/**
 * Scale-out: Redis goes away (killed, restarted empty). The nodes keep serving their own users,
 * reconnect, notice that their liveness keys are gone, join again and republish their sessions:
 * users on different nodes can chat again, without logging in anew.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startClusterEnv, startNodes, type ClusterEnv } from '../helpers/cluster.js';
import { until } from '../helpers/presence-probe.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';

describe('cluster: Redis restarts', () => {
  let env: ClusterEnv;
  let a: RunningServer;
  let b: RunningServer;
  const clients: TestXmpp[] = [];
  beforeAll(async () => {
    env = await startClusterEnv();
    [a, b] = (await startNodes(env, ['a', 'b'])) as [RunningServer, RunningServer];
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await a?.stop();
    await b?.stop();
    await env?.stop();
  });

  it('after an empty Redis comes back, the nodes republish their sessions and route across again', async () => {
    const alice = await startClient({ port: a.ports.c2s, username: 'alice', resource: 'desk' });
    const bob = await startClient({ port: b.ports.c2s, username: 'bob', resource: 'phone' });
    clients.push(alice, bob);
    await until(() => a.server.cluster!.remoteByFull('bob@localhost/phone') !== undefined, 'A sees bob', 5000);

    await env.redis.restart(500); // everything Redis held is gone
    // local traffic goes on meanwhile
    const self = alice.waitFor((el) => el.is('message') && el.getChildText('body') === 'note to self');
    await alice.xmpp.send(xml('message', { to: 'alice@localhost/desk', type: 'chat' }, xml('body', {}, 'note to self')));
    await self;

    // each node's next heartbeat finds its key missing, joins again and republishes
    const redis = new Redis(env.redis.url);
    try {
      await until(
        async () =>
          (await redis.hget(`${env.keyPrefix}:sess:bob@localhost`, 'phone'))?.includes('"n":"b"') === true &&
          (await redis.hget(`${env.keyPrefix}:sess:alice@localhost`, 'desk'))?.includes('"n":"a"') === true &&
          (await redis.smembers(`${env.keyPrefix}:nodes`)).sort().join() === 'a,b',
        'both nodes republished',
        15_000,
      );
    } finally {
      redis.disconnect();
    }
    await until(() => a.server.cluster!.liveNodes.length === 2 && b.server.cluster!.liveNodes.length === 2, 'both alive again', 5000);
    const toBob = bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'still there?', 5000);
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/phone', type: 'chat' }, xml('body', {}, 'still there?')));
    expect((await toBob).attrs.from).toBe('alice@localhost/desk');
    const toAlice = alice.waitFor((el) => el.is('message') && el.getChildText('body') === 'yes', 5000);
    await bob.xmpp.send(xml('message', { to: 'alice@localhost/desk', type: 'chat' }, xml('body', {}, 'yes')));
    await toAlice;
  }, 60_000);
});
