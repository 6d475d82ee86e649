/**
 * Scale-out acceptance: node A (a `strand start` process) is killed with SIGKILL. Its users appear
 * unavailable to node B's users within the heartbeat TTL, and their
 * resumption attempts on node B fail cleanly and at once (`<failed/>`), messages to them are
 * stored offline instead of waiting for a dead node.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OfflineStore, RosterStore, type OfflineStore as OfflineStoreT, type RosterStore as RosterStoreT } from '@strand/core';
import { startClusterEnv, startNode, type ClusterEnv } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { Proc } from '../helpers/process.js';
import { until } from '../helpers/presence-probe.js';
import { RawClient } from '../helpers/raw-client.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';

const ROOT = process.cwd();
const CLI = join(ROOT, 'packages', 'server', 'dist', 'cli.js');
const CERTS = join(ROOT, 'test', '.certs');
const SM = 'urn:xmpp:sm:3';
const TTL_S = 2;

describe('cluster: a node killed with SIGKILL', () => {
  let env: ClusterEnv;
  let b: RunningServer;
  let nodeA: Proc | undefined;
  let portA: number;
  let bob: TestXmpp | undefined;
  const raws: RawClient[] = [];

  beforeAll(async () => {
    env = await startClusterEnv();
    b = await startNode(env, 'b', { heartbeatTtl: TTL_S });
    portA = await freePort();
    const config = join(env.dir, 'node-a.yaml');
    writeFileSync(
      config,
      [
        'domain: localhost',
        `listen: { host: 127.0.0.1, c2s: ${portA}, c2sTls: null, http: null, component: null }`,
        `tls: { cert: ${JSON.stringify(join(CERTS, 'localhost.crt'))}, key: ${JSON.stringify(join(CERTS, 'localhost.key'))}, selfSigned: false }`,
        `storage: ${JSON.stringify(env.storage)}`,
        `cluster: { redis: ${JSON.stringify(env.redis.url)}, nodeId: a, heartbeatTtl: ${TTL_S}, keyPrefix: ${env.keyPrefix} }`,
        'accounts: [ { username: alice, password: secret }, { username: bob, password: secret } ]',
        'log: { level: info }',
        'plugins:',
        '  "@strand/stream-management": { resumeTimeout: 60 }',
        '  "@strand/presence-probe": {}',
        '  "@strand/keepalive": {}',
        '  "@strand/idle-close": {}',
        '',
      ].join('\n'),
    );
    const p = (nodeA = Proc.spawn(process.execPath, [CLI, 'start', '--config', config], { cwd: ROOT }));
    await p.waitFor(() => p.json<{ msg?: string }>().find((l) => l.msg === 'Strand is listening'), 30_000, 'node A listening');
    await until(() => b.server.cluster!.liveNodes.includes('a'), 'node B sees node A', 5000);
  }, 60_000);
  afterAll(async () => {
    for (const r of raws) r.destroy();
    await bob?.stop();
    if (nodeA && !nodeA.exit) {
      process.kill(nodeA.pid, 'SIGKILL');
      await nodeA.exited;
    }
    await b?.stop();
    await env?.stop();
  });

  it('its users go unavailable within the TTL; resuming their sessions on B fails at once', async () => {
    const rosters = b.server.container.get<RosterStoreT>(RosterStore);
    const both = (jid: string) => ({ jid, subscription: 'both' as const, ask: false, pendingIn: false, approved: false, groups: [], visible: true });
    await rosters.setItem('alice@localhost', both('bob@localhost'));
    await rosters.setItem('bob@localhost', both('alice@localhost'));

    bob = await startClient({ port: b.ports.c2s, username: 'bob', resource: 'desk' });
    await bob.xmpp.send(xml('presence'));

    // alice on node A: bound, SM with resumption, available
    const alice = await RawClient.connect(portA);
    raws.push(alice);
    await alice.login('alice', 'secret', 'phone');
    alice.send(`<enable xmlns='${SM}' resume='true'/>`);
    const enabled = await alice.waitFor(/<enabled [^>]*\/>/);
    const smId = /<enabled [^>]*id="([^"]+)"/.exec(enabled)![1]!;
    expect(smId).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const online = bob.waitFor((el) => el.is('presence') && el.attrs.from === 'alice@localhost/phone' && !el.attrs.type);
    alice.send('<presence/>');
    await online;

    const gone = bob.waitFor((el) => el.is('presence') && el.attrs.from === 'alice@localhost/phone' && el.attrs.type === 'unavailable', 15_000);
    const killedAt = Date.now();
    process.kill(nodeA!.pid, 'SIGKILL');
    await nodeA!.exited;
    await gone;
    const noticedMs = Date.now() - killedAt;
    // within the heartbeat TTL (the key lives 2/3 of it, B checks every 1/3), plus the reaping and
    // the presence delivery
    expect(noticedMs).toBeLessThanOrEqual(TTL_S * 1000 + 500);
    expect(b.server.cluster!.liveNodes).toEqual(['b']);

    // alice's client reconnects to node B and tries to resume: <failed/> at once, no hang
    const again = await RawClient.connect(b.ports.c2s);
    raws.push(again);
    await again.authenticate('alice');
    const askedAt = Date.now();
    again.send(`<resume xmlns='${SM}' previd='${smId}' h='0'/>`);
    const failed = await again.waitFor(/<failed [^>]*>[\s\S]*?<\/failed>/);
    expect(Date.now() - askedAt).toBeLessThan(1000);
    expect(failed).toContain('<item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    // the stream stays usable: bind a fresh session
    again.send(`<iq type='set' id='b2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>`);
    await again.waitFor(/<jid>alice@localhost\/phone<\/jid>/);
    again.destroy();

    // a message to alice now goes to offline storage (no available session anywhere)
    const offline = b.server.container.get<OfflineStoreT>(OfflineStore);
    await until(() => b.server.cluster!.remoteByBare('alice@localhost').length === 0, 'directory cleaned', 5000);
    const before = await offline.count('alice@localhost');
    await bob.xmpp.send(xml('message', { to: 'alice@localhost/phone', type: 'chat' }, xml('body', {}, 'are you there?')));
    await until(async () => (await offline.count('alice@localhost')) === before + 1, 'stored offline', 5000);
  }, 60_000);
});
