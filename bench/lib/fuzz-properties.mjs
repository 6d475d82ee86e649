// Fuzzing properties shared by the CI slice (test/hardening/fuzz-*.test.ts, fixed seed, few runs)
// and the long run (bench/fuzz.mjs, ≥ 1 000 000 cases against the built dist). Everything the
// properties exercise is passed in (`deps`), so the tests run them on the TypeScript sources and
// the bench on `packages/*/dist`. See bench/README.md "Fuzzing" and SECURITY.md.
import { Duplex } from 'node:stream';

// ===================================================================== XML text helpers

/** Drops characters XML 1.0 does not allow (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/F). */
export function xmlClean(s) {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000) out += ch;
  }
  return out;
}
export const escText = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
export const escAttr = (s, q) => escText(s).replace(q === "'" ? /'/g : /"/g, q === "'" ? '&apos;' : '&quot;');

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const STREAM_NS = 'http://etherx.jabber.org/streams';
const SM_NAMESPACES = ['urn:xmpp:sm:3', 'urn:xmpp:sm:2', 'urn:xmpp:sm:1', 'urn:xmpp:sm:4'];
const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

/** A client stream header. */
export function clientHeader({ to = 'localhost', version = '1.0', xmlns = 'jabber:client', lang, decl = true, quote = "'" } = {}) {
  const q = quote;
  let h = decl ? `<?xml version=${q}1.0${q}?>` : '';
  h += `<stream:stream xmlns=${q}${xmlns}${q} xmlns:stream=${q}${STREAM_NS}${q}`;
  if (to !== undefined) h += ` to=${q}${escAttr(to, q)}${q}`;
  if (version !== undefined) h += ` version=${q}${version}${q}`;
  if (lang !== undefined) h += ` xml:lang=${q}${escAttr(lang, q)}${q}`;
  return `${h}>`;
}

// ===================================================================== arbitraries

/** Builds the arbitraries (they need the caller's fast-check instance). */
export function arbitraries(fc) {
  const text = fc
    .oneof(
      { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
      { weight: 2, arbitrary: fc.constantFrom('', ' ', '&', '<', '>', ']]>', "'", '"', 'ü€𝄞', '\r\n', '\t', 'a&b<c>d') },
    )
    .map(xmlClean);

  const NAMES = ['message', 'presence', 'iq', 'body', 'x', 'query', 'item', 'a', 'r', 'enable', 'status', 'thread', 'p:q'];
  const ATTRS = ['to', 'from', 'id', 'type', 'xml:lang', 'a', 'b', 'h', 'max', 'previd', 'p:attr'];
  const NSES = ['urn:a', 'jabber:client', 'urn:xmpp:sm:3', 'urn:ietf:params:xml:ns:xmpp-stanzas'];

  const { node } = fc.letrec((tie) => ({
    node: fc.record({
      name: fc.constantFrom(...NAMES),
      ns: fc.option(fc.constantFrom(...NSES), { nil: undefined }),
      prefixDecl: fc.boolean(),
      attrs: fc.uniqueArray(fc.tuple(fc.constantFrom(...ATTRS), text), { maxLength: 4, selector: (t) => t[0] }),
      children: fc.array(
        fc.oneof({ maxDepth: 5, depthSize: 'small' }, text.map((t) => ({ text: t })), tie('node')),
        { maxLength: 4 },
      ),
      quote: fc.constantFrom("'", '"'),
      selfClose: fc.boolean(),
      cdata: fc.boolean(),
    }),
  }));

  /** Serialises a generated element (always well-formed: prefixes used are declared). */
  function serialize(n) {
    const q = n.quote;
    const usesPrefix = n.name.includes(':') || n.attrs.some(([k]) => k === 'p:attr');
    let s = `<${n.name}`;
    if (n.ns) s += ` xmlns=${q}${n.ns}${q}`;
    if (usesPrefix || n.prefixDecl) s += ` xmlns:p=${q}urn:p${q}`;
    for (const [k, v] of n.attrs) s += ` ${k}=${q}${escAttr(v, q)}${q}`;
    if (n.children.length === 0 && n.selfClose) return `${s}/>`;
    s += '>';
    for (const c of n.children) {
      if (c.text !== undefined) s += n.cdata && !c.text.includes(']]>') ? `<![CDATA[${c.text}]]>` : escText(c.text);
      else s += serialize(c);
    }
    return `${s}</${n.name}>`;
  }

  const whitespace = fc.constantFrom('', ' ', '\n', '  \r\n\t', ' '.repeat(40));
  const header = fc
    .record({
      decl: fc.boolean(),
      quote: fc.constantFrom("'", '"'),
      lang: fc.option(fc.constantFrom('en', 'fr', 'de-CH'), { nil: undefined }),
    })
    .map((h) => clientHeader(h));

  /**
   * A valid stream: header, top-level elements separated by whitespace, optional close tag, with
   * the byte offsets where each complete construct (header, element) ends.
   */
  const validStream = fc
    .record({ header, items: fc.array(fc.tuple(whitespace, node), { maxLength: 8 }), trailing: whitespace, end: fc.boolean() })
    .map(({ header: h, items, trailing, end }) => {
      let s = h;
      const boundaries = [Buffer.byteLength(s)];
      for (const [ws, n] of items) {
        s += ws + serialize(n);
        boundaries.push(Buffer.byteLength(s));
      }
      s += trailing;
      if (end) s += '</stream:stream>';
      return { bytes: Buffer.from(s, 'utf8'), elements: items.length, end, boundaries };
    });

  /** Chunk sizes, cycled over the input (1 = byte by byte). */
  const chunking = fc.oneof(
    { weight: 1, arbitrary: fc.constant([1]) },
    { weight: 4, arbitrary: fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constant([1 << 20]) },
  );

  const latin1 = (s) => Buffer.from(s, 'latin1');
  const TOKENS = [
    '<!DOCTYPE x>', '<!DOCTYPE stream:stream [<!ENTITY a "b">]>', '<!--c-->', '<?pi x?>', '<?xml version="1.0"?>',
    '&lol;', '&#0;', '&#xD800;', '&#x10FFFF;', '&amp;', ']]>', '<![CDATA[', '</stream:stream>', `<stream:stream xmlns:stream='${STREAM_NS}'>`,
    '<', '>', "'", '"', '=', '/', '</', '/>', ' xmlns:p="u"', ' p:a="1"', ' q:b="1"', '<q:x/>', '<stream:error/>', '<stream:features/>',
    "<message xmlns='jabber:client'>", '</message>', '<iq>', '<a b="1" b="2"/>', '<a b=1/>', '<1a/>', '<a:/>', '<:a/>',
    `<a${' x'.repeat(1)}`, '<a>'.repeat(12), '</a>'.repeat(3), `<m${Array.from({ length: 12 }, (_, i) => ` a${i}='1'`).join('')}/>`,
    'x'.repeat(5000), ' '.repeat(3000),
  ].map((t) => Buffer.from(t, 'utf8'));
  const BAD_BYTES = [latin1('\u0000'), latin1('\xff\xfe'), latin1('\xfe\xff'), latin1('\xc3\x28'), latin1('\xf0\x9f'), latin1('\xed\xa0\x80'), latin1('\xc0\xaf'), latin1('\x80'), latin1('\x1b')];
  const insertion = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...TOKENS) },
    { weight: 2, arbitrary: fc.constantFrom(...BAD_BYTES) },
    { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 8 }).map((a) => Buffer.from(a)) },
  );
  const at = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('insert'), at, bytes: insertion }),
    fc.record({ kind: fc.constant('delete'), at, length: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('duplicate'), at, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('replace'), at, byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate'), at }),
  );

  return { text, node, serialize, validStream, chunking, mutation, mutations: fc.array(mutation, { minLength: 1, maxLength: 4 }), header, whitespace };
}

/** Applies byte mutations to `buf`. */
export function mutate(buf, mutations) {
  let b = Buffer.from(buf);
  for (const m of mutations) {
    const pos = Math.floor(m.at * (b.length + 1));
    switch (m.kind) {
      case 'insert':
        b = Buffer.concat([b.subarray(0, pos), m.bytes, b.subarray(pos)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + m.length)]);
        break;
      case 'duplicate':
        b = Buffer.concat([b.subarray(0, pos + m.length), b.subarray(pos, pos + m.length), b.subarray(pos + m.length)]);
        break;
      case 'replace':
        if (pos < b.length) b[pos] = m.byte;
        break;
      case 'truncate':
        b = b.subarray(0, pos);
        break;
    }
  }
  return b;
}

/** Splits `buf` by cycling through `sizes`. */
export function* chunks(buf, sizes) {
  for (let off = 0, i = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length];
    yield buf.subarray(off, off + n);
    off += n;
  }
}

// ===================================================================== 1. the stream parser

/**
 * Feeds `buf` to a fresh parser (whole, or in chunks) and records its events.
 * @returns `{ events, incomplete }`; throws if the parser throws (a property failure).
 */
export function parseAll(StreamParser, limits, buf, sizes) {
  const p = new StreamParser(limits);
  const events = [];
  p.on('streamStart', (attrs, ns) => events.push(['start', JSON.stringify(attrs), JSON.stringify(ns)]));
  p.on('element', (el) => events.push(['element', el.toString()]));
  p.on('streamEnd', () => events.push(['end']));
  p.on('error', (condition) => events.push(['error', condition]));
  if (!sizes) p.write(buf);
  else for (const c of chunks(buf, sizes)) p.write(c);
  return { events, incomplete: p.incomplete, boundaries: p.boundaries };
}

/** The event-sequence rules of `StreamParser`: errors/ends are final and unique, start comes first. */
export function checkEventShape(events) {
  const kinds = events.map((e) => e[0]);
  const errors = kinds.filter((k) => k === 'error').length;
  if (errors > 1) throw new Error(`more than one error: ${kinds.join(',')}`);
  const fin = kinds.findIndex((k) => k === 'error' || k === 'end');
  if (fin >= 0 && fin !== kinds.length - 1) throw new Error(`events after ${kinds[fin]}: ${kinds.join(',')}`);
  if (kinds.length > 0 && kinds[0] !== 'start' && kinds[0] !== 'error') throw new Error(`first event ${kinds[0]}`);
  if (kinds.filter((k) => k === 'start').length > 1) throw new Error('two stream starts');
}

const sameEvents = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Small limits, so that mutations also cross them. */
export const FUZZ_LIMITS = Object.freeze({ maxStanzaBytes: 4096, maxDepth: 10, maxAttributes: 10, maxHeaderBytes: 512 });

/**
 * Parser properties:
 * - `chunking`: a valid stream gives the same events in any chunking as in one write, no error,
 *   one element per generated element, the end iff sent;
 * - `incomplete`: cut anywhere, `incomplete` is true exactly when non-whitespace input follows the
 *   last complete header/element (what the stanza timeout relies on);
 * - `mutation`: any mutation of a valid stream, in any chunking, never throws, yields at most one
 *   error as the last event, and the same events as in one write.
 */
export function parserProperties(fc, { StreamParser }) {
  const a = arbitraries(fc);
  const chunking = fc.property(a.validStream, a.chunking, (s, sizes) => {
    const whole = parseAll(StreamParser, undefined, s.bytes);
    const split = parseAll(StreamParser, undefined, s.bytes, sizes);
    checkEventShape(whole.events);
    if (!sameEvents(whole.events, split.events)) throw new Error('chunking changed the events');
    const kinds = whole.events.map((e) => e[0]);
    if (kinds.includes('error')) throw new Error(`valid stream rejected: ${JSON.stringify(whole.events.at(-1))}`);
    if (kinds.filter((k) => k === 'element').length !== s.elements) throw new Error('element count');
    if (kinds.includes('end') !== s.end) throw new Error('stream end');
    if (whole.incomplete || split.incomplete) throw new Error('complete stream reported incomplete');
  });
  const incomplete = fc.property(a.validStream, fc.double({ min: 0, max: 1, noNaN: true }), a.chunking, (s, frac, sizes) => {
    const bytes = s.end ? s.bytes.subarray(0, s.bytes.length - '</stream:stream>'.length) : s.bytes;
    const cut = Math.floor(frac * bytes.length);
    const prefix = bytes.subarray(0, cut);
    const r = parseAll(StreamParser, undefined, prefix, sizes);
    const last = Math.max(0, ...s.boundaries.filter((b) => b <= cut));
    const expected = /[^ \t\r\n]/.test(prefix.subarray(last).toString('latin1'));
    if (r.incomplete !== expected) throw new Error(`incomplete=${r.incomplete} at ${cut} (last boundary ${last})`);
  });
  const mutation = fc.property(a.validStream, a.mutations, a.chunking, fc.boolean(), (s, muts, sizes, small) => {
    const bytes = mutate(s.bytes, muts);
    const limits = small ? FUZZ_LIMITS : undefined;
    const whole = parseAll(StreamParser, limits, bytes);
    const split = parseAll(StreamParser, limits, bytes, sizes);
    checkEventShape(whole.events);
    checkEventShape(split.events);
    if (!sameEvents(whole.events, split.events)) {
      throw new Error(`chunking changed the events:\n${JSON.stringify(whole.events)}\n${JSON.stringify(split.events)}`);
    }
  });
  return { chunking, incomplete, mutation };
}

// ===================================================================== 2. negotiation against the host

/** A fake socket for `StrandServer`'s connection handling: bytes in by `push`, out in `written`. */
export function fakeSocket(remoteAddress = '127.0.0.1') {
  const written = [];
  const d = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
    final(cb) {
      cb();
    },
  });
  d.remoteAddress = remoteAddress;
  d.setNoDelay = () => d;
  d.setKeepAlive = () => d;
  d.setTimeout = () => d;
  return { socket: d, written, text: () => Buffer.concat(written).toString('utf8') };
}

/** Arbitraries of protocol fragments a client may send, hostile ones included. */
export function protocolArbitraries(fc) {
  const a = arbitraries(fc);
  const numberish = fc.oneof(
    fc.constantFrom('0', '1', '5', '60', '300', '4294967295', '4294967296', '-1', '-0', '+1', ' 1', '1 ', '1.0', '0x10', '1e3', '', 'abc', '٣', '00000000001', '18446744073709551616', '9'.repeat(400), 'NaN', 'Infinity'),
    fc.nat().map(String),
    fc.integer().map(String),
    fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
  );
  const jidish = fc.oneof(
    fc.constantFrom('localhost', 'bob@localhost', 'alice@localhost', 'alice@localhost/other', 'bob@localhost/x', 'nobody@localhost', 'example.org', 'a@b@c', '@', '/', 'localhost/res', 'component.localhost', ''),
    a.text,
  );
  const smAttr = fc.oneof(
    fc.tuple(fc.constant('h'), numberish),
    fc.tuple(fc.constant('max'), numberish),
    fc.tuple(fc.constant('resume'), fc.constantFrom('true', '1', 'false', '0', 'yes', '', 'TRUE')),
    fc.tuple(fc.constant('previd'), fc.oneof(fc.constantFrom('', 'x'.repeat(5000), 'AAAAAAAAAAAAAAAAAAAAAAAA'), a.text)),
    fc.tuple(fc.constant('u'), numberish),
    fc.tuple(fc.constant('stanzas'), numberish),
  );
  const attrs = (list, q = "'") => list.map(([k, v]) => ` ${k}=${q}${escAttr(v, q)}${q}`).join('');
  const smNonza = fc
    .record({
      name: fc.constantFrom('enable', 'resume', 'r', 'a', 'enabled', 'resumed', 'failed', 'sm'),
      ns: fc.constantFrom(...SM_NAMESPACES),
      attrs: fc.uniqueArray(smAttr, { maxLength: 4, selector: (t) => t[0] }),
    })
    .map((n) => `<${n.name} xmlns='${n.ns}'${attrs(n.attrs)}/>`);
  const stanza = fc
    .record({
      name: fc.constantFrom('message', 'presence', 'iq'),
      to: fc.option(jidish, { nil: undefined }),
      from: fc.option(jidish, { nil: undefined }),
      type: fc.option(fc.constantFrom('chat', 'normal', 'headline', 'groupchat', 'error', 'get', 'set', 'result', 'probe', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'unavailable', 'bogus'), { nil: undefined }),
      id: fc.option(fc.constantFrom('1', 'x', ''), { nil: undefined }),
      children: fc.array(a.node, { maxLength: 2 }),
    })
    .map((s) => {
      const list = [];
      for (const k of ['to', 'from', 'type', 'id']) if (s[k] !== undefined) list.push([k, s[k]]);
      const inner = s.children.map(a.serialize).join('');
      return inner ? `<${s.name}${attrs(list)}>${inner}</${s.name}>` : `<${s.name}${attrs(list)}/>`;
    });
  const keepaliveIq = fc
    .tuple(fc.option(jidish, { nil: undefined }), fc.oneof(numberish.map((n) => `<interval>${escText(n)}</interval>`), fc.constantFrom('', '<interval/>', '<interval>1</interval><interval>2</interval>', '<interval><b/>60</interval>', "<interval min='1' max='2'/>")))
    .map(([to, inner]) => `<iq type='set' id='ka'${to !== undefined ? ` to='${escAttr(to, "'")}'` : ''}><keepalive xmlns='urn:xmpp:keepalive:0'>${inner}</keepalive></iq>`);
  const probe = fc
    .tuple(fc.option(jidish, { nil: undefined }), fc.array(a.node, { maxLength: 1 }))
    .map(([to, children]) => `<presence type='probe' id='pr'${to !== undefined ? ` to='${escAttr(to, "'")}'` : ''}>${children.map(a.serialize).join('')}</presence>`);
  const sasl = fc.oneof(
    fc.constant(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0alice\0secret')}</auth>`),
    fc.constant(`<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0alice\0wrong')}</auth>`),
    fc.constant(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${b64('n,,n=alice,r=fuzzclientnonce')}</auth>`),
    fc.constant(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256'/>`),
    fc
      .tuple(fc.constantFrom('PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'X-UNKNOWN', ''), fc.oneof(fc.base64String({ maxLength: 40 }), a.text, fc.constant('=')))
      .map(([m, p]) => `<auth xmlns='${SASL}' mechanism='${m}'>${escText(p)}</auth>`),
    fc.oneof(fc.base64String({ maxLength: 60 }), fc.constant('='), a.text).map((p) => `<response xmlns='${SASL}'>${escText(p)}</response>`),
    fc.constantFrom(`<abort xmlns='${SASL}'/>`, `<success xmlns='${SASL}'/>`, `<challenge xmlns='${SASL}'/>`),
  );
  const bind = fc
    .oneof(a.text, fc.constantFrom('', ' ', 'r1', 'x'.repeat(2000), 'a/b', 'a@b'))
    .map((r) => `<iq type='set' id='b'><bind xmlns='${BIND}'><resource>${escText(r)}</resource></bind></iq>`);
  const headerVariant = fc.oneof(
    { weight: 4, arbitrary: fc.constant(clientHeader()) },
    { weight: 1, arbitrary: fc.record({ to: fc.option(jidish, { nil: undefined }), version: fc.option(fc.constantFrom('1.0', '1.1', '2.0', '0.9', ''), { nil: undefined }), xmlns: fc.constantFrom('jabber:client', 'jabber:server', 'jabber:component:accept', ''), lang: fc.option(a.text, { nil: undefined }) }).map((h) => clientHeader(h)) },
  );
  const misc = fc.constantFrom(
    `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`,
    `<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`,
    `<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`,
    `<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`,
    `<iq type='get' id='d'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    `<presence/>`,
    `<unknown xmlns='urn:x'/>`,
    `<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    ' ',
    '</stream:stream>',
  );
  const token = fc.oneof(
    { weight: 3, arbitrary: stanza },
    { weight: 3, arbitrary: smNonza },
    { weight: 2, arbitrary: sasl },
    { weight: 1, arbitrary: bind },
    { weight: 1, arbitrary: headerVariant },
    { weight: 2, arbitrary: keepaliveIq },
    { weight: 2, arbitrary: probe },
    { weight: 1, arbitrary: misc },
  );
  const LOGIN = [clientHeader(), `<auth xmlns='${SASL}' mechanism='PLAIN'>${b64('\0alice\0secret')}</auth>`, clientHeader()];
  const script = fc
    .record({
      prefix: fc.constantFrom('none', 'header', 'auth', 'bound', 'sm'),
      tokens: fc.array(token, { maxLength: 10 }),
      mutations: fc.option(a.mutations, { freq: 4, nil: undefined }),
      sizes: a.chunking,
    })
    .map((s) => {
      const pre =
        s.prefix === 'none' ? [] : s.prefix === 'header' ? [clientHeader()] : s.prefix === 'auth' ? LOGIN : [...LOGIN, `<iq type='set' id='b'><bind xmlns='${BIND}'/></iq>`, ...(s.prefix === 'sm' ? [`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`, '<presence/>'] : [])];
      let bytes = Buffer.from(pre.join('') + s.tokens.join(''), 'utf8');
      if (s.mutations) bytes = mutate(bytes, s.mutations);
      return { bytes, sizes: s.sizes, tls: s.tokens.some((t) => t.includes('<starttls')) };
    });
  return { numberish, jidish, smNonza, stanza, keepaliveIq, probe, sasl, bind, token, script };
}

const tick = () => new Promise((r) => setImmediate(r));

/**
 * Drives one connection of a started `StrandServer` (no listeners needed) through its real accept
 * path with a fake socket: the bytes in chunks (letting the host run between them), then EOF.
 * Resolves once the host has forgotten the stream. Checks the bytes the host wrote: at most one
 * stream error, nothing after our close tag (unless STARTTLS switched to TLS).
 */
export async function runConnection(server, bytes, sizes, { tls = false, timeoutMs = 5000 } = {}) {
  const { socket, text } = fakeSocket();
  const before = server.streamCount;
  server.accept(socket, false);
  let i = 0;
  for (const c of chunks(bytes, sizes)) {
    socket.push(Buffer.from(c));
    if (i++ % 3 === 0) await tick();
  }
  for (let k = 0; k < 3; k++) await tick();
  socket.push(null);
  const deadline = Date.now() + timeoutMs;
  while (server.streamCount > before) {
    if (Date.now() > deadline) throw new Error(`the stream did not end after EOF; wrote: ${text().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const out = text();
  if (!tls || !out.includes('<proceed')) {
    if ((out.match(/<stream:error>/g) ?? []).length > 1) throw new Error(`two stream errors: ${out.slice(-800)}`);
    const close = out.indexOf('</stream:stream>');
    if (close >= 0 && close !== out.length - '</stream:stream>'.length) throw new Error(`bytes after our close tag: ${out.slice(close)}`);
    if (out.length > 0 && !out.startsWith("<?xml version='1.0'?><stream:stream ")) throw new Error(`output does not start with our header: ${out.slice(0, 200)}`);
  }
  socket.destroy();
  return out;
}

/**
 * Negotiation property: random protocol scripts (realistic prefixes — header, login, bind, SM —
 * followed by hostile fragments, sometimes mutated, in random chunks) against the real host.
 * `context.errors()` must return the number of error-level log lines and unhandled rejections so far.
 */
export function negotiationProperty(fc, server, context) {
  const p = protocolArbitraries(fc);
  return fc.asyncProperty(p.script, async (s) => {
    const errorsBefore = context.errors();
    await runConnection(server, s.bytes, s.sizes, { tls: s.tls });
    const errorsAfter = context.errors();
    if (errorsAfter !== errorsBefore) throw new Error(`the host logged ${errorsAfter - errorsBefore} error(s): ${context.lastError?.() ?? ''}`);
  });
}

// ===================================================================== 3. plugins on @strand/testing

/**
 * Plugin property: one TestHost (stream management, keepalive, presence-probe) per case; a client
 * sends random SM nonzas (every attribute at its edges), keepalive intervals, probes and stanzas,
 * while messages arrive, transports drop, resumes use right and wrong IDs and counts, and fake
 * time jumps. Nothing may throw or log an error; every reply to an iq/probe is a result or a
 * documented stanza error (never internal-server-error); and once every client is gone and the
 * windows passed, no SM state is left (queue depth and hibernating gauges at 0), and every message
 * is accounted for (written to a client, stored offline, or bounced).
 */
export function pluginProperty(fc, { TestHost, plugins, xml }) {
  const p = protocolArbitraries(fc);
  const command = fc.oneof(
    { weight: 4, arbitrary: p.smNonza.map((x) => ({ kind: 'send', xml: x })) },
    { weight: 2, arbitrary: p.keepaliveIq.map((x) => ({ kind: 'send', xml: x })) },
    { weight: 2, arbitrary: p.probe.map((x) => ({ kind: 'send', xml: x })) },
    { weight: 2, arbitrary: p.stanza.map((x) => ({ kind: 'send', xml: x })) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => ({ kind: 'deliver', n })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'ack' }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'drop' }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume'), h: fc.oneof(fc.constant('true'), p.numberish), id: fc.constantFrom('own', 'other', 'bogus') }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'close' }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'connect' }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 400_000 }).map((ms) => ({ kind: 'wait', ms })) },
  );
  return fc.asyncProperty(fc.array(command, { maxLength: 14 }), fc.boolean(), async (commands, limitsOn) => {
    const host = await TestHost.create({
      plugins: plugins.map(([plugin, config]) => [plugin, config]),
      config: limitsOn ? { limits: { exemptAddresses: [] } } : {},
      logEcho: false,
    });
    const clients = [];
    let client;
    let smId;
    let h = 0;
    let seq = 0;
    const sent = [];
    const connect = async (opts = {}) => {
      client = await host.connect({ user: 'alice', resource: 'r1', available: true, ...opts });
      clients.push(client);
      return client;
    };
    const send = async (x) => {
      if (!client || client.stream.state === 'closed') return;
      await client.receive(x);
    };
    await connect();
    await send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    const enabled = client.stream.written.find((e) => e.name === 'enabled');
    smId = enabled?.attrs.id;
    for (const c of commands) {
      switch (c.kind) {
        case 'send':
          await send(c.xml);
          break;
        case 'deliver':
          for (let k = 0; k < c.n; k++) {
            const id = `m${seq++}`;
            sent.push(id);
            await host.router.route(xml('message', { from: 'bob@localhost/b', to: 'alice@localhost/r1', type: 'chat', id }, xml('body', {}, id)));
          }
          break;
        case 'ack':
          if (client) h = client.stream.written.filter((e) => ['message', 'presence', 'iq'].includes(e.name)).length;
          await send(`<a xmlns='urn:xmpp:sm:3' h='${h}'/>`);
          break;
        case 'drop':
          if (client && client.stream.state !== 'closed') await client.dropTransport();
          break;
        case 'resume': {
          const c2 = await host.connect({ user: 'alice', bind: false });
          clients.push(c2);
          const id = c.id === 'own' ? (smId ?? 'none') : c.id === 'other' ? 'AAAAAAAAAAAAAAAAAAAAAAAA' : 'x'.repeat(30);
          const hh = c.h === 'true' ? String(h) : c.h;
          await c2.receive(`<resume xmlns='urn:xmpp:sm:3' previd='${escAttr(id, "'")}' h='${escAttr(hh, "'")}'/>`);
          if (c2.session) client = c2;
          break;
        }
        case 'close':
          if (client && client.stream.state !== 'closed') await client.closeFromPeer();
          break;
        case 'connect':
          await connect({ resource: `r${seq}` });
          await send(`<enable xmlns='urn:xmpp:sm:3' resume='true' max='60'/>`);
          smId = client.stream.written.find((e) => e.name === 'enabled')?.attrs.id ?? smId;
          break;
        case 'wait':
          await host.time.advance(c.ms);
          break;
      }
      // Complete server-initiated closes (as a client would), so the handshakes finish.
      for (const cl of clients) if (cl.stream.state === 'closing') await cl.closeFromPeer();
      const errors = host.logs.at('error');
      if (errors.length > 0) throw new Error(`error logged after ${JSON.stringify(c)}: ${errors[0].msg} ${String(errors[0].data?.err ?? '')}`);
    }
    // Every reply to our iqs and probes is a result or a documented stanza error.
    for (const cl of clients) {
      for (const el of cl.stream.written) {
        if (el.attrs?.type !== 'error') continue;
        const err = el.getChild('error');
        if (err?.getChild('internal-server-error')) throw new Error(`internal-server-error: ${el.toString()}`);
      }
    }
    // Tear down: every stream goes, every window passes; no SM state may be left behind.
    for (const cl of clients) if (cl.stream.state !== 'closed') await cl.dropTransport();
    await host.time.advance(90_000_000);
    for (const cl of clients) if (cl.stream.state === 'closing') await cl.closeFromPeer();
    await host.time.advance(60_000);
    const metrics = await host.metrics.expose();
    const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? '0');
    if (gauge('strand_sm_queue_depth') !== 0) throw new Error(`queue depth ${gauge('strand_sm_queue_depth')} after teardown`);
    if (gauge('strand_sm_hibernating_sessions') !== 0) throw new Error('hibernating sessions after teardown');
    if (host.sessions.count() !== 0) throw new Error(`${host.sessions.count()} sessions after teardown`);
    // Every message is accounted for: written to a client, stored offline, or bounced.
    const seen = new Set();
    for (const cl of clients) for (const el of cl.stream.written) if (el.name === 'message' && el.attrs.type !== 'error') seen.add(el.attrs.id);
    for (const m of await host.offline.list('alice@localhost')) seen.add(m.stanza.attrs.id);
    for (const b of host.bounces) seen.add(b.original.attrs.id);
    for (const id of sent) if (!seen.has(id)) throw new Error(`message ${id} lost`);
    if (host.logs.at('error').length > 0) throw new Error(`error logged at teardown: ${host.logs.at('error')[0].msg}`);
  });
}
