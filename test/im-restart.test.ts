/**
 * RFC 6121 state survives a server restart with SQLite storage: offline messages (delivered
 * exactly once, in order, stamped), rosters with their version, and pending subscription requests.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Element } from '@xmpp/xml';
import { imModule } from '../packages/server/src/im/index.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const ROSTER = 'jabber:iq:roster';
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

describe('IM state across a restart (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strand-im-restart-'));
  const storage = { kind: 'sqlite' as const, path: join(dir, 'strand.db') };
  let srv: RunningServer | undefined;
  const clients: TestXmpp[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(username: string, resource: string): Promise<TestXmpp> {
    const c = await startClient({ port: srv!.ports.c2s, username, resource });
    clients.push(c);
    return c;
  }

  const rosterGet = (c: TestXmpp, ver?: string): Promise<Element> =>
    c.xmpp.iqCaller.request(
      xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ...(ver !== undefined ? { ver } : {}) })),
    );

  it('loses no message, roster item or pending request', async () => {
    srv = await startServer({ storage }, { modules: [imModule] });
    const alice = await login('alice', 'a');
    const bob = await login('bob', 'b');
    await rosterGet(alice);
    await rosterGet(bob);
    await alice.xmpp.send(xml('presence'));
    await bob.xmpp.send(xml('presence'));
    await alice.xmpp.send(xml('presence', { type: 'subscribe', to: 'bob@localhost' }));
    await bob.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe');
    await bob.xmpp.send(xml('presence', { type: 'subscribed', to: 'alice@localhost' }));
    await alice.waitFor((el) => el.is('presence') && el.attrs.from === 'bob@localhost/b' && !el.attrs.type);
    // carol's request reaches bob now and stays pending (bob does not answer it)
    const carol = await login('carol', 'c');
    await carol.xmpp.send(xml('presence', { type: 'subscribe', to: 'bob@localhost' }, xml('status', {}, 'add me')));
    await bob.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === 'carol@localhost');
    const bobVer = (await rosterGet(bob, '')).getChild('query', ROSTER)!.attrs.ver as string;
    await bob.stop();
    await alice.waitFor((el) => el.is('presence') && el.attrs.from === 'bob@localhost/b' && el.attrs.type === 'unavailable');

    for (const body of ['one', 'two', 'three']) {
      await alice.xmpp.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, body)));
    }
    await settle();
    await alice.stop();
    await carol.stop();
    await srv.stop();

    srv = await startServer({ storage }, { modules: [imModule] });
    const bob2 = await login('bob', 'b2');
    // the roster and its version survived: the cached version is still current
    const empty = await rosterGet(bob2, bobVer);
    expect(empty.children.filter((c) => typeof c !== 'string')).toHaveLength(0);
    await bob2.xmpp.send(xml('presence'));
    await bob2.waitFor((el) => el.is('message') && el.getChildText('body') === 'three');
    const request = await bob2.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe');
    expect(request.attrs.from).toBe('carol@localhost');
    expect(request.getChildText('status')).toBe('add me');
    await settle();
    const messages = bob2.inbox.filter((el) => el.is('message'));
    expect(messages.map((m) => m.getChildText('body'))).toEqual(['one', 'two', 'three']);
    for (const m of messages) expect(m.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    const items = (await rosterGet(bob2)).getChild('query', ROSTER)!.getChildren('item');
    expect(items.map((i: Element) => [i.attrs.jid, i.attrs.subscription])).toEqual([['alice@localhost', 'from']]);
  });
});
