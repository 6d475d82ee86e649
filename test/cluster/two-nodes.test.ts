/**
 * Scale-out acceptance (real sockets, real Redis): two Strand nodes share Redis and storage;
 * users on different nodes chat, see each other's presence, and probe each other (XEP-0318
 * answers stamped with the times the other node recorded).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Element } from '@xmpp/xml';
import { Redis } from 'ioredis';
import { SessionRegistryImpl } from '@strand/server';
import { RawClient } from '../helpers/raw-client.js';
import { startClusterEnv, startNode, startNodes, type ClusterEnv } from '../helpers/cluster.js';
import { DELAY, probeWith, subscribe, until } from '../helpers/presence-probe.js';
import type { RunningServer } from '../helpers/server.js';
import { startClient, xml, type TestXmpp } from '../helpers/xmpp.js';

/** Awaits `p`, naming the step in the failure. */
async function step<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
}

function delayAt(el: Element): { from?: string; at: number } {
  const d = el.getChild('delay', DELAY);
  expect(d).toBeDefined();
  return { from: d!.attrs.from, at: Date.parse(d!.attrs.stamp) };
}

describe('cluster: two nodes', () => {
  let env: ClusterEnv;
  let a: RunningServer;
  let b: RunningServer;
  const clients: TestXmpp[] = [];

  beforeAll(async () => {
    env = await startClusterEnv();
    [a, b] = (await startNodes(env, ['a', 'b'])) as [RunningServer, RunningServer];
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await a?.stop();
    await b?.stop();
    await env?.stop();
  });

  async function login(node: RunningServer, username: string, resource: string): Promise<TestXmpp> {
    const c = await startClient({ port: node.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  it('users on different nodes subscribe, see presence and chat', async () => {
    const alice = await login(a, 'alice', 'desk');
    const bob = await login(b, 'bob', 'phone');
    await subscribe(a, alice, bob); // alice → bob's presence (bob answers on node B)
    await subscribe(b, bob, alice);

    // bob (node B) comes online first; alice's initial presence on node A then reaches him, and
    // node A answers alice's own presence probes from the directory entry node B published
    await bob.xmpp.send(xml('presence', {}, xml('show', {}, 'away')));
    await new Promise((r) => setTimeout(r, 100));
    const bobSeesAlice = bob.waitFor((el) => el.is('presence') && el.attrs.from === 'alice@localhost/desk' && !el.attrs.type);
    const aliceSeesBob = alice.waitFor((el) => el.is('presence') && el.attrs.from === 'bob@localhost/phone' && !el.attrs.type);
    await alice.xmpp.send(xml('presence', {}, xml('status', {}, 'at my desk')));
    expect((await step('bob sees alice', bobSeesAlice)).getChildText('status')).toBe('at my desk');
    expect((await step('alice sees bob', aliceSeesBob)).getChildText('show')).toBe('away');

    const toBob = bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello from A');
    await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'm1' }, xml('body', {}, 'hello from A')));
    expect((await step('message to bob', toBob)).attrs.from).toBe('alice@localhost/desk');
    const toAlice = alice.waitFor((el) => el.is('message') && el.getChildText('body') === 'hello from B');
    await bob.xmpp.send(xml('message', { to: 'alice@localhost/desk', type: 'chat', id: 'm2' }, xml('body', {}, 'hello from B')));
    expect((await step('message to alice', toAlice)).attrs.from).toBe('bob@localhost/phone');

    // an iq to a full JID on the other node, answered (here: bounced by the client library or
    // answered) — at least it reaches the other node and comes back
    const reply = alice.waitFor((el) => el.is('iq') && el.attrs.id === 'cross-ping');
    await alice.xmpp.send(xml('iq', { type: 'get', to: 'bob@localhost/phone', id: 'cross-ping' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect((await step('iq reply', reply)).attrs.from).toBe('bob@localhost/phone');
  });

  it('XEP-0318 probes across nodes carry the stamps the other node recorded', async () => {
    const alice = clients[0]!;
    const bob = clients[1]!;
    const before = Date.now();
    await bob.xmpp.send(xml('presence', {}, xml('status', {}, 'new status')));
    await alice.waitFor((el) => el.is('presence') && el.getChildText('status') === 'new status');
    const after = Date.now();
    const online = await probeWith(alice, 'bob@localhost');
    expect(online).toHaveLength(1);
    expect(online[0]!.attrs).toMatchObject({ from: 'bob@localhost/phone', to: 'alice@localhost/desk' });
    expect(online[0]!.getChildText('status')).toBe('new status');
    const d1 = delayAt(online[0]!);
    expect(d1.at).toBeGreaterThanOrEqual(before - 1000);
    expect(d1.at).toBeLessThanOrEqual(after + 1000);

    // bob leaves node B: alice on node A sees it, and a probe answers with the stamp of his leaving
    const gone = alice.waitFor((el) => el.is('presence') && el.attrs.from === 'bob@localhost/phone' && el.attrs.type === 'unavailable');
    const leftAt = Date.now();
    await bob.xmpp.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'bye')));
    await gone;
    const offline = await probeWith(alice, 'bob@localhost');
    expect(offline).toHaveLength(1);
    expect(offline[0]!.attrs).toMatchObject({ from: 'bob@localhost', type: 'unavailable' });
    expect(offline[0]!.getChildText('status')).toBe('bye');
    const d2 = delayAt(offline[0]!);
    expect(d2.from).toBe('bob@localhost/phone');
    expect(Math.abs(d2.at - leftAt)).toBeLessThanOrEqual(1000);
  });

  it('a message to a user with no session on any node is stored and delivered on login at the other node', async () => {
    const alice = clients[0]!;
    await alice.xmpp.send(xml('message', { to: 'carol@localhost', type: 'chat', id: 'off1' }, xml('body', {}, 'while you were away')));
    await new Promise((r) => setTimeout(r, 200));
    const carol = await login(b, 'carol', 'laptop');
    const offline = carol.waitFor((el) => el.is('message') && el.getChildText('body') === 'while you were away');
    await carol.xmpp.send(xml('presence'));
    const m = await offline;
    expect(m.getChild('delay', DELAY)).toBeDefined();
  });

  it('binding the same full JID on the other node replaces the first session with <conflict/>', async () => {
    const first = await login(a, 'carol', 'tablet');
    const closed = new Promise<string>((resolve) => first.xmpp.on('error', (err: Error & { condition?: string }) => resolve(err.condition ?? err.message)));
    await login(b, 'carol', 'tablet');
    expect(await closed).toBe('conflict');
  });

  it('a session that ended on node A answers <failed h/> on node B (retained h is cluster-wide)', async () => {
    const SM = 'urn:xmpp:sm:3';
    const r1 = await RawClient.connect(a.ports.c2s);
    await r1.login('alice', 'secret', 'tmp');
    r1.send(`<enable xmlns='${SM}' resume='true'/>`);
    const id = /<enabled [^>]*id="([^"]+)"/.exec(await r1.waitFor(/<enabled [^>]*\/>/))![1]!;
    r1.send(`<iq type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await r1.waitFor(/id="p1"/);
    r1.send('</stream:stream>'); // clean close: the session ends, its final h (1) is retained
    await r1.ended;
    const r2 = await RawClient.connect(b.ports.c2s);
    await r2.authenticate('alice');
    r2.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect(await r2.waitFor(/<failed [^>]*>/)).toContain(`<failed xmlns="${SM}" h="1">`);
    r2.destroy();
  });

  it('a node whose liveness key vanished is reaped by the other, then rejoins and republishes its sessions', async () => {
    const dave = await login(a, 'carol', 'pc');
    await dave.xmpp.send(xml('presence'));
    await until(() => b.server.cluster!.remoteByFull('carol@localhost/pc')?.available === true, 'B sees carol/pc', 5000);
    const redis = new Redis(env.redis.url);
    try {
      // As if node A could not reach Redis for longer than the TTL: no heartbeat, key gone.
      const internals = a.server.cluster as unknown as { heartbeat: { cancel(): void }; beat(): Promise<void> };
      internals.heartbeat.cancel();
      await redis.del(`${env.keyPrefix}:node:a`);
      await until(() => b.server.cluster!.remoteByFull('carol@localhost/pc') === undefined, 'B treats A as dead', 5000);
      await until(async () => (await redis.hget(`${env.keyPrefix}:sess:carol@localhost`, 'pc')) === null, 'B reaped A', 5000);
      // A's next heartbeat notices that its key had expired and republishes; B sees carol/pc again
      await until(
        async () => {
          await internals.beat(); // the heartbeat runs again (by hand: its timer was cancelled)
          return b.server.cluster!.remoteByFull('carol@localhost/pc') !== undefined;
        },
        'A republished carol/pc',
        5000,
      );
      expect(b.server.cluster!.liveNodes).toEqual(['a', 'b']);
      expect(await redis.hget(`${env.keyPrefix}:sess:carol@localhost`, 'pc')).toContain('"n":"a"');
    } finally {
      redis.disconnect();
    }
  });

  it('resuming on node B a session whose stream on node A is still open: A closes it with <conflict/>', async () => {
    const SM = 'urn:xmpp:sm:3';
    const old = await RawClient.connect(a.ports.c2s);
    await old.login('alice', 'secret', 'laptop');
    old.send(`<enable xmlns='${SM}' resume='true'/>`);
    const id = /<enabled [^>]*id="([^"]+)"/.exec(await old.waitFor(/<enabled [^>]*\/>/))![1]!;
    old.send(`<iq type='get' id='p2' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await old.waitFor(/id="p2"/);
    const fresh = await RawClient.connect(b.ports.c2s);
    await fresh.authenticate('alice');
    fresh.send(`<resume xmlns='${SM}' previd='${id}' h='1'/>`);
    expect(await fresh.waitFor(/<resumed [^>]*\/>/)).toMatch(new RegExp(`<resumed xmlns="${SM}" h="1" previd="${id}"/>`));
    await old.waitFor(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    // the session now lives on node B, bound to the same full JID
    expect(b.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/laptop')?.stream).toBeDefined();
    expect(a.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/laptop')).toBeUndefined();
    old.destroy();
    fresh.destroy();
  });

  it('a second process with a node id that is alive refuses to start (it would wipe that node\'s sessions)', async () => {
    const { StrandServer } = await import('@strand/server');
    const { testConfig } = await import('../helpers/server.js');
    const dup = await StrandServer.create(
      testConfig({ storage: env.storage, cluster: { redis: env.redis.url, nodeId: 'b', heartbeatTtl: 2, handoverTimeout: 3, keyPrefix: env.keyPrefix, inboxMaxLen: 1000 } }),
    );
    try {
      await expect(dup.start()).rejects.toThrow(/another live process heartbeats as nodeId "b"/);
    } finally {
      await dup.stop();
    }
    // node b is untouched
    expect(b.server.cluster!.liveNodes).toEqual(['a', 'b']);
    expect(a.server.cluster!.remoteByFull('alice@localhost/laptop')).toBeDefined();
  });

  it('every node answers SCRAM for an unknown account with the same salt (no enumeration across nodes)', async () => {
    const saltFor = async (port: number, user: string): Promise<string> => {
      const r = await RawClient.connect(port);
      try {
        r.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`);
        await r.waitFor(/<\/stream:features>/);
        const first = Buffer.from(`n,,n=${user},r=clientnonce`).toString('base64');
        r.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${first}</auth>`);
        const text = await r.waitFor(/<challenge [^>]*>([^<]+)<\/challenge>/);
        const challenge = Buffer.from(/<challenge [^>]*>([^<]+)<\/challenge>/.exec(text)![1]!, 'base64').toString();
        return /(?:^|,)s=([^,]+)/.exec(challenge)![1]!;
      } finally {
        r.destroy();
      }
    };
    const onA = await saltFor(a.ports.c2s, 'nobody');
    expect(await saltFor(b.ports.c2s, 'nobody')).toBe(onA);
    expect(await saltFor(b.ports.c2s, 'someone-else')).not.toBe(onA); // per account, not one salt for all
  });

  it("another account's <resume/> on node B neither moves nor disturbs a session on node A", async () => {
    const SM = 'urn:xmpp:sm:3';
    const owner = await RawClient.connect(a.ports.c2s);
    await owner.login('alice', 'secret', 'tablet');
    owner.send(`<enable xmlns='${SM}' resume='true'/>`);
    const id = /<enabled [^>]*id="([^"]+)"/.exec(await owner.waitFor(/<enabled [^>]*\/>/))![1]!;
    const thief = await RawClient.connect(b.ports.c2s);
    await thief.authenticate('bob');
    thief.send(`<resume xmlns='${SM}' previd='${id}' h='0'/>`);
    expect(await thief.waitFor(/<failed [^>]*>[\s\S]*?<\/failed>/)).toMatch(
      new RegExp(`<failed xmlns="${SM}"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></failed>$`),
    );
    // alice's session stayed on node A, and its stream still works
    expect(a.server.container.get(SessionRegistryImpl).getLocal('alice@localhost/tablet')?.stream).toBeDefined();
    owner.send(`<iq type='get' id='still' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await owner.waitFor(/id="still"/);
    expect(owner.received).not.toContain('conflict');
    owner.destroy();
    thief.destroy();
  });
});
