import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { xml, type StreamErrorCondition } from '@strand/core';
import { CLIENT_HEADER, RecordingDelegate, sleep, startHarness, until, type Harness } from './harness.js';

const STREAM_ID = "id='[A-Za-z0-9_-]{22}'";
const OUR_HEADER_FULL = `<\\?xml version='1\\.0'\\?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx\\.jabber\\.org/streams' ${STREAM_ID} from='localhost' version='1\\.0' xml:lang='en'><stream:features/>`;
const OUR_HEADER_BARE = `<\\?xml version='1\\.0'\\?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx\\.jabber\\.org/streams' ${STREAM_ID} version='1\\.0' xml:lang='en'>`;

/** The whole byte stream the client must have received: our header, the error, the close tag, nothing else. */
function errorWire(condition: StreamErrorCondition, headerAnswered: boolean): RegExp {
  return new RegExp(
    `^${headerAnswered ? OUR_HEADER_FULL : OUR_HEADER_BARE}<stream:error><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>` +
      `(<text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">[^<]*</text>)?</stream:error></stream:stream>$`,
  );
}

describe('XmlStreamImpl over TCP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.stop();
  });

  it('delivers header and elements of input sent byte by byte, and tracks times', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    const before = Date.now();
    await sleep(5);
    await c.sendBytewise(
      `${CLIENT_HEADER.replace("version='1.0'>", "version='1.0' xml:lang='de'>")}<message to='a@localhost'><body>grüß ☺</body></message> <r xmlns='urn:xmpp:sm:3'/>`,
    );
    await until(() => delegate.elements.length === 2);
    expect(delegate.headers[0]).toEqual({
      to: 'localhost',
      xmlns: 'jabber:client',
      'xmlns:stream': 'http://etherx.jabber.org/streams',
      version: '1.0',
      'xml:lang': 'de',
    });
    expect(stream.lang).toBe('de');
    expect(stream.state).toBe('open');
    expect(stream.streamId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(delegate.elements[0].getChildText('body')).toBe('grüß ☺');
    expect(delegate.elements[0].getNS()).toBe('jabber:client');
    expect(stream.lastReadAt).toBeGreaterThan(before);
    expect(stream.lastWriteAt).toBeGreaterThan(before);
    const stanzaAt = stream.lastStanzaAt;
    expect(stanzaAt).toBeGreaterThan(before);
    await c.waitFor(new RegExp(`^${OUR_HEADER_FULL}$`));
    expect(c.text).toContain(`id='${stream.streamId}'`);
    expect(() => stream.writeNonza(xml('message'))).toThrow(/stanza/);
    expect(stream.writeNonza(xml('a', { xmlns: 'urn:xmpp:sm:3', h: '1' }))).toBe(true);
    stream.sendKeepalive();
    await c.waitFor(/<a xmlns="urn:xmpp:sm:3" h="1"\/> $/);
  });

  const bad: [string, string | Buffer, StreamErrorCondition, boolean][] = [
    ['a DTD before the header', "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>" + CLIENT_HEADER.slice(21), 'restricted-xml', false],
    [
      'billion laughs after the header',
      CLIENT_HEADER +
        "<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]><message>&lol2;</message>",
      'restricted-xml',
      true,
    ],
    ['10 000-deep nesting', CLIENT_HEADER + '<a>'.repeat(10000), 'policy-violation', true],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from(`${CLIENT_HEADER}<message><body>`), Buffer.from([0xf0, 0x28, 0x8c, 0x28])]),
      'not-well-formed',
      true,
    ],
    ['a comment', `${CLIENT_HEADER}<!-- hi -->`, 'restricted-xml', true],
    ['a processing instruction', `${CLIENT_HEADER}<?foo bar?>`, 'restricted-xml', true],
    ['an undefined entity', `${CLIENT_HEADER}<message>&foo;</message>`, 'restricted-xml', true],
    ['garbage bytes instead of a header', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), 'not-well-formed', false],
    ['garbage after the header', `${CLIENT_HEADER}<<<>>>`, 'not-well-formed', true],
    ['a wrong stream namespace', CLIENT_HEADER.replace('etherx.jabber.org', 'example.com'), 'invalid-namespace', false],
    ['an undeclared stream prefix', CLIENT_HEADER.replace(" xmlns:stream='http://etherx.jabber.org/streams'", ''), 'bad-namespace-prefix', false],
    ['text between stanzas', `${CLIENT_HEADER}hello<message/>`, 'bad-format', true],
    ['65 attributes', `${CLIENT_HEADER}<message ${Array.from({ length: 65 }, (_, i) => `a${i}='1'`).join(' ')}/>`, 'policy-violation', true],
    ['an oversized header', CLIENT_HEADER.replace("to='localhost'", `to='${'x'.repeat(5000)}'`), 'policy-violation', false],
  ];

  for (const [name, input, condition, headerAnswered] of bad) {
    it(`answers ${name} with <${condition}/>, the close tag, then nothing`, async () => {
      const c = await h.connect();
      const { delegate } = await h.accepted();
      c.send(input);
      await c.waitEnded();
      expect(c.text).toMatch(errorWire(condition, headerAnswered));
      await until(() => delegate.closedInfo !== undefined);
      expect(delegate.closedInfo).toMatchObject({
        initiator: 'server',
        error: { condition },
        handshakeTimedOut: false,
        endSession: true,
      });
      expect(delegate.closedCount).toBe(1);
    });
  }

  it('answers a 10 MB stanza with <policy-violation/> once the limit is crossed', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    c.send(`${CLIENT_HEADER}<message><body>`);
    const chunk = Buffer.alloc(65536, 'a');
    let sent = 0;
    while (!c.text.includes('</stream:stream>') && sent < 10 * 1024 * 1024 && !c.ended) {
      if (!c.socket.write(chunk)) await new Promise((r) => c.socket.once('drain', r));
      sent += chunk.length;
      await new Promise((r) => setImmediate(r));
    }
    await c.waitEnded();
    expect(sent).toBeLessThan(10 * 1024 * 1024);
    expect(c.text).toMatch(errorWire('policy-violation', true));
    expect(c.text).toContain('maxStanzaBytes (262144 bytes)');
    expect(delegate.elements).toHaveLength(0);
  });

  it('delivers the elements parsed before a parse error, then closes', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    delegate.element = async (stream, el) => {
      await sleep(20);
      stream.writeRaw(`<ack id='${el.attrs.id}'/>`);
    };
    c.send(`${CLIENT_HEADER}<message id='1'/><message id='2'/><!-- x -->`);
    await c.waitEnded();
    expect(delegate.calls).toEqual(['header', 'element:message', 'element:message', 'closing', 'closed']);
    expect(c.text).toMatch(/<ack id='1'\/><ack id='2'\/><stream:error><restricted-xml .*<\/stream:stream>$/);
  });

  it('close handshake: nothing is written after our close tag, input is still delivered until the peer closes', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    delegate.beforeClose = async (s) => {
      await sleep(10);
      expect(s.writeNonza(xml('a', { xmlns: 'urn:xmpp:sm:3', h: '0' }))).toBe(true);
    };
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    const closing = stream.close({ error: { condition: 'system-shutdown' }, reason: 'test' });
    expect(stream.state).toBe('closing');
    await c.waitFor('</stream:stream>');
    expect(c.text.endsWith('<a xmlns="urn:xmpp:sm:3" h="0"/><stream:error><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>')).toBe(true);
    const lengthAtClose = c.text.length;

    expect(stream.writeNonza(xml('r', { xmlns: 'urn:xmpp:sm:3' }))).toBe(false);
    expect(stream.writeStanza(xml('message'))).toBe(false);
    expect(stream.writeRaw('x')).toBe(false);
    expect(stream.openStream()).toBe(false);
    stream.sendKeepalive();
    expect(stream.close()).toBe(closing);

    c.send("<message id='late'><body>after your close tag</body></message><a xmlns='urn:xmpp:sm:3' h='3'/>");
    await until(() => delegate.elements.length === 2);
    expect(delegate.elements[0].attrs.id).toBe('late');
    expect(stream.state).toBe('closing');
    c.send('</stream:stream>');
    await closing;
    await c.waitEnded();
    expect(c.text.length).toBe(lengthAtClose);
    expect(delegate.closedInfo).toEqual({
      initiator: 'server',
      error: { condition: 'system-shutdown' },
      handshakeTimedOut: false,
      endSession: true,
      reason: 'test',
    });
    expect(delegate.calls).toEqual(['header', 'closing', 'element:message', 'element:a', 'closed']);
    expect(await stream.closed).toBe(delegate.closedInfo);
  });

  it('destroys the socket when the peer never answers our close tag', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    const started = Date.now();
    await stream.close({ timeoutMs: 200, endSession: false, reason: 'idle' });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
    await c.waitClosed();
    expect(c.text).toMatch(new RegExp(`^${OUR_HEADER_FULL}</stream:stream>$`));
    expect(delegate.closedInfo).toEqual({ initiator: 'server', handshakeTimedOut: true, endSession: false, reason: 'idle' });
  });

  it('peer-initiated close: onPeerClose after queued elements, our close tag, then the socket ends at once', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    delegate.element = () => sleep(30);
    delegate.peerClose = async (s) => {
      await s.close({ reason: 'peer-close' });
    };
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    const lengthBefore = c.text.length;
    const started = Date.now();
    c.send("<presence/><message id='m'/></stream:stream>");
    await c.waitEnded();
    expect(Date.now() - started).toBeLessThan(1000); // not the 5 s handshake timeout
    expect(c.text.slice(lengthBefore)).toBe('</stream:stream>');
    await stream.closed;
    expect(delegate.calls).toEqual(['header', 'element:presence', 'element:message', 'peer-close', 'closing', 'closed']);
    expect(delegate.closedInfo).toEqual({ initiator: 'peer', handshakeTimedOut: false, endSession: true, reason: 'peer-close' });
  });

  it('closes by itself when the host does not answer the peer close, and records a peer stream error', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    c.send(
      "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bye</text></stream:error></stream:stream>",
    );
    await c.waitEnded();
    await until(() => delegate.closedInfo !== undefined);
    expect(delegate.elements).toHaveLength(0);
    expect(delegate.closedInfo).toMatchObject({ initiator: 'peer', error: { condition: 'conflict', text: 'bye' } });
  });

  it('a handler may await close() without stalling the handshake', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    delegate.element = async (s, el) => {
      if (el.name === 'bad') await s.close({ error: { condition: 'unsupported-stanza-type' } });
    };
    c.send(`${CLIENT_HEADER}<bad/>`);
    await c.waitFor('</stream:stream>');
    const started = Date.now();
    c.send('<r/></stream:stream>');
    await c.waitEnded();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(delegate.calls).toEqual(['header', 'element:bad', 'closing', 'element:r', 'closed']);
  });

  it('a vanished peer is a transport loss', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    c.send(`${CLIENT_HEADER}<message/>`);
    await until(() => delegate.elements.length === 1);
    c.destroy();
    await until(() => delegate.closedInfo !== undefined);
    expect(delegate.closedInfo).toEqual({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason: 'eof' });
    expect(delegate.calls).not.toContain('closing');
  });

  it('destroy() cuts the connection at once', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    stream.destroy('dead-peer');
    stream.destroy('again');
    await c.waitClosed();
    expect(delegate.closedCount).toBe(1);
    expect(delegate.closedInfo).toEqual({ initiator: 'transport', handshakeTimedOut: false, endSession: false, reason: 'dead-peer' });
    expect(stream.writeRaw(' ')).toBe(false);
  });

  it('delivers elements strictly one at a time and in order, pausing reads when many wait', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    let inFlight = 0;
    let maxInFlight = 0;
    delegate.element = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
    };
    let input = CLIENT_HEADER;
    for (let i = 0; i < 500; i++) input += `<message id='${i}'/>`;
    c.send(input);
    await until(() => delegate.elements.length === 500, 5000);
    expect(maxInFlight).toBe(1);
    expect(delegate.elements.map((e) => Number(e.attrs.id))).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('answers to a pipelined burst leave in few socket writes, in order, and none is held once the backlog is done', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor(/<stream:features\/>$/);
    const socket = (stream as unknown as { socket: { write(data: string): boolean } }).socket;
    let writes = 0;
    const write = socket.write.bind(socket);
    socket.write = (data: string) => {
      writes++;
      return write(data);
    };
    // every element is answered at once, like XEP-0198 <a/> to <r/>; the pump yields every 32
    delegate.element = async (s, el) => {
      s.writeNonza(xml('a', { xmlns: 'urn:xmpp:sm:3', h: el.attrs.id }));
    };
    let input = '';
    for (let i = 0; i < 200; i++) input += `<r xmlns='urn:xmpp:sm:3' id='${i}'/>`;
    c.send(input);
    await until(() => (c.text.match(/<a /g) ?? []).length === 200, 5000);
    const answers = [...c.text.matchAll(/<a xmlns="urn:xmpp:sm:3" h="(\d+)"\/>/g)].map((m) => Number(m[1]));
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // without holding the batch while the own backlog is processed: one write per 32 elements (≥ 7)
    expect(writes).toBeLessThan(7);
    // a lone request afterwards is answered at once (nothing held back)
    c.send(`<r xmlns='urn:xmpp:sm:3' id='lone'/>`);
    await c.waitFor(/<a xmlns="urn:xmpp:sm:3" h="lone"\/>$/);
  });

  it('restart(): new parser and stream id, elements queued before it are dropped', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    delegate.element = async (s, el) => {
      await sleep(10);
      if (el.name === 'auth') {
        s.writeRaw("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        s.restart();
      }
    };
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    const firstId = stream.streamId;
    c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><injected/>");
    await c.waitFor('<success');
    expect(stream.state).toBe('opening');
    c.send(CLIENT_HEADER + "<iq type='set' id='bind'/>");
    await until(() => delegate.headers.length === 2 && delegate.elements.length === 2);
    expect(delegate.calls).toEqual(['header', 'element:auth', 'header', 'element:iq']);
    expect(stream.streamId).not.toBe(firstId);
    await c.waitFor(`id='${stream.streamId}'`);
  });
});

describe('XmlStreamImpl STARTTLS', () => {
  let h: Harness;
  let context: tls.SecureContext;
  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    context = tls.createSecureContext({ key: pems.private, cert: pems.cert });
    h = await startHarness({
      delegate: () => {
        const d = new RecordingDelegate();
        d.element = async (s, el) => {
          if (el.name === 'starttls') {
            s.writeNonza(xml('proceed', { xmlns: 'urn:ietf:params:xml:ns:xmpp-tls' }));
            await s.startTls(context);
          }
        };
        return d;
      },
    });
  });
  afterAll(async () => {
    await h.stop();
  });

  it('upgrades the socket, restarts the stream and keeps working over TLS', async () => {
    const c = await h.connect();
    const { stream, delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    const plainId = stream.streamId;
    expect(stream.secure).toBe(false);
    // Plaintext after <starttls/> in the same packet must never reach the protected stream.
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message id='injected'/>");
    await c.waitFor('<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/>');
    await c.startTls();
    c.send(`${CLIENT_HEADER}<message id='secret'/>`);
    await c.waitFor('<stream:features/>');
    await until(() => delegate.elements.length === 2);
    expect(stream.secure).toBe(true);
    expect(stream.streamId).not.toBe(plainId);
    expect(c.text).toMatch(new RegExp(`^${OUR_HEADER_FULL}$`));
    expect(delegate.calls).toEqual(['header', 'element:starttls', 'header', 'element:message']);
    expect(delegate.elements[1].attrs.id).toBe('secret');

    const closing = stream.close({ reason: 'done' });
    await c.waitFor('</stream:stream>');
    c.send('</stream:stream>');
    await closing;
    await c.waitEnded();
    expect(delegate.closedInfo).toMatchObject({ initiator: 'server', handshakeTimedOut: false });
  });

  it('a failed TLS handshake is a transport loss', async () => {
    const c = await h.connect();
    const { delegate } = await h.accepted();
    c.send(CLIENT_HEADER);
    await c.waitFor('<stream:features/>');
    c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await c.waitFor('<proceed');
    c.send('this is not a TLS ClientHello\r\n');
    await until(() => delegate.closedInfo !== undefined);
    expect(delegate.closedInfo).toMatchObject({ initiator: 'transport', endSession: false });
  });
});
