/**
 * RFC 7395 transport acceptance over real sockets: `@xmpp/client` over WebSocket logs in and
 * chats with a TCP client both ways; the framing on the wire (`<open/>`, one element per message,
 * namespaces on every message); the HTTP side (subprotocol required, XEP-0156 host-meta);
 * keepalive pings; and every shape of the close handshake.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SessionRegistryImpl } from '@strand/server';
import type { CloseInfo, XmlStream } from '@strand/core';
import { startServer, type RunningServer } from '../helpers/server.js';
import { startClient, xml } from '../helpers/xmpp.js';
import { CLOSE, NS_FRAMING, open, startWsClient, wsUrl, WsWire } from '../helpers/ws-wire.js';

let srv: RunningServer;
const wires: WsWire[] = [];

beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  for (const w of wires) w.terminate();
  await srv.stop();
});

async function wire(): Promise<WsWire> {
  const w = await WsWire.connect(srv.ports.http);
  wires.push(w);
  return w;
}

/** The server side of a bound session's stream. */
function serverStream(fullJid: string): XmlStream {
  const s = srv.server.container.get(SessionRegistryImpl).getLocal(fullJid);
  if (!s?.stream) throw new Error(`no stream for ${fullJid}`);
  return s.stream;
}

/** GET on the HTTP port with explicit headers (fetch cannot set Host). */
function httpGet(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.ports.http, path, headers, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('@xmpp/client over WebSocket', () => {
  it('logs in and exchanges messages with a TCP client, in both directions', async () => {
    const alice = await startWsClient(srv.ports.http, 'alice', 'web');
    const bob = await startClient({ port: srv.ports.c2s, username: 'bob', resource: 'tcp' });
    try {
      expect(alice.jid).toBe('alice@localhost/web');
      await alice.xmpp.send(xml('message', { to: bob.jid, type: 'chat', id: 'w1' }, xml('body', {}, 'from the web')));
      const atBob = await bob.waitFor((el) => el.is('message') && el.attrs.id === 'w1');
      expect(atBob.attrs.from).toBe('alice@localhost/web');
      expect(atBob.getChildText('body')).toBe('from the web');

      await bob.xmpp.send(xml('message', { to: alice.jid, type: 'chat', id: 't1' }, xml('body', {}, 'from tcp')));
      const atAlice = await alice.waitFor((el) => el.is('message') && el.attrs.id === 't1');
      expect(atAlice.attrs.from).toBe('bob@localhost/tcp');
      expect(atAlice.getChildText('body')).toBe('from tcp');

      // The server's stream for alice is a WebSocket stream.
      const stream = serverStream(alice.jid);
      expect(stream.transport).toBe('websocket');
      expect(stream.supportsWhitespaceKeepalive).toBe(false);
      expect(stream.secure).toBe(false);
    } finally {
      await Promise.all([alice.stop(), bob.stop()]);
    }
  });

  it('two WebSocket clients chat with each other (50 messages each way, in order)', async () => {
    const a = await startWsClient(srv.ports.http, 'alice', 'w1');
    const c = await startWsClient(srv.ports.http, 'carol', 'w2');
    try {
      for (let i = 0; i < 50; i++) {
        await a.xmpp.send(xml('message', { to: c.jid, type: 'chat' }, xml('body', {}, `a${i}`)));
        await c.xmpp.send(xml('message', { to: a.jid, type: 'chat' }, xml('body', {}, `c${i}`)));
      }
      await c.waitFor((el) => el.getChildText('body') === 'a49');
      await a.waitFor((el) => el.getChildText('body') === 'c49');
      const bodies = (x: typeof a) => x.inbox.filter((el) => el.is('message')).map((el) => el.getChildText('body'));
      expect(bodies(c)).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
      expect(bodies(a)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    } finally {
      await Promise.all([a.stop(), c.stop()]);
    }
  });
});

describe('framing on the wire (RFC 7395 §3.3)', () => {
  it('answers <open/> with <open/>, then features in their own message with xmlns:stream', async () => {
    const w = await wire();
    await w.send(open('localhost', " xml:lang='de'"));
    await w.waitFor(/<\/stream:features>/);
    const [first, second] = w.messages.map((m) => m.data);
    expect(first).toMatch(
      new RegExp(`^<open xmlns='${NS_FRAMING}' id='[A-Za-z0-9_-]{22}' from='localhost' version='1.0' xml:lang='en'/>$`),
    );
    expect(second).toMatch(/^<stream:features xmlns:stream="http:\/\/etherx.jabber.org\/streams">.*<\/stream:features>$/);
    // No STARTTLS on WebSocket; SASL is offered on loopback.
    expect(second).not.toContain('starttls');
    expect(second).toContain('<mechanism>PLAIN</mechanism>');
    expect(w.messages).toHaveLength(2);
  });

  it('restarts with a new <open/> after SASL, with a new stream id; stanzas carry jabber:client', async () => {
    const w = await wire();
    const jid = await w.login('carol', 'secret', 'frames');
    expect(jid).toBe('carol@localhost/frames');
    const opens = w.messages.map((m) => m.data).filter((d) => d.startsWith('<open '));
    expect(opens).toHaveLength(2);
    const ids = opens.map((o) => /id='([^']+)'/.exec(o)![1]);
    expect(ids[0]).not.toBe(ids[1]);
    // A stanza routed from a TCP session arrives as one message, namespaced.
    const bob = await startClient({ port: srv.ports.c2s, username: 'bob', resource: 'tcp2' });
    try {
      await bob.xmpp.send(xml('message', { to: jid, type: 'chat', id: 'ns1' }, xml('body', {}, 'x')));
      const msg = await w.waitFor(/id="ns1"/);
      expect(msg).toMatch(/^<message [^>]*xmlns="jabber:client"/);
      expect(msg).toMatch(/<\/message>$/);
      // An iq from the WebSocket client is answered (disco#info on the server).
      await w.send(`<iq xmlns='jabber:client' type='get' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      expect(await w.waitFor(/id="d1"/)).toMatch(/^<iq xmlns="jabber:client"[^>]* type="result"/);
    } finally {
      await bob.stop();
    }
    // Every message the server sent is one complete element.
    for (const { data } of w.messages) expect(data).toMatch(/^<([a-z:]+)[\s/>][\s\S]*(\/>|<\/\1>)$/);
  });

  it('a whitespace-only message is ignored (not an error)', async () => {
    const w = await wire();
    await w.login('alice', 'secret', 'ws-space');
    await w.send('   \n');
    await w.send(`<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(await w.waitFor(/id="p1"/)).toContain('type="result"');
    expect(w.closeCode).toBeUndefined();
  });
});

describe('HTTP endpoint', () => {
  it('refuses a WebSocket without the "xmpp" subprotocol (RFC 7395 §3.1) and other paths', async () => {
    await expect(WsWire.connect(srv.ports.http, [])).rejects.toThrow(/400/);
    await expect(WsWire.connect(srv.ports.http, ['chat'])).rejects.toThrow(/400/);
    const { WebSocket } = await import('ws');
    const other = new WebSocket(`ws://127.0.0.1:${srv.ports.http}/other`, ['xmpp']);
    await expect(new Promise((_, reject) => other.once('error', reject))).rejects.toThrow(/404/);
  });

  it('answers a plain GET on the endpoint with 426 Upgrade Required; /metrics still works', async () => {
    const res = await httpGet('/xmpp-websocket');
    expect(res.status).toBe(426);
    const metrics = await httpGet('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/strand_connections_total\{transport="websocket"\} [1-9]/);
  });

  it('serves XEP-0156 host-meta (XRD and JSON) with the URL derived from the Host header', async () => {
    const xrd = await httpGet('/.well-known/host-meta', { host: 'chat.example.org:8080' });
    expect(xrd.status).toBe(200);
    expect(xrd.headers['content-type']).toMatch(/^application\/xrd\+xml/);
    expect(xrd.headers['access-control-allow-origin']).toBe('*');
    expect(xrd.body).toContain(`<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>`);
    expect(xrd.body).toContain(`<Link rel='urn:xmpp:alt-connections:websocket' href='ws://chat.example.org:8080/xmpp-websocket'/>`);

    const json = await httpGet('/.well-known/host-meta.json', { host: `localhost:${srv.ports.http}` });
    expect(json.status).toBe(200);
    expect(json.headers['content-type']).toBe('application/json');
    expect(JSON.parse(json.body)).toEqual({
      links: [{ rel: 'urn:xmpp:alt-connections:websocket', href: wsUrl(srv.ports.http) }],
    });

    // Behind a TLS-terminating proxy the advertised URL is wss://.
    const proxied = await httpGet('/.well-known/host-meta.json', { host: 'xmpp.example.org', 'x-forwarded-proto': 'https' });
    expect(JSON.parse(proxied.body).links[0].href).toBe('wss://xmpp.example.org/xmpp-websocket');
    // A Host header that is not a plain host[:port] is not echoed.
    const hostile = await httpGet('/.well-known/host-meta.json', { host: "evil.example/'><script>" });
    expect(JSON.parse(hostile.body).links[0].href).toBe(`ws://localhost:${srv.ports.http}/xmpp-websocket`);
  });
});

describe('keepalive', () => {
  it('sendKeepalive() sends a WebSocket ping and the pong counts as a read', async () => {
    const w = await wire();
    const jid = await w.login('alice', 'secret', 'ka');
    const stream = serverStream(jid);
    await new Promise((r) => setTimeout(r, 30));
    const before = stream.lastReadAt;
    const messages = w.messages.length;
    stream.sendKeepalive();
    await w.until(() => w.pings === 1, 2000, 'a ping');
    // ws answers the ping with a pong; the server records it as a read.
    const deadline = Date.now() + 2000;
    while (stream.lastReadAt === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(stream.lastReadAt).toBeGreaterThan(before);
    // No whitespace or any other message was written.
    expect(w.messages).toHaveLength(messages);
  });
});

describe('close handshake (RFC 7395 §3.6)', () => {
  it('the client closes: the server answers <close/>, the session ends, the client closes the WebSocket', async () => {
    const w = await wire();
    const jid = await w.login('alice', 'secret', 'bye');
    const closed = serverStream(jid).closed;
    const mark = w.messages.length;
    await w.send(CLOSE);
    await w.waitFor(CLOSE, 5000, mark);
    expect(w.messages.slice(mark).map((m) => m.data)).toEqual([`<close xmlns='${NS_FRAMING}'/>`]);
    const info: CloseInfo = await closed;
    expect(info).toMatchObject({ initiator: 'peer', handshakeTimedOut: false, endSession: true });
    expect(srv.server.container.get(SessionRegistryImpl).getLocal(jid)).toBeUndefined();
    w.closeNow(); // RFC 7395 §3.6: the closing party starts the WebSocket closing handshake
    await w.waitClosed();
    expect(w.closeCode).toBe(1000);
  });

  it("the server closes: error + <close/>, keeps reading until the client's <close/>, then closes the WebSocket", async () => {
    const w = await wire();
    const jid = await w.login('alice', 'secret', 'kick');
    const stream = serverStream(jid);
    const mark = w.messages.length;
    const closing = stream.close({ error: { condition: 'reset', text: 'test' }, reason: 'test' });
    await w.waitFor(CLOSE, 5000, mark);
    const tail = w.messages.slice(mark).map((m) => m.data);
    expect(tail).toEqual([
      `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><reset xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">test</text></stream:error>`,
      `<close xmlns='${NS_FRAMING}'/>`,
    ]);
    // The WebSocket stays open while the server waits for our <close/>.
    await new Promise((r) => setTimeout(r, 200));
    expect(w.closeCode).toBeUndefined();
    expect(stream.state).toBe('closing');
    await w.send(CLOSE);
    await closing;
    await w.waitClosed();
    expect(w.closeCode).toBe(1000); // the server started the WebSocket close
    await expect(stream.closed).resolves.toMatchObject({ initiator: 'server', handshakeTimedOut: false, error: { condition: 'reset' } });
  });

  it('a client that never answers <close/> is dropped after the handshake timeout', async () => {
    const w = await wire();
    const jid = await w.login('alice', 'secret', 'mute');
    const stream = serverStream(jid);
    const started = Date.now();
    await stream.close({ timeoutMs: 400, reason: 'test' });
    const info = await stream.closed;
    expect(info.handshakeTimedOut).toBe(true);
    await w.waitClosed();
    expect(w.closeCode).toBe(1006); // dropped, no close frame
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('a WebSocket closed without <close/> is a loss of transport (the session may be kept by SM)', async () => {
    const w = await wire();
    const jid = await w.login('alice', 'secret', 'lost');
    const stream = serverStream(jid);
    w.closeNow();
    await expect(stream.closed).resolves.toMatchObject({ initiator: 'transport', endSession: false });
  });

  it('if the client sends <close/> but never closes the WebSocket, the server does after the timeout', async () => {
    const w = await wire();
    await w.login('alice', 'secret', 'lingering');
    await w.send(CLOSE);
    await w.waitFor(CLOSE);
    // testConfig: timeouts.closeHandshake = 2 s; ws answers the server's close frame itself.
    await w.waitClosed(6000);
    expect(w.closeCode).toBe(1000);
  });
});
