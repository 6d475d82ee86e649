/**
 * The server's XEP-0114 listener (`jabber:component:accept` on `listen.component`) byte by byte
 * with a raw TCP component, and with @xmpp/client users: stream header and handshake rules,
 * stream errors, routing to and from component domains and their subdomains, ServerInfo and
 * disco#items, stream listeners and the close handshake for component streams, plugins
 * (presence-probe `answerForComponents`, idle-close `componentIdle`).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ServerInfo, type ServerInfo as ServerInfoT } from '@strand/core';
import idleClose from '@strand/idle-close';
import presenceProbe from '@strand/presence-probe';
import { imModule } from '@strand/server';
import {
  CLOSE_TAG,
  COMPONENT,
  componentHeader,
  digest,
  rawComponent,
  SECRET,
  startComponentServer,
  until,
  type ComponentServer,
} from './helpers/component.js';
import { RawClient } from './helpers/raw-client.js';
import { testConfig } from './helpers/server.js';
import { startClient, xml, type TestXmpp } from './helpers/xmpp.js';

const XEP82_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function infoOf(srv: ComponentServer): ServerInfoT {
  return srv.server.container.get<ServerInfoT>(ServerInfo);
}

describe('XEP-0114 listener: negotiation', () => {
  let srv: ComponentServer;
  const raws: RawClient[] = [];

  beforeAll(async () => {
    srv = await startComponentServer({}, { extraComponents: [{ domain: 'other.localhost', secret: 'other' }] });
  });
  afterEach(async () => {
    for (const r of raws.splice(0)) {
      r.destroy();
      await r.ended;
    }
    await until(() => infoOf(srv).components.size === 0, 'components gone');
  });
  afterAll(async () => {
    await srv.stop();
  });

  async function connect(): Promise<RawClient> {
    const r = await RawClient.connect(srv.componentPort);
    raws.push(r);
    return r;
  }

  it('answers the header with from = the component name and an id, then <handshake/> for hex(SHA-1(id + secret))', async () => {
    const r = await connect();
    r.send(componentHeader());
    const text = await r.waitFor(/<stream:stream [^>]*>/);
    expect(text).toMatch(
      /^<\?xml version='1.0'\?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http:\/\/etherx.jabber.org\/streams' id='[A-Za-z0-9_-]{22}' from='component.localhost'>$/,
    );
    const id = /id='([^']+)'/.exec(text)![1]!;
    const before = Date.now();
    r.send(`<handshake>${digest(id, SECRET)}</handshake>`);
    await r.waitFor(/<handshake\/>$/);
    const entry = infoOf(srv).components.get(COMPONENT);
    expect(entry).toBeDefined();
    expect(entry!.connectedAt).toBeGreaterThanOrEqual(before - 5);
    const rec = srv.recorder.authenticated().at(-1)!;
    expect(rec.events).toEqual(['opened', `authenticated:${COMPONENT}`]);
    expect(rec.stream.kind).toBe('component');
  });

  it('an unknown component name gets host-unknown with a header and the close tag (RFC 6120 §4.9.1.2)', async () => {
    const r = await connect();
    r.send(componentHeader('nobody.localhost'));
    await r.waitFor(CLOSE_TAG);
    r.send(CLOSE_TAG);
    await r.ended;
    expect(r.received).toMatch(
      /^<\?xml version='1.0'\?><stream:stream [^>]*from='localhost'[^>]*><stream:error><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*<\/stream:error><\/stream:stream>$/,
    );
  });

  it('a wrong content namespace gets invalid-namespace', async () => {
    const r = await connect();
    r.send(componentHeader().replace('jabber:component:accept', 'jabber:client'));
    await r.waitFor(CLOSE_TAG);
    expect(r.received).toContain('<invalid-namespace xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
  });

  it('a wrong handshake gets not-authorized and the stream is closed', async () => {
    const r = await connect();
    r.send(componentHeader());
    const text = await r.waitFor(/<stream:stream [^>]*>/);
    const id = /id='([^']+)'/.exec(text)![1]!;
    r.send(`<handshake>${digest(id, 'wrong')}</handshake>`);
    await r.waitFor(CLOSE_TAG);
    expect(r.received).toMatch(/<stream:error><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>.*<\/stream:error><\/stream:stream>$/);
    r.send(CLOSE_TAG);
    await r.ended;
    expect(infoOf(srv).components.has(COMPONENT)).toBe(false);
    // Another component's secret does not open this one.
    const r2 = await connect();
    r2.send(componentHeader());
    const t2 = await r2.waitFor(/<stream:stream [^>]*>/);
    r2.send(`<handshake>${digest(/id='([^']+)'/.exec(t2)![1]!, 'other')}</handshake>`);
    await r2.waitFor('not-authorized');
  });

  it('a stanza before the handshake gets not-authorized', async () => {
    const r = await connect();
    r.send(componentHeader());
    await r.waitFor(/<stream:stream [^>]*>/);
    r.send(`<message from='bot@${COMPONENT}' to='alice@localhost'><body>early</body></message>`);
    await r.waitFor(CLOSE_TAG);
    expect(r.received).toContain('<not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
  });

  it('a second connection for a connected domain gets conflict; the first one stays', async () => {
    const { raw: first } = await rawComponent(srv.componentPort);
    raws.push(first);
    const first0 = infoOf(srv).components.get(COMPONENT)!.connectedAt;
    const r = await connect();
    r.send(componentHeader());
    const text = await r.waitFor(/<stream:stream [^>]*>/);
    r.send(`<handshake>${digest(/id='([^']+)'/.exec(text)![1]!, SECRET)}</handshake>`);
    await r.waitFor(CLOSE_TAG);
    expect(r.received).toMatch(/<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    expect(first.closed).toBe(false);
    expect(infoOf(srv).components.get(COMPONENT)!.connectedAt).toBe(first0);
    // Two different components may be connected at once.
    const { raw: other } = await rawComponent(srv.componentPort, 'other.localhost', 'other');
    raws.push(other);
    expect([...infoOf(srv).components.keys()].sort()).toEqual([COMPONENT, 'other.localhost']);
  });

  it('the component closes: the server answers </stream:stream>, listeners see the handshake, the domain is unlisted', async () => {
    const { raw } = await rawComponent(srv.componentPort);
    raws.push(raw);
    const rec = srv.recorder.authenticated().at(-1)!;
    const mark = raw.received.length;
    raw.send(CLOSE_TAG);
    await raw.waitFor(new RegExp(`[\\s\\S]{${mark}}</stream:stream>$`));
    await raw.ended;
    await until(() => rec.closeInfo !== undefined, 'onClosed');
    expect(rec.events.slice(-2)).toEqual(['closing:peer-close', 'closed:peer']);
    expect(rec.closeInfo).toMatchObject({ initiator: 'peer', handshakeTimedOut: false });
    expect(infoOf(srv).components.has(COMPONENT)).toBe(false);
  });
});

describe('XEP-0114 listener: routing, disco, addressing rules', () => {
  let srv: ComponentServer;
  let alice: TestXmpp;
  let comp: RawClient;

  beforeAll(async () => {
    srv = await startComponentServer({}, { extraComponents: [{ domain: 'spare.localhost', secret: 'spare' }] });
    alice = await startClient({ port: srv.ports.c2s, username: 'alice', resource: 'desk' });
    ({ raw: comp } = await rawComponent(srv.componentPort));
  });
  afterAll(async () => {
    await alice.stop();
    comp.destroy();
    await comp.ended;
    await srv.stop();
  });

  it('routes stanzas for the component domain and its subdomains to the component, and its stanzas to users', async () => {
    await alice.xmpp.send(xml('message', { to: `bot@${COMPONENT}`, id: 'a1' }, xml('body', {}, 'to the bot')));
    await alice.xmpp.send(xml('message', { to: `room@muc.${COMPONENT}`, id: 'a2' }, xml('body', {}, 'to a subdomain')));
    await comp.waitFor('id="a2"');
    expect(comp.received).toContain(`<message to="bot@${COMPONENT}" id="a1" from="${alice.jid}"><body>to the bot</body></message>`);
    expect(comp.received).toContain(`<message to="room@muc.${COMPONENT}" id="a2" from="${alice.jid}"><body>to a subdomain</body></message>`);

    comp.send(`<message from='bot@${COMPONENT}/x' to='${alice.jid}' id='c1'><body>hello</body></message>`);
    comp.send(`<message from='room@muc.${COMPONENT}/nick' to='${alice.jid}' id='c2' type='groupchat'><body>sub</body></message>`);
    const m1 = await alice.waitFor((el) => el.attrs.id === 'c1');
    const m2 = await alice.waitFor((el) => el.attrs.id === 'c2');
    expect(m1.attrs.from).toBe(`bot@${COMPONENT}/x`);
    expect(m1.getChildText('body')).toBe('hello');
    expect(m2.attrs.from).toBe(`room@muc.${COMPONENT}/nick`);
  });

  it('iqs from the component to the server are answered back to it', async () => {
    comp.send(`<iq type='get' id='i1' from='${COMPONENT}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await comp.waitFor(`<iq type="result" id="i1" to="${COMPONENT}" from="localhost"/>`);
  });

  it('disco#items of the server lists connected components', async () => {
    const result = await alice.xmpp.iqCaller.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#items' })),
    );
    const items = result.getChild('query')!.getChildren('item').map((i: { attrs: Record<string, string> }) => i.attrs.jid);
    expect(items).toEqual([COMPONENT]);
  });

  it('a stanza without to or from is improper-addressing; a from outside the domain is invalid-from', async () => {
    const cases: [string, string][] = [
      [`<message to='${alice.jid}'><body>no from</body></message>`, 'improper-addressing'],
      [`<message from='bot@spare.localhost'><body>no to</body></message>`, 'improper-addressing'],
      [`<message from='alice@localhost/desk' to='${alice.jid}'><body>spoof</body></message>`, 'invalid-from'],
      [`<message from='bot@${COMPONENT}' to='${alice.jid}'><body>spoof</body></message>`, 'invalid-from'],
      [`<message from='bot@xspare.localhost' to='${alice.jid}'><body>spoof</body></message>`, 'invalid-from'],
    ];
    for (const [stanza, condition] of cases) {
      const { raw } = await rawComponent(srv.componentPort, 'spare.localhost', 'spare');
      raw.send(stanza);
      await raw.waitFor(CLOSE_TAG);
      expect(raw.received).toContain(`<${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`);
      raw.destroy();
      await raw.ended;
    }
    expect(alice.inbox.some((el) => el.getChildText('body') === 'spoof')).toBe(false);
  });
});

describe('XEP-0114 listener with plugins', () => {
  it('presence-probe answerForComponents: a silent component is answered for with its connect time', async () => {
    const srv = await startComponentServer(
      { plugins: { '@strand/presence-probe': { answerForComponents: true, componentAnswerTimeout: 0.3 } } },
      { plugins: { '@strand/presence-probe': presenceProbe }, modules: [imModule] },
    );
    const alice = await startClient({ port: srv.ports.c2s, username: 'alice', resource: 'desk' });
    const { raw } = await rawComponent(srv.componentPort);
    try {
      const connectedAt = infoOf(srv).components.get(COMPONENT)!.connectedAt;
      await alice.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id: 'p1' }));
      // The probe reached the component, which does not answer.
      await raw.waitFor(`<presence type="probe" to="${COMPONENT}" id="p1" from="${alice.jid}"/>`);
      const answer = await alice.waitFor((el) => el.is('presence') && el.attrs.from === COMPONENT, 3000);
      expect(answer.attrs.type).toBeUndefined();
      const delay = answer.getChild('delay', 'urn:xmpp:delay')!;
      expect(delay.attrs.from).toBe(COMPONENT);
      expect(delay.attrs.stamp).toMatch(XEP82_UTC);
      expect(Date.parse(delay.attrs.stamp)).toBe(connectedAt);

      // A component that answers itself in time is not answered for.
      const mark = alice.inbox.length;
      await alice.xmpp.send(xml('presence', { type: 'probe', to: COMPONENT, id: 'p2' }));
      await raw.waitFor('id="p2"');
      raw.send(`<presence from='${COMPONENT}' to='${alice.jid}' id='own'><status>mine</status></presence>`);
      await alice.waitFor((el) => el.attrs.id === 'own');
      await new Promise((r) => setTimeout(r, 600));
      const answers = alice.inbox.slice(mark).filter((el) => el.is('presence') && el.attrs.from === COMPONENT);
      expect(answers.map((el) => el.attrs.id)).toEqual(['own']);
    } finally {
      raw.destroy();
      await raw.ended;
      await alice.stop();
      await srv.stop();
    }
  });

  it('idle-close componentIdle closes an idle component with the handshake (no stream error)', async () => {
    const srv = await startComponentServer(
      { plugins: { '@strand/idle-close': { componentIdle: 1 } } },
      { plugins: { '@strand/idle-close': idleClose } },
    );
    const { raw } = await rawComponent(srv.componentPort);
    try {
      const rec = srv.recorder.authenticated().at(-1)!;
      const mark = raw.received.length;
      await raw.waitFor(new RegExp(`[\\s\\S]{${mark}}</stream:stream>$`), 4000);
      expect(raw.received.slice(mark)).toBe(CLOSE_TAG); // no <stream:error/>
      expect(rec.events).toContain('closing:idle');
      raw.send(CLOSE_TAG);
      await raw.ended;
      await until(() => rec.closeInfo !== undefined, 'closed');
      expect(rec.closeInfo).toMatchObject({ initiator: 'server', handshakeTimedOut: false, reason: 'idle' });
      expect(infoOf(srv).components.has(COMPONENT)).toBe(false);
    } finally {
      raw.destroy();
      await srv.stop();
    }
  });

  it('read timeouts run onReadTimeout listeners for a silent component stream', async () => {
    const srv = await startComponentServer({ timeouts: { ...testConfig().timeouts, read: 1 } });
    const { raw } = await rawComponent(srv.componentPort);
    try {
      const rec = srv.recorder.authenticated().at(-1)!;
      await until(() => rec.events.includes('read-timeout'), 'onReadTimeout', 4000);
      expect(rec.stream.state).toBe('open');
    } finally {
      raw.destroy();
      await raw.ended;
      await srv.stop();
    }
  });

  it('a component that never completes the handshake is closed after timeouts.preAuth', async () => {
    const srv = await startComponentServer({ timeouts: { ...testConfig().timeouts, preAuth: 1 } });
    const raw = await RawClient.connect(srv.componentPort);
    try {
      raw.send(componentHeader());
      await raw.waitFor(CLOSE_TAG, 4000);
      expect(raw.received).toContain('<connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    } finally {
      raw.destroy();
      await raw.ended;
      await srv.stop();
    }
  });

  it('server shutdown closes component streams with system-shutdown through the handshake', async () => {
    const srv = await startComponentServer();
    const { raw } = await rawComponent(srv.componentPort);
    const stopping = srv.stop();
    await raw.waitFor(CLOSE_TAG);
    expect(raw.received).toMatch(/<stream:error><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/><\/stream:error><\/stream:stream>$/);
    raw.send(CLOSE_TAG);
    await stopping;
    await raw.ended;
  });

  it('component streams use the same limits as client streams (maxStanzaBytes → policy-violation)', async () => {
    const srv = await startComponentServer({
      limits: { ...testConfig().limits, maxStanzaBytes: 10000 },
    });
    const { raw } = await rawComponent(srv.componentPort);
    try {
      raw.send(`<message from='bot@${COMPONENT}' to='alice@localhost'><body>${'x'.repeat(12000)}</body></message>`);
      await raw.waitFor(CLOSE_TAG);
      expect(raw.received).toContain('<policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>');
    } finally {
      raw.destroy();
      await raw.ended;
      await srv.stop();
    }
  });
});
