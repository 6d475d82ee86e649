/**
 * Foundation acceptance over real sockets with real clients (@xmpp/client 0.14): login over
 * STARTTLS and direct TLS with SCRAM-SHA-1, message routing, iq errors and disco.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startServer, type RunningServer } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

describe('foundation: real clients on a real server', () => {
  let srv: RunningServer;
  const clients: TestXmpp[] = [];

  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.stop()));
    await srv.stop();
  });

  async function login(username: string, scheme: 'xmpp' | 'xmpps', resource = 'test'): Promise<TestXmpp> {
    const port = scheme === 'xmpp' ? srv.ports.c2s : srv.ports.c2sTls;
    const c = await startClient({ port, username, scheme, resource });
    clients.push(c);
    return c;
  }

  it('logs in with SCRAM-SHA-1 over STARTTLS and over direct TLS, and routes a message', async () => {
    const alice = await login('alice', 'xmpp', 'laptop');
    const bob = await login('bob', 'xmpps', 'phone');
    expect(alice.jid).toBe('alice@localhost/laptop');
    expect(bob.jid).toBe('bob@localhost/phone');
    const metrics = await (await fetch(`http://127.0.0.1:${srv.ports.http}/metrics`)).text();
    expect(metrics).toMatch(/strand_auth_success_total\{mechanism="SCRAM-SHA-1"\} 2/);
    await alice.xmpp.send(xml('message', { to: 'bob@localhost/phone', type: 'chat', id: 'm1' }, xml('body', {}, 'hi bob')));
    const got = await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'hi bob');
    expect(got.attrs.from).toBe('alice@localhost/laptop');
    expect(got.attrs.to).toBe('bob@localhost/phone');
  });

  it('answers an iq to an unknown namespace with service-unavailable', async () => {
    const carol = await login('carol', 'xmpp');
    const reply = carol.waitFor((el) => el.is('iq') && el.attrs.id === 'u1');
    await carol.xmpp.send(xml('iq', { type: 'get', id: 'u1', to: 'localhost' }, xml('query', { xmlns: 'urn:example:nothing' })));
    const el = await reply;
    expect(el.attrs.type).toBe('error');
    expect(el.getChild('error')?.getChild('service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas')).toBeDefined();
    expect(el.getChild('error')?.attrs.type).toBe('cancel');
  });

  it('answers disco#info for the server and XEP-0199 ping', async () => {
    const alice = clients[0]!;
    const info = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    const query = info.getChild('query')!;
    expect(query.getChild('identity')?.attrs).toMatchObject({ category: 'server', type: 'im' });
    const features = query.getChildren('feature').map((f: { attrs: Record<string, string> }) => f.attrs.var);
    expect(features).toEqual(expect.arrayContaining(['http://jabber.org/protocol/disco#info', 'urn:xmpp:ping']));
    const pong = await alice.xmpp.iqCaller.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(pong.attrs.type).toBe('result');
  });
});
