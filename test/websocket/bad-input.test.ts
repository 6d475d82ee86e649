/**
 * Hostile or broken input over WebSocket gets the same precise stream errors as over TCP
 * (RFC 6120 §4.9.3, §11) plus the RFC 7395 framing rules, delivered as RFC 7395 §3.6.1 says: the
 * `<open/>` response if none was sent yet, the `<stream:error/>` in its own message, `<close/>`,
 * then the server closes the WebSocket. A bystander conversation on the same server (over TCP)
 * loses nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startChatter, type Chatter } from '../helpers/chatter.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { CLOSE, NS_FRAMING, open, WsWire } from '../helpers/ws-wire.js';

const MAX_STANZA_BYTES = 65536;

interface Case {
  name: string;
  condition: string;
  /** Log in (PLAIN, bound resource) before sending `input`; otherwise `<open/>` first unless `raw`. */
  login?: boolean;
  /** Send `input` as the very first message. */
  raw?: boolean;
  input: string | Buffer | (() => string | Buffer);
  binary?: boolean;
  /** WebSocket close code the server uses (default 1000). */
  code?: number;
}

const billionLaughs = (() => {
  let dtd = `<!DOCTYPE message [<!ENTITY lol0 "lol">`;
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  return `${dtd}]><message xmlns='jabber:client'><body>&lol9;</body></message>`;
})();

const MSG = `xmlns='jabber:client' to='bob@localhost/chatter' type='chat'`;

const CASES: Case[] = [
  {
    name: 'a first message that is not <open/>',
    condition: 'invalid-namespace',
    raw: true,
    input: `<message ${MSG}><body>x</body></message>`,
  },
  {
    name: 'a TCP stream header instead of <open/>',
    condition: 'not-well-formed',
    raw: true,
    input: `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>`,
  },
  {
    name: '<open/> in the jabber:client namespace',
    condition: 'invalid-namespace',
    raw: true,
    input: `<open xmlns='jabber:client' to='localhost' version='1.0'/>`,
  },
  { name: '<open/> without a namespace', condition: 'invalid-namespace', raw: true, input: `<open to='localhost' version='1.0'/>` },
  { name: '<open/> to an unknown host', condition: 'host-unknown', raw: true, input: open('example.org') },
  { name: '<open/> without version', condition: 'unsupported-version', raw: true, input: `<open xmlns='${NS_FRAMING}' to='localhost'/>` },
  { name: 'a second <open/> in an open stream', condition: 'bad-format', input: open() },
  { name: 'a stanza before authentication', condition: 'not-authorized', input: `<message ${MSG}><body>before auth</body></message>` },
  {
    name: 'a stanza without a namespace (RFC 7395 §3.3.3)',
    condition: 'invalid-namespace',
    login: true,
    input: `<message to='bob@localhost/chatter' type='chat'><body>x</body></message>`,
  },
  {
    name: 'an undeclared stream: prefix',
    condition: 'bad-namespace-prefix',
    login: true,
    input: `<stream:error><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
  },
  {
    name: 'two stanzas in one message',
    condition: 'not-well-formed',
    login: true,
    input: `<message ${MSG}><body>1</body></message><message ${MSG}><body>2</body></message>`,
  },
  { name: 'half a stanza (split across messages)', condition: 'not-well-formed', login: true, input: `<message ${MSG}><body>1</bo` },
  { name: 'text outside the element', condition: 'not-well-formed', login: true, input: `hello <message ${MSG}/>` },
  { name: 'garbage', condition: 'not-well-formed', login: true, input: `<<\u0001\u0002>>&&` },
  { name: 'a DTD with billion laughs', condition: 'restricted-xml', login: true, input: billionLaughs },
  {
    name: 'an undefined entity reference',
    condition: 'restricted-xml',
    login: true,
    input: `<message ${MSG}><body>&lol9;</body></message>`,
  },
  { name: 'a comment', condition: 'restricted-xml', login: true, input: `<message ${MSG}><body>x</body><!-- hi --></message>` },
  { name: 'a processing instruction', condition: 'restricted-xml', login: true, input: `<message ${MSG}><?pi x?><body>x</body></message>` },
  {
    name: 'an XML declaration naming UTF-16',
    condition: 'unsupported-encoding',
    login: true,
    input: `<?xml version='1.0' encoding='UTF-16'?><message ${MSG}/>`,
  },
  {
    name: '1 000-deep nesting',
    condition: 'policy-violation',
    login: true,
    input: () => `<message ${MSG}>${'<x>'.repeat(1000)}${'</x>'.repeat(1000)}</message>`,
  },
  {
    name: '100 attributes on one element',
    condition: 'policy-violation',
    login: true,
    input: () => `<message ${MSG}><x ${Array.from({ length: 100 }, (_, i) => `a${i}='1'`).join(' ')}/></message>`,
  },
  {
    name: 'a message above maxStanzaBytes (ws maxPayload)',
    condition: 'policy-violation',
    login: true,
    code: 1009,
    input: () => `<message ${MSG}><body>${'a'.repeat(MAX_STANZA_BYTES)}</body></message>`,
  },
  {
    name: 'a 10 MB message',
    condition: 'policy-violation',
    login: true,
    code: 1009,
    input: () => `<message ${MSG}><body>${'a'.repeat(10 * 1024 * 1024)}</body></message>`,
  },
  {
    name: 'invalid UTF-8 in a text message',
    condition: 'not-well-formed',
    login: true,
    code: 1007,
    input: Buffer.concat([Buffer.from(`<message ${MSG}><body>`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from(`</body></message>`)]),
  },
  { name: 'a binary message (RFC 7395 §3.2)', condition: 'bad-format', login: true, binary: true, input: Buffer.from(`<message ${MSG}/>`) },
  {
    name: 'an unknown top-level element',
    condition: 'unsupported-stanza-type',
    login: true,
    input: `<unknown-thing xmlns='urn:example'/>`,
  },
  {
    name: "a spoofed 'from'",
    condition: 'invalid-from',
    login: true,
    input: `<message xmlns='jabber:client' from='bob@localhost/chatter' to='bob@localhost/chatter' type='chat'><body>spoofed</body></message>`,
  },
];

describe('bad input over WebSocket: precise stream errors, no collateral damage', () => {
  let srv: RunningServer;
  let chatter: Chatter;
  const opened: WsWire[] = [];
  let seq = 0;

  beforeAll(async () => {
    srv = await startServer({
      limits: {
        maxStanzaBytes: MAX_STANZA_BYTES,
        maxDepth: 64,
        maxAttributes: 64,
        maxHeaderBytes: 4096,
        maxResourcesPerAccount: 100,
        offlinePerUser: 1000,
      },
    });
    chatter = await startChatter(srv.ports);
  });
  afterAll(async () => {
    for (const w of opened) w.terminate();
    await chatter?.stop();
    await srv?.stop();
  });

  async function run(c: Case): Promise<{ w: WsWire; mark: number }> {
    const sentBefore = chatter.sent;
    const w = await WsWire.connect(srv.ports.http);
    opened.push(w);
    if (c.login) await w.login('alice', 'secret', `bad-${++seq}`);
    else if (!c.raw) {
      await w.send(open());
      await w.waitFor(/<\/stream:features>/);
    }
    const mark = w.messages.length;
    await w.send(typeof c.input === 'function' ? c.input() : c.input, c.binary);
    await w.waitFor(CLOSE, 10_000, mark);
    // A polite peer answers with its own <close/> (after a parse error the server reads nothing
    // more and has already started the WebSocket close); then the server closes the WebSocket.
    await w.send(CLOSE);
    await w.waitClosed(5000);
    while (chatter.sent <= sentBefore) await new Promise((r) => setTimeout(r, 5));
    return { w, mark };
  }

  function expectStreamError({ w, mark }: { w: WsWire; mark: number }, c: Case): void {
    const tail = w.messages.slice(mark).map((m) => m.data);
    // Before the header was answered: our <open/> first (RFC 7395 §3.6.1).
    if (c.raw) expect(tail.shift()).toMatch(new RegExp(`^<open xmlns='${NS_FRAMING}' id='[^']+' from='localhost'`));
    expect(tail).toHaveLength(2);
    expect(tail[0]).toMatch(
      new RegExp(
        `^<stream:error xmlns:stream="http://etherx.jabber.org/streams"><${c.condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>(<text [^>]*>[^<]*</text>)?</stream:error>$`,
      ),
    );
    expect(tail[1]).toBe(`<close xmlns='${NS_FRAMING}'/>`);
    expect(w.closeCode).toBe(c.code ?? 1000);
    expect(w.error).toBeUndefined();
  }

  for (const c of CASES) {
    it(`${c.name} → <${c.condition}/>`, async () => {
      expectStreamError(await run(c), c);
    });
  }

  it('all cases at once, each on its own WebSocket, get the same errors', async () => {
    const results = await Promise.all(CASES.map((c) => run(c)));
    results.forEach((r, i) => expectStreamError(r, CASES[i]!));
  }, 60_000);

  it('the bystanders never noticed, and no stream is left open', async () => {
    const report = await chatter.finish(10_000);
    expect(report.sent).toBeGreaterThan(CASES.length);
    expect(report.received).toEqual(Array.from({ length: report.sent }, (_, i) => String(i)));
    expect(report.unexpected).toEqual([]);
    expect(report.incidents).toEqual([]);
    // Only the two chatter streams remain.
    const deadline = Date.now() + 5000;
    while (srv.server.streamCount > 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(srv.server.streamCount).toBe(2);
  });
});
