import { describe, expect, it } from '@jest/globals';
import type { Element } from '@xmpp/xml';
import type { StreamErrorCondition } from '@strand/core';
import { DEFAULT_STREAM_LIMITS, StreamParser, type StreamParserLimits } from '../../src/stream/parser.js';

const HEADER =
  "<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' " +
  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='fr'>";

type Ev =
  | { type: 'start'; attrs: Record<string, string>; ns: Record<string, string> }
  | { type: 'element'; el: Element }
  | { type: 'end' }
  | { type: 'error'; condition: StreamErrorCondition; text: string };

function record(limits: Partial<StreamParserLimits> = {}) {
  const parser = new StreamParser(limits);
  const events: Ev[] = [];
  parser.on('streamStart', (attrs, ns) => events.push({ type: 'start', attrs, ns }));
  parser.on('element', (el) => events.push({ type: 'element', el }));
  parser.on('streamEnd', () => events.push({ type: 'end' }));
  parser.on('error', (condition, text) => events.push({ type: 'error', condition, text }));
  const errors = () => events.filter((e): e is Extract<Ev, { type: 'error' }> => e.type === 'error');
  const elements = () => events.filter((e): e is Extract<Ev, { type: 'element' }> => e.type === 'element').map((e) => e.el);
  return { parser, events, errors, elements };
}

function bytewise(parser: StreamParser, data: string | Buffer): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let i = 0; i < buf.length; i++) parser.write(buf.subarray(i, i + 1));
}

/** Feeds `input` whole and byte by byte; both must yield exactly one error with `condition`. */
function expectError(input: string | Buffer, condition: StreamErrorCondition, limits: Partial<StreamParserLimits> = {}): string {
  const whole = record(limits);
  whole.parser.write(typeof input === 'string' ? Buffer.from(input) : input);
  const single = record(limits);
  bytewise(single.parser, input);
  for (const r of [whole, single]) {
    expect(r.errors().map((e) => e.condition)).toEqual([condition]);
    expect(r.events[r.events.length - 1].type).toBe('error');
  }
  return whole.errors()[0].text;
}

describe('StreamParser: well-formed streams', () => {
  const stream =
    HEADER +
    " <message to='a@localhost' id='1'><body>h&amp;llo &#x263A; ünï €𝄞</body><x xmlns='urn:x' xmlns:p='urn:p' p:a='1'><p:y/></x></message>\n" +
    "<stream:features/><iq type='get' id='2'><![CDATA[<raw>]]></iq>  </stream:stream>";

  for (const mode of ['whole', 'byte by byte'] as const) {
    it(`parses header, elements and end (${mode})`, () => {
      const { parser, events, elements } = record();
      if (mode === 'whole') parser.write(Buffer.from(stream));
      else bytewise(parser, stream);
      expect(events.map((e) => e.type)).toEqual(['start', 'element', 'element', 'element', 'end']);
      const start = events[0] as Extract<Ev, { type: 'start' }>;
      expect(start.attrs).toEqual({ to: 'localhost', version: '1.0', 'xml:lang': 'fr' });
      expect(start.ns).toEqual({ xmlns: 'jabber:client', 'xmlns:stream': 'http://etherx.jabber.org/streams' });
      const [message, features, iq] = elements();
      expect(message.getNS()).toBe('jabber:client');
      expect(message.getChildText('body')).toBe('h&llo ☺ ünï €𝄞');
      expect(message.getChild('x')?.getChild('y', 'urn:p')).toBeDefined();
      expect(message.toString()).toBe(
        '<message to="a@localhost" id="1"><body>h&amp;llo ☺ ünï €𝄞</body><x xmlns="urn:x" xmlns:p="urn:p" p:a="1"><p:y/></x></message>',
      );
      expect(features.is('features', 'http://etherx.jabber.org/streams')).toBe(true);
      expect(iq.getText()).toBe('<raw>');
      // Top-level elements hang off the root but are not accumulated in it.
      expect(message.parent?.name).toBe('stream:stream');
      expect(message.parent?.children).toHaveLength(0);
    });
  }

  it('accepts whitespace keepalives between elements and ignores input after the stream end', () => {
    const { parser, events } = record();
    parser.write(Buffer.from(HEADER));
    for (let i = 0; i < 10; i++) parser.write(Buffer.from(' '));
    parser.write(Buffer.from('\n\t<presence/>\r\n </stream:stream> garbage <<<'));
    expect(events.map((e) => e.type)).toEqual(['start', 'element', 'end']);
  });

  it('accepts a stanza of exactly maxStanzaBytes, rejects one byte more', () => {
    const stanza = (n: number) => {
      const fixed = '<message><body></body></message>';
      return `<message><body>${'é'.repeat((n - fixed.length) / 2)}</body></message>`;
    };
    const limit = 1000;
    const ok = stanza(limit);
    expect(Buffer.byteLength(ok)).toBe(limit);
    const a = record({ maxStanzaBytes: limit });
    bytewise(a.parser, `${HEADER}  ${ok}  ${ok}`);
    expect(a.elements()).toHaveLength(2);
    expect(a.errors()).toEqual([]);
    const tooBig = ok.replace('<body>', '<body>x');
    const text = expectError(`${HEADER}${tooBig}`, 'policy-violation', { maxStanzaBytes: limit });
    expect(text).toContain('maxStanzaBytes (1000 bytes)');
  });

  it('lets a handler restart the stream mid-chunk; the rest of the chunk starts the new stream', () => {
    const { parser, events } = record();
    parser.on('element', (el) => {
      if (el.name === 'success') parser.reset();
    });
    parser.write(
      Buffer.from(
        `${HEADER}<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
          "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'><iq type='set' id='b'/>",
      ),
    );
    expect(events.map((e) => e.type)).toEqual(['start', 'element', 'start', 'element']);
    expect((events[3] as { el: Element }).el.attrs.id).toBe('b');
  });

  it('reset({ discardRest }) in a handler drops the rest of the write (STARTTLS)', () => {
    const { parser, events } = record();
    parser.on('element', (el) => {
      if (el.name === 'starttls') parser.reset({ discardRest: true });
    });
    const big = Buffer.from(`${HEADER}<starttls/><message id='injected'/>${' '.repeat(70000)}<message id='injected2'/>`);
    parser.write(big);
    expect(events.map((e) => e.type)).toEqual(['start', 'element']);
    parser.write(Buffer.from(`${HEADER}<message id='ok'/>`));
    expect(events.map((e) => e.type)).toEqual(['start', 'element', 'start', 'element']);
    expect((events[3] as { el: Element }).el.attrs.id).toBe('ok');
  });

  it('starts afresh after a reset between chunks, even after an error', () => {
    const { parser, events } = record();
    parser.write(Buffer.from(`${HEADER}<a><!-- x --></a>`));
    parser.write(Buffer.from('<more/>'));
    expect(events.map((e) => e.type)).toEqual(['start', 'error']);
    parser.reset();
    parser.write(Buffer.from(`${HEADER}<b/>`));
    expect(events.map((e) => e.type)).toEqual(['start', 'error', 'start', 'element']);
  });
});

describe('StreamParser: rejected input', () => {
  it('DTD before the header and billion laughs → restricted-xml', () => {
    const lol =
      "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>" +
      "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>" +
      "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>]>" +
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol3;";
    expectError(lol, 'restricted-xml');
    expectError(`${HEADER}<!DOCTYPE x>`, 'restricted-xml');
  });

  it('comments, processing instructions and undefined entities → restricted-xml', () => {
    expectError(`${HEADER}<!-- hello -->`, 'restricted-xml');
    expectError(`<!-- before -->${HEADER}`, 'restricted-xml');
    expectError(`${HEADER}<message><body>a<!--b--></body></message>`, 'restricted-xml');
    expectError(`${HEADER}<?php echo 1 ?>`, 'restricted-xml');
    expectError(`<?xml version='1.0'?><?style x?>${HEADER.slice(21)}`, 'restricted-xml');
    expectError(`${HEADER}<message><body>&nbsp;</body></message>`, 'restricted-xml');
  });

  it('invalid UTF-8 → not-well-formed "invalid UTF-8"; other encodings → unsupported-encoding', () => {
    const bad = Buffer.concat([Buffer.from(`${HEADER}<message><body>`), Buffer.from([0xc3, 0x28]), Buffer.from('</body></message>')]);
    expect(expectError(bad, 'not-well-formed')).toBe('invalid UTF-8');
    expectError(Buffer.concat([Buffer.from(HEADER), Buffer.from([0xff])]), 'not-well-formed');
    expectError(Buffer.from(`\ufeff${HEADER}`, 'utf16le'), 'unsupported-encoding');
    expectError(Buffer.from(HEADER, 'utf16le'), 'unsupported-encoding');
    expectError(HEADER.replace("version='1.0'?>", "version='1.0' encoding='ISO-8859-1'?>"), 'unsupported-encoding');
  });

  it('garbage and malformed XML → not-well-formed', () => {
    expectError('\x01\x02garbage', 'not-well-formed');
    expectError('GET / HTTP/1.1\r\n\r\n', 'not-well-formed');
    expectError(`${HEADER}<<<>>>`, 'not-well-formed');
    expectError(`${HEADER}<message a='1' a='2'/>`, 'not-well-formed');
    expectError(`${HEADER}<message><body></message>`, 'not-well-formed');
  });

  it('a mismatched close tag never yields the element', () => {
    for (const input of [`${HEADER}<message></iq>`, `${HEADER}<message><body>x</body></stream:stream>`, `${HEADER}</foo>`]) {
      const r = record();
      r.parser.write(Buffer.from(input));
      expect(r.events.map((e) => e.type)).toEqual(['start', 'error']);
      expect(r.errors()[0].condition).toBe('not-well-formed');
    }
  });

  it('wrong stream namespace or prefix', () => {
    expectError(
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://example.com/streams'>",
      'invalid-namespace',
    );
    expectError("<stream xmlns='jabber:client'>", 'invalid-namespace');
    expectError("<stream:stream xmlns='jabber:client' to='localhost'>", 'bad-namespace-prefix');
    expectError(
      "<foobar:stream xmlns='jabber:client' xmlns:foobar='http://etherx.jabber.org/streams'>",
      'bad-namespace-prefix',
    );
    expectError("<stream xmlns='http://etherx.jabber.org/streams'>", 'bad-namespace-prefix');
    expectError(`${HEADER}<message><p:x/></message>`, 'bad-namespace-prefix');
    expectError(`${HEADER}<message q:a='1'/>`, 'bad-namespace-prefix');
  });

  it('character data between top-level elements → bad-format', () => {
    expectError(`${HEADER}hello<message/>`, 'bad-format');
    expectError(`${HEADER}<message/>&amp;<presence/>`, 'bad-format');
    expectError(`${HEADER}<![CDATA[x]]>`, 'bad-format');
  });

  it('limits → policy-violation naming the limit', () => {
    expect(expectError(`${HEADER}${'<a>'.repeat(10000)}`, 'policy-violation')).toContain('maxDepth (64)');
    const r = record();
    r.parser.write(Buffer.from(`${HEADER}${'<a>'.repeat(64)}${'</a>'.repeat(64)}`));
    expect(r.errors()).toEqual([]);
    expect(r.elements()).toHaveLength(1);

    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='x'`).join('');
    expect(expectError(`${HEADER}<message${attrs(65)}/>`, 'policy-violation')).toContain('maxAttributes (64)');
    const ok = record();
    ok.parser.write(Buffer.from(`${HEADER}<message${attrs(64)}/>`));
    expect(ok.elements()).toHaveLength(1);

    const bigHeader = HEADER.replace("to='localhost'", `to='${'x'.repeat(5000)}'`);
    expect(expectError(bigHeader, 'policy-violation')).toContain('maxHeaderBytes (4096 bytes)');
    expectError(`${HEADER.slice(0, -1)}${' '.repeat(5000)}`, 'policy-violation'); // never-ending header
    expectError(`${HEADER}${' '.repeat(300000)}`, 'policy-violation', {}); // whitespace flood
  });

  it('rejects a 10 MB stanza as soon as the limit is crossed, without buffering it', () => {
    const { parser, errors } = record();
    parser.write(Buffer.from(`${HEADER}<message><body>`));
    const chunk = Buffer.alloc(16384, 'a');
    let fed = 0;
    while (errors().length === 0 && fed < 10 * 1024 * 1024) {
      parser.write(chunk);
      fed += chunk.length;
    }
    expect(errors().map((e) => e.condition)).toEqual(['policy-violation']);
    expect(fed).toBeGreaterThan(DEFAULT_STREAM_LIMITS.maxStanzaBytes - chunk.length);
    expect(fed).toBeLessThanOrEqual(DEFAULT_STREAM_LIMITS.maxStanzaBytes + chunk.length);
    // The same in one 10 MB write: cut after at most one 64 KiB slice past the limit.
    const once = record();
    once.parser.write(Buffer.concat([Buffer.from(`${HEADER}<message><body>`), Buffer.alloc(10 * 1024 * 1024, 'a')]));
    expect(once.errors().map((e) => e.condition)).toEqual(['policy-violation']);
  });

  it('ignores all input after an error', () => {
    const { parser, events } = record();
    parser.write(Buffer.from(`${HEADER}<!-- x -->`));
    parser.write(Buffer.from('<message/><message/>'));
    parser.write(Buffer.from([0xff, 0xfe]));
    expect(events.map((e) => e.type)).toEqual(['start', 'error']);
  });
});

describe('StreamParser: whitespace-only reads between elements (keepalive fast path)', () => {
  const types = (events: Ev[]) => events.map((e) => e.type);

  it('whitespace split over many reads, then a stanza in a read that starts and ends with whitespace', () => {
    const { parser, events, elements } = record();
    parser.write(Buffer.from(HEADER));
    for (const ws of [' ', '\n', '\r', '\t', '  \r\n ']) {
      parser.write(Buffer.from(ws));
      expect(parser.incomplete).toBe(false);
    }
    parser.write(Buffer.from(" <message id='a'><body>x</body></message>\r"));
    parser.write(Buffer.from('\n'));
    parser.write(Buffer.from("\t<presence id='b'/>"));
    parser.write(Buffer.from(' '));
    parser.write(Buffer.from('</stream:stream>'));
    expect(types(events)).toEqual(['start', 'element', 'element', 'end']);
    expect(elements().map((el) => el.attrs.id)).toEqual(['a', 'b']);
    expect(elements()[0]!.getChildText('body')).toBe('x');
  });

  it('whitespace inside an element is text, not a keepalive', () => {
    const { parser, elements } = record();
    parser.write(Buffer.from(`${HEADER}<message><body>`));
    parser.write(Buffer.from('  '));
    parser.write(Buffer.from('\t'));
    parser.write(Buffer.from('x</body></message>'));
    expect(elements()[0]!.getChildText('body')).toBe('  \tx');
    // Whitespace read while a top-level element is open but still in its open tag.
    const b = record();
    b.parser.write(Buffer.from(`${HEADER}<message`));
    b.parser.write(Buffer.from(' '));
    expect(b.parser.incomplete).toBe(true);
    b.parser.write(Buffer.from("id='z'/>"));
    expect(b.elements()[0]!.attrs.id).toBe('z');
  });

  it('whitespace counts towards maxStanzaBytes until the next element starts, at the exact byte', () => {
    const limits = { maxStanzaBytes: 10 };
    const ok = record(limits);
    ok.parser.write(Buffer.from(`${HEADER}<a/>`));
    for (let i = 0; i < 10; i++) ok.parser.write(Buffer.from(' '));
    ok.parser.write(Buffer.from('<b/>'));
    expect(ok.errors()).toEqual([]);
    expect(ok.elements()).toHaveLength(2);

    const tooMuch = record(limits);
    tooMuch.parser.write(Buffer.from(`${HEADER}<a/>`));
    for (let i = 0; i < 10; i++) tooMuch.parser.write(Buffer.from(' '));
    expect(tooMuch.errors()).toEqual([]);
    tooMuch.parser.write(Buffer.from(' '));
    expect(tooMuch.errors().map((e) => e.condition)).toEqual(['policy-violation']);
    expect(tooMuch.errors()[0]!.text).toContain('maxStanzaBytes (10 bytes)');
    // One read crossing the limit, after reads that did not.
    const crossing = record(limits);
    crossing.parser.write(Buffer.from(`${HEADER}<a/>   `));
    crossing.parser.write(Buffer.from('    '));
    crossing.parser.write(Buffer.from('    '));
    expect(crossing.errors().map((e) => e.condition)).toEqual(['policy-violation']);
    // Whitespace after a stanza of the same read also counts.
    expectError(`${HEADER}<a/>${' '.repeat(11)}`, 'policy-violation', limits);
  });

  it('a UTF-8 character split before a whitespace read is still decoded strictly', () => {
    // 0xC3 starts a two-byte sequence; a space cannot continue it.
    const bad = record();
    bad.parser.write(Buffer.from(`${HEADER}<a/>`));
    bad.parser.write(Buffer.from([0xc3]));
    expect(bad.parser.incomplete).toBe(true);
    bad.parser.write(Buffer.from(' '));
    expect(bad.errors().map((e) => [e.condition, e.text])).toEqual([['not-well-formed', 'invalid UTF-8']]);
    // Completed in the next read, the character is data between elements: bad-format.
    const split = record();
    split.parser.write(Buffer.from(`${HEADER}<a/>`));
    split.parser.write(Buffer.from([0xc3]));
    split.parser.write(Buffer.from([0xa9, 0x20]));
    expect(split.parser.incomplete).toBe(true); // data started: no longer a gap
    split.parser.write(Buffer.from(' '));
    split.parser.write(Buffer.from('<b/>'));
    expect(split.errors().map((e) => e.condition)).toEqual(['bad-format']);
    // A multibyte character split inside an element, then whitespace reads, then the rest.
    const inside = record();
    inside.parser.write(Buffer.from(`${HEADER}<m><body>`));
    for (const ch of ['é', '€', '𝄞']) {
      const bytes = Buffer.from(ch);
      inside.parser.write(bytes.subarray(0, 1));
      inside.parser.write(bytes.subarray(1));
      inside.parser.write(Buffer.from(' '));
    }
    inside.parser.write(Buffer.from('</body></m>'));
    // …and split right after an element, followed by whitespace reads and the next element.
    const last = Buffer.from("<n a='€'/>");
    inside.parser.write(last.subarray(0, 7));
    inside.parser.write(last.subarray(7));
    inside.parser.write(Buffer.from(' '));
    inside.parser.write(Buffer.from('<o/>'));
    expect(inside.errors()).toEqual([]);
    expect(inside.elements().map((el) => el.name)).toEqual(['m', 'n', 'o']);
    expect(inside.elements()[0]!.getChildText('body')).toBe('é € 𝄞 ');
    expect(inside.elements()[1]!.attrs.a).toBe('€');
  });

  it('non-ASCII whitespace, other bytes and NUL between elements are not keepalives', () => {
    expectError(Buffer.concat([Buffer.from(`${HEADER}<a/>`), Buffer.from([0xc2, 0xa0]), Buffer.from('<b/>')]), 'bad-format'); // U+00A0
    expectError(Buffer.concat([Buffer.from(`${HEADER}<a/> `), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(' <b/>')]), 'bad-format'); // BOM
    expectError(Buffer.concat([Buffer.from(`${HEADER}<a/> `), Buffer.from([0x00])]), 'not-well-formed');
    expectError(`${HEADER}<a/> \u000b `, 'not-well-formed'); // vertical tab: not XML whitespace, not a legal character
    // The same split so that the offending byte comes in a read of its own after whitespace reads.
    const r = record();
    r.parser.write(Buffer.from(`${HEADER}<a/>`));
    r.parser.write(Buffer.from('  '));
    r.parser.write(Buffer.from('x'));
    r.parser.write(Buffer.from(' '));
    r.parser.write(Buffer.from('<b/>'));
    expect(r.errors().map((e) => e.condition)).toEqual(['bad-format']);
  });

  it('whitespace after the stream end or an error is ignored; after a restart it precedes the new header', () => {
    const ended = record();
    ended.parser.write(Buffer.from(`${HEADER}</stream:stream>`));
    ended.parser.write(Buffer.from(' '));
    expect(types(ended.events)).toEqual(['start', 'end']);

    const restarted = record();
    restarted.parser.on('element', (el) => {
      if (el.name === 'success') restarted.parser.reset();
    });
    restarted.parser.write(Buffer.from(`${HEADER}<success/>`));
    restarted.parser.write(Buffer.from('  '));
    expect(restarted.parser.incomplete).toBe(false);
    // No XML declaration after whitespace: it must come first (XML 1.0 §2.8).
    restarted.parser.write(Buffer.from(`${HEADER.replace("<?xml version='1.0'?>", '')} `));
    restarted.parser.write(Buffer.from(' '));
    restarted.parser.write(Buffer.from("<iq id='after'/>"));
    expect(types(restarted.events)).toEqual(['start', 'element', 'start', 'element']);
    expect((restarted.events[3] as { el: Element }).el.attrs.id).toBe('after');
  });
});
