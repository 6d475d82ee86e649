/**
 * Foundation acceptance: hostile or broken input on one connection gets its precise stream error
 * (RFC 6120 §4.9.3, §11) before the close tag, then the socket ends, while a bystander
 * conversation (alice ⇄ bob, @xmpp/client, one message each way every 20 ms) on the same server
 * loses nothing.
 *
 * Each case runs on its own raw TCP connection: the bytes received must be the server's header
 * (plus features and login replies where applicable), then exactly
 * `<stream:error><CONDITION xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text/>]</stream:error></stream:stream>`,
 * then nothing but the server's FIN. The last test checks the bystanders and the server's state.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startChatter, type Chatter } from './helpers/chatter.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { CLOSE_TAG, header, streamErrorAtEnd, WireClient } from './helpers/wire-client.js';

const HEADER = header();

/** "Billion laughs": nine levels of tenfold entity expansion (10⁹ "lol"s if expanded). */
function billionLaughsDtd(): string {
  let dtd = `<!DOCTYPE stream:stream [<!ENTITY lol0 "lol">`;
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  return `${dtd}]>`;
}

/** Deterministic pseudo-random bytes (a linear congruential generator), not starting with a BOM. */
function garbage(length: number, seed = 0x5eed): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 16;
  }
  out[0] = 0x8f; // a lone UTF-8 continuation byte: neither a BOM nor NUL (those mean another encoding)
  return out;
}

/** The start of a TLS 1.2 ClientHello: what a client that expected direct TLS sends to the STARTTLS port. */
const TLS_CLIENT_HELLO = Buffer.from('16030100a5010000a10303' + '5b'.repeat(32) + '000004c02fc030', 'hex');

interface Case {
  name: string;
  condition: string;
  /** Log in (PLAIN, bound resource) before sending `input`. */
  login?: boolean;
  input: string | Buffer | (() => string | Buffer);
}

const CASES: Case[] = [
  {
    name: 'a DTD with billion laughs entities before the stream header',
    condition: 'restricted-xml',
    input: `<?xml version='1.0'?>${billionLaughsDtd()}${HEADER.replace("<?xml version='1.0'?>", '')}<message>&lol9;</message>`,
  },
  {
    name: 'a DTD after the stream header',
    condition: 'restricted-xml',
    input: `${HEADER}${billionLaughsDtd()}<message>&lol9;</message>`,
  },
  {
    name: 'an entity reference other than the predefined five (no DTD)',
    condition: 'restricted-xml',
    login: true,
    input: `<message to='bob@localhost/chatter' type='chat'><body>&lol9;</body></message>`,
  },
  { name: 'a comment between stanzas', condition: 'restricted-xml', input: `${HEADER}<!-- hello -->` },
  {
    name: 'a comment inside a stanza',
    condition: 'restricted-xml',
    login: true,
    input: `<message to='bob@localhost/chatter' type='chat'><body>x</body><!-- hello --></message>`,
  },
  { name: 'a processing instruction between stanzas', condition: 'restricted-xml', input: `${HEADER}<?php echo 1; ?>` },
  {
    name: 'a processing instruction inside a stanza',
    condition: 'restricted-xml',
    login: true,
    input: `<message to='bob@localhost/chatter' type='chat'><?pi x?><body>x</body></message>`,
  },
  {
    name: 'a 10 MB stanza',
    condition: 'policy-violation',
    login: true,
    input: () => `<message to='bob@localhost/chatter' type='chat'><body>${'a'.repeat(10 * 1024 * 1024)}</body></message>`,
  },
  {
    name: '10 000-deep nesting',
    condition: 'policy-violation',
    login: true,
    input: () => `<message to='bob@localhost/chatter' type='chat'>${'<x>'.repeat(10000)}${'</x>'.repeat(10000)}</message>`,
  },
  {
    name: 'invalid UTF-8 inside a stanza',
    condition: 'not-well-formed',
    login: true,
    input: Buffer.concat([
      Buffer.from(`<message to='bob@localhost/chatter' type='chat'><body>`),
      Buffer.from([0xc3, 0x28, 0xff, 0xfe]),
      Buffer.from(`</body></message>`),
    ]),
  },
  { name: 'garbage bytes before any stream header', condition: 'not-well-formed', input: garbage(2048) },
  { name: 'a TLS ClientHello on the STARTTLS port', condition: 'not-well-formed', input: TLS_CLIENT_HELLO },
  { name: 'an HTTP request', condition: 'not-well-formed', input: 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' },
  { name: 'garbage bytes after a valid stream header', condition: 'not-well-formed', input: `${HEADER}<<\u0001\u0002>>&&` },
  {
    name: 'a stanza before authentication',
    condition: 'not-authorized',
    input: `${HEADER}<message to='bob@localhost/chatter' type='chat'><body>before auth</body></message>`,
  },
  { name: 'a stream header to an unknown host', condition: 'host-unknown', input: header('example.org') },
  {
    name: 'a wrong content namespace in the header',
    condition: 'invalid-namespace',
    input: HEADER.replace("xmlns='jabber:client'", "xmlns='jabber:server'"),
  },
  {
    name: 'a wrong stream namespace',
    condition: 'invalid-namespace',
    input: HEADER.replace("xmlns:stream='http://etherx.jabber.org/streams'", "xmlns:stream='urn:example:streams'"),
  },
  {
    name: 'an unknown top-level element after authentication',
    condition: 'unsupported-stanza-type',
    login: true,
    input: `<unknown-thing/>`,
  },
  {
    name: "a spoofed 'from' (another account's JID)",
    condition: 'invalid-from',
    login: true,
    input: `<message from='bob@localhost/chatter' to='bob@localhost/chatter' type='chat'><body>spoofed</body></message>`,
  },
];

describe('bad input: precise stream errors, no collateral damage', () => {
  let srv: RunningServer;
  let chatter: Chatter;
  const open: WireClient[] = [];
  let seq = 0;

  beforeAll(async () => {
    srv = await startServer();
    chatter = await startChatter(srv.ports);
  });
  afterAll(async () => {
    for (const c of open) c.destroy();
    await chatter?.stop();
    await srv?.stop();
  });

  /** Runs one case on a new connection; returns the client once its socket is closed. */
  async function run(c: Case): Promise<WireClient> {
    const sentBefore = chatter.sent;
    const client = await WireClient.connect(srv.ports.c2s);
    open.push(client);
    if (c.login) await client.login('alice', 'secret', `bad-${++seq}`);
    const bytesBefore = client.text.length;
    await client.send(typeof c.input === 'function' ? c.input() : c.input);
    await client.waitFor(CLOSE_TAG, 10_000);
    // A polite peer answers with its own close tag (the server may already have ended its side).
    client.sendCloseAndEnd();
    await client.waitClosed(5000);
    expect(client.text.length).toBeGreaterThan(bytesBefore);
    // Make sure the conversation went on while this connection lived (one message per 20 ms).
    while (chatter.sent <= sentBefore) await new Promise((r) => setTimeout(r, 5));
    return client;
  }

  function expectStreamError(client: WireClient, condition: string): void {
    const { text } = client;
    expect(text).toMatch(/^<\?xml version='1.0'\?><stream:stream [^>]*from='localhost'[^>]*>/);
    // The error, the close tag, and not one byte after it.
    expect(text).toMatch(streamErrorAtEnd(condition));
    expect(text.split('<stream:error>')).toHaveLength(2);
    expect(text.split(CLOSE_TAG)).toHaveLength(2);
    // The server ended the TCP connection cleanly (FIN), no reset.
    expect(client.finAt).toBeDefined();
    expect(client.error).toBeUndefined();
  }

  for (const c of CASES) {
    it(`${c.name} → <${c.condition}/>`, async () => {
      const client = await run(c);
      expectStreamError(client, c.condition);
    });
  }

  it('all cases at once, each on its own connection, get the same errors', async () => {
    const clients = await Promise.all(CASES.map((c) => run(c)));
    clients.forEach((client, i) => expectStreamError(client, CASES[i]!.condition));
  });

  it('the bystanders never noticed: every message arrived, in order, both ways, and the server is intact', async () => {
    const report = await chatter.finish(10_000);
    // The conversation overlapped every case (run() waits for a message sent during each).
    expect(report.sent).toBeGreaterThan(CASES.length);
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => String(i));
    expect(report.received).toEqual(upTo(report.sent));
    expect(report.receivedByAlice).toEqual(upTo(report.sentByBob));
    // Nothing leaked from the bad connections (pre-auth, spoofed or oversized messages to bob).
    expect(report.unexpected).toEqual([]);
    expect(report.incidents).toEqual([]);
    expect(chatter.alice.xmpp.status).toBe('online');
    expect(chatter.bob.xmpp.status).toBe('online');
    // Every bad connection is gone from the server; only the two bystanders remain.
    expect(srv.server.streamCount).toBe(2);
    // And the server still accepts and serves new connections.
    const fresh = await WireClient.connect(srv.ports.c2s);
    open.push(fresh);
    expect(await fresh.login('carol', 'secret', 'after')).toBe('carol@localhost/after');
    fresh.sendCloseAndEnd();
    await fresh.waitClosed();
    expect(fresh.text.endsWith(CLOSE_TAG)).toBe(true);
  });
});
