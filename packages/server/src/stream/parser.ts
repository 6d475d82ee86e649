/**
 * Strict streaming parser for one XMPP XML stream (RFC 6120 §4 and §11), built on `saxes`.
 *
 * Bytes in, events out: the stream header, each complete top-level element (as an ltx
 * {@link Element}), the peer's `</stream:stream>`, or one stream error condition. Size, depth and
 * attribute limits are enforced while bytes arrive, so hostile input is rejected without being
 * buffered whole.
 */
import { EventEmitter } from 'node:events';
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesStartTagPlain, type SaxesTagPlain, type XMLDecl } from 'saxes';
import { Element } from '@xmpp/xml';
import { NS, type StreamErrorCondition } from '@strand/core';

/** Limits enforced by {@link StreamParser}; exceeding any of them is a `policy-violation` (RFC 6120 §4.9.3.14). */
export interface StreamParserLimits {
  /**
   * Maximum size in **bytes** (UTF-8, as received) of one top-level element, including the bytes
   * still being received; whitespace between elements (keepalives) counts towards the next
   * element until its `<` arrives. Enforced at the exact byte where it is crossed, however the
   * input is split into reads.
   */
  maxStanzaBytes: number;
  /** Maximum element nesting below the stream root (a top-level element has depth 1). */
  maxDepth: number;
  /** Maximum number of attributes (namespace declarations included) on one element. */
  maxAttributes: number;
  /** Maximum size in **bytes** of everything before the end of the stream header's open tag. */
  maxHeaderBytes: number;
}

/** Default {@link StreamParserLimits}: 256 KiB stanzas, depth 64, 64 attributes, 4 KiB header. */
export const DEFAULT_STREAM_LIMITS: Readonly<StreamParserLimits> = Object.freeze({
  maxStanzaBytes: 262144,
  maxDepth: 64,
  maxAttributes: 64,
  maxHeaderBytes: 4096,
});

/** Events of {@link StreamParser} (Node `EventEmitter` map). */
export interface StreamParserEvents {
  /**
   * The stream header's open tag was parsed and validated. `attrs` holds the ordinary attributes
   * (`to`, `from`, `version`, `xml:lang`, `id`…), `nsAttrs` the namespace declarations keyed by
   * attribute name (`xmlns`, `xmlns:stream`).
   */
  streamStart: [attrs: Record<string, string>, nsAttrs: Record<string, string>];
  /**
   * A complete top-level element. Its `parent` is the stream root element (not in the root's
   * children), so `el.getNS()` resolves the namespace the stanza inherits from the header.
   */
  element: [el: Element];
  /** The peer's `</stream:stream>`. Later input is ignored. */
  streamEnd: [];
  /**
   * The input violates RFC 6120 or a limit; later input is ignored. Emitted at most once per
   * stream. As for any `EventEmitter`, emitting it without a listener throws: always listen.
   */
  error: [condition: StreamErrorCondition, text: string];
}

type Pending =
  | { kind: 'start'; attrs: Record<string, string>; ns: Record<string, string>; end: number }
  | { kind: 'element'; el: Element; end: number }
  | { kind: 'end'; end: number }
  | { kind: 'error'; condition: StreamErrorCondition; text: string; end: number };

type Phase = 'header' | 'open' | 'ended' | 'failed';

/** saxes in non-namespace mode (prefixes are resolved here, on the ltx tree), XML 1.0 only. */
type SaxOptions = { xmlns: false; position: true; defaultXMLVersion: '1.0'; forceXMLVersion: true };

/** Reads are fed to saxes in slices of at most this many bytes. */
const SLICE_BYTES = 65536;
const WHITESPACE = /^[ \t\r\n]*$/;

/**
 * Strict streaming XML parser for an XMPP stream.
 *
 * Which stream error for which input:
 * - bytes that are not UTF-8 → `not-well-formed`, text `invalid UTF-8`. RFC 6120 §11.6 mandates
 *   UTF-8 and XML 1.0 §4.3.3 makes an illegal byte sequence a fatal *well-formedness* error, which
 *   is what `not-well-formed` (§4.9.3.13) names; `unsupported-encoding` (§4.9.3.22) is kept for a
 *   stream in another encoding: a UTF-16 byte order mark or NUL bytes at its start, or an XML
 *   declaration naming another encoding;
 * - malformed XML, garbage bytes, mismatched tags → `not-well-formed` (§4.9.3.13);
 * - a DTD (including "billion laughs"), comments, processing instructions (the `<?xml?>`
 *   declaration before the header excepted) and entity references other than the five
 *   predefined ones and character references → `restricted-xml` (§11.1, §4.9.3.18);
 * - a root that is not `stream` in `http://etherx.jabber.org/streams` → `invalid-namespace`
 *   (§4.8.1, §4.9.3.10); the stream namespace without the `stream` prefix, or an undeclared
 *   prefix anywhere → `bad-namespace-prefix` (§4.9.3.2);
 * - non-whitespace character data between top-level elements → `bad-format` (§4.9.3.1);
 *   whitespace (keepalives, §4.6.1) is ignored;
 * - exceeding a {@link StreamParserLimits} value → `policy-violation` (§4.9.3.14), text naming
 *   the limit.
 *
 * Events are emitted synchronously from {@link write}, after saxes has consumed the written
 * bytes (so that a mismatched close tag never yields an element). Not re-entrant: do not call
 * `write` from an event handler.
 */
export class StreamParser extends EventEmitter<StreamParserEvents> {
  /** The limits in force. */
  readonly limits: Readonly<StreamParserLimits>;

  private decoder!: TextDecoder;
  private sax!: Sax;
  private phase: Phase = 'header';
  /** The stream root; parent of every top-level element. */
  private root: Element | undefined;
  /** Innermost open element below the root. */
  private cursor: Element | undefined;
  /** Open elements, root included. */
  private level = 0;
  /** How many of the first two bytes of this stream were checked for a non-UTF-8 encoding. */
  private sniffed = 0;

  /* Byte accounting. Positions are saxes `position`s: UTF-16 indexes into everything fed. */
  private charsFed = 0;
  private bytesFed = 0;
  /** Byte offset where the current top-level element (or the gap before it) started. */
  private segStart = 0;
  private chunk = '';
  private chunkPos0 = 0;
  private chunkBytes0 = 0;
  private chunkAscii = true;
  private scanOff = 0;
  private scanBytes = 0;

  private pending: Pending[] = [];
  /** False once saxes events of the current document must be ignored (error or stream end). */
  private live = true;
  private dispatching = false;
  private resetRequested = false;
  /** Set by `reset({ discardRest })` during dispatch: the rest of the current write is dropped. */
  private discardWrite = false;
  /**
   * Completed top-level constructs (stream headers and top-level elements) since construction;
   * never reset. With {@link incomplete} it tells a transport when the construct in progress began.
   */
  boundaries = 0;
  /** The first byte of a stream, held until the second arrives (encoding sniffing). */
  private sniffHold: Uint8Array = EMPTY;
  /** The bytes of an incomplete UTF-8 sequence at the end of the input the decoder is holding. */
  private carry: Uint8Array = EMPTY;
  /**
   * Only whitespace since the last boundary (or the stream start): no header or element has begun.
   * The first non-whitespace character after a boundary is where the next top-level element
   * starts (its `<`, or character data that is a `bad-format` error).
   */
  private gapOpen = true;
  /** Offset (in the current chunk string) just after the last boundary in it; -1 when none. */
  private lastBoundaryOff = -1;

  constructor(limits: Partial<StreamParserLimits> = {}) {
    super();
    this.limits = Object.freeze({ ...DEFAULT_STREAM_LIMITS, ...limits });
    this.init(true);
  }

  /**
   * True while a stream header or a top-level element has started (any non-whitespace input after
   * the last completed one) but is not complete yet: the state a slowloris peer keeps a stream in.
   * False after an error or the stream end.
   */
  get incomplete(): boolean {
    if (this.phase === 'failed' || this.phase === 'ended') return false;
    if (this.level >= 2 || !this.gapOpen || this.carry.length > 0) return true;
    // A first byte held for encoding sniffing.
    return this.sniffHold.length > 0 && !isXmlWhitespace(this.sniffHold[0]!);
  }

  /**
   * Feeds bytes read from the transport. Chunks may split anywhere, including inside a UTF-8
   * sequence. Ignored after `error` or `streamEnd` until {@link reset}.
   */
  write(data: Uint8Array): void {
    this.discardWrite = false;
    if (this.skipWhitespace(data)) return;
    for (let off = 0; off < data.length; off += SLICE_BYTES) {
      if (this.phase === 'failed' || this.phase === 'ended' || this.discardWrite) return;
      this.writeSlice(data.length <= SLICE_BYTES ? data : data.subarray(off, off + SLICE_BYTES));
    }
  }

  /**
   * Fast path for whitespace keepalives (RFC 6120 §4.6.1): a read of nothing but XML whitespace
   * between top-level elements produces no event and leaves saxes in the same state whatever it
   * is fed, so it is only counted (bytes towards the next element's size limit) instead of being
   * decoded and parsed. Applies only when every check of the full path is trivially satisfied:
   * the stream is open, nothing is pending in the UTF-8 decoder, no header or element has begun
   * since the last boundary, and the bytes do not cross `maxStanzaBytes` (the full path reports
   * that at its exact byte). saxes positions are offsets into the text it was fed, so the skipped
   * characters are not counted in `charsFed` (only differences within one fed piece are used).
   * @returns true when `data` was consumed here
   */
  private skipWhitespace(data: Uint8Array): boolean {
    if (this.phase !== 'open' || !this.gapOpen || this.level !== 1 || this.carry.length > 0 || this.dispatching) return false;
    const n = data.length;
    if (n === 0 || this.bytesFed + n - this.segStart > this.limits.maxStanzaBytes) return false;
    for (let i = 0; i < n; i++) {
      const c = data[i]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
    }
    this.bytesFed += n;
    return true;
  }

  /**
   * Starts a new stream (RFC 6120 §4.3.3 restart after STARTTLS or SASL success): new XML
   * parser, counters and stream header expected.
   *
   * Called from a handler of an event emitted by {@link write}, the bytes that followed that
   * event in the same write are parsed as the start of the new stream (a pipelining peer after
   * SASL success), and the UTF-8 decoder keeps its state because those bytes belong to the new
   * stream — unless `discardRest` is set: after STARTTLS they are plaintext that must not reach
   * the protected stream (RFC 6120 §5.4.3.3; CVE-2011-0411). Called at any other time, the
   * decoder is replaced too and nothing read before is kept.
   */
  reset(options: { discardRest?: boolean } = {}): void {
    const keepRest = this.dispatching && !options.discardRest;
    if (this.dispatching) {
      this.resetRequested = true;
      this.discardWrite = !keepRest;
    }
    this.init(!keepRest);
  }

  private init(newDecoder: boolean): void {
    if (newDecoder) {
      this.decoder = new TextDecoder('utf-8', { fatal: true });
      this.carry = EMPTY;
      this.sniffHold = EMPTY;
      this.sniffed = 0;
    } else {
      this.sniffed = 2;
    }
    this.sax = this.createSax();
    this.phase = 'header';
    this.live = true;
    this.root = this.cursor = undefined;
    this.level = 0;
    this.charsFed = this.bytesFed = this.segStart = 0;
    this.gapOpen = true;
    this.lastBoundaryOff = -1;
  }

  private createSax(): Sax {
    return new Sax({
      xmldecl: (decl) => this.onXmlDecl(decl),
      doctype: () => this.saxFail('restricted-xml', 'DTDs are not allowed (RFC 6120 §11.1)'),
      comment: () => this.saxFail('restricted-xml', 'comments are not allowed (RFC 6120 §11.1)'),
      pi: () => this.saxFail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)'),
      openTagStart: (tag) => this.onOpenTagStart(tag),
      openTag: (tag) => this.onOpenTag(tag),
      closeTag: (tag) => this.onCloseTag(tag),
      text: (text) => this.onText(text),
      error: (err) => this.onSaxError(err),
    });
  }

  private writeSlice(bytes: Uint8Array): void {
    if (this.sniffed < 2) {
      // The first two bytes decide together (held until both arrived, so that read sizes never
      // change the outcome): a UTF-16 byte order mark or a NUL byte means another encoding.
      const all = this.sniffHold.length > 0 ? Buffer.concat([this.sniffHold, bytes]) : bytes;
      if (all.length < 2) {
        this.sniffHold = Uint8Array.from(all);
        return;
      }
      this.sniffHold = EMPTY;
      this.sniffed = 2;
      const [b0, b1] = [all[0]!, all[1]!];
      if (b0 === 0 || b0 === 0xfe || b0 === 0xff || b1 === 0) {
        return this.failNow('unsupported-encoding', 'only UTF-8 is supported (RFC 6120 §11.6)');
      }
      bytes = all;
    }
    let str: string;
    try {
      str = this.decoder.decode(bytes, { stream: true });
    } catch {
      // Parse what precedes the bad bytes, including a character split with the previous read
      // (the decoder was holding its first bytes), so the result does not depend on read sizes.
      const all = this.carry.length > 0 ? Buffer.concat([this.carry, bytes]) : bytes;
      this.carry = EMPTY;
      const valid = validUtf8Prefix(all);
      if (valid > 0) this.feed(new TextDecoder('utf-8', { fatal: true }).decode(all.subarray(0, valid), { stream: true }));
      if (this.discardWrite) return;
      if (this.phase === 'header' || this.phase === 'open') this.failNow('not-well-formed', 'invalid UTF-8');
      return;
    }
    this.carry = incompleteUtf8Tail(this.carry, bytes);
    this.feed(str);
  }

  /**
   * Parses decoded text, then emits what it produced. The text is fed in pieces that never reach
   * past the byte where a size limit would be crossed, so limits are enforced at exact byte
   * positions: the same input gives the same events however it was split into reads (a limit and
   * a syntax error in one read are reported in input order). When a handler restarted the stream,
   * the rest of the text starts the new stream.
   */
  private feed(str: string): void {
    let rest = str;
    while (rest.length > 0) {
      const piece = this.nextPiece(rest);
      const remaining = rest.slice(piece.length);
      const restarted = this.feedPiece(piece);
      if (this.discardWrite) return;
      if (restarted !== undefined) rest = restarted + remaining;
      else if (!this.live) return; // error or stream end: later input is ignored
      else rest = remaining;
    }
  }

  /** The longest prefix of `rest` that does not reach past the byte at which a size limit is crossed. */
  private nextPiece(rest: string): string {
    let budget: number;
    // A header piece is also capped at maxStanzaBytes + 1, so a header ending inside it leaves no
    // more than one stanza's budget behind it in the same piece.
    if (this.phase === 'header') budget = Math.min(this.limits.maxHeaderBytes + 1 - this.bytesFed, this.limits.maxStanzaBytes + 1);
    else if (this.phase === 'open') budget = this.segStart + this.limits.maxStanzaBytes + 1 - this.bytesFed;
    else return rest;
    if (rest.length * 3 <= budget || Buffer.byteLength(rest) <= budget) return rest;
    return prefixWithinBytes(rest, Math.max(1, budget));
  }

  /** Parses one piece and emits its events. @returns the unparsed rest if a handler called reset(). */
  private feedPiece(str: string): string | undefined {
    const strBytes = Buffer.byteLength(str);
    this.chunk = str;
    this.chunkPos0 = this.charsFed;
    this.chunkBytes0 = this.bytesFed;
    this.chunkAscii = strBytes === str.length;
    this.scanOff = this.scanBytes = 0;
    this.sax.write(str);
    let from = 0;
    if (this.lastBoundaryOff >= 0) {
      this.gapOpen = true;
      from = this.lastBoundaryOff;
      this.lastBoundaryOff = -1;
    }
    if (this.gapOpen) {
      const i = firstNonWhitespace(str, from);
      if (i >= 0) {
        this.gapOpen = false;
        // The whitespace before a top-level element counts towards it until its `<` arrives.
        if (this.phase === 'open') this.segStart = Math.max(this.segStart, this.bytesAt(this.chunkPos0 + i));
      }
    }
    this.charsFed += str.length;
    this.bytesFed += strBytes;
    if (this.live) this.checkPendingBytes();
    return this.dispatch(str);
  }

  /** Limits on bytes received but not yet part of a complete header or element. */
  private checkPendingBytes(): void {
    const { maxHeaderBytes, maxStanzaBytes } = this.limits;
    if (this.phase === 'header' && this.bytesFed > maxHeaderBytes) {
      this.saxFail('policy-violation', `stream header exceeds maxHeaderBytes (${maxHeaderBytes} bytes)`);
    } else if (this.phase === 'open' && this.bytesFed - this.segStart > maxStanzaBytes) {
      this.saxFail('policy-violation', `stanza exceeds maxStanzaBytes (${maxStanzaBytes} bytes)`);
    }
  }

  /** Emits the events of the last chunk. @returns the unparsed rest if a handler called reset(). */
  private dispatch(str: string): string | undefined {
    const events = this.pending;
    if (events.length === 0) return undefined;
    this.pending = [];
    this.dispatching = true;
    try {
      for (const ev of events) {
        switch (ev.kind) {
          case 'start':
            this.emit('streamStart', ev.attrs, ev.ns);
            break;
          case 'element':
            this.emit('element', ev.el);
            break;
          case 'end':
            this.emit('streamEnd');
            break;
          case 'error':
            this.emit('error', ev.condition, ev.text);
            break;
        }
        if (this.resetRequested) {
          this.resetRequested = false;
          return this.discardWrite ? undefined : str.slice(Math.max(0, ev.end));
        }
      }
    } finally {
      this.dispatching = false;
    }
    return undefined;
  }

  /** Fails outside of saxes (decoding): emits at once. */
  private failNow(condition: StreamErrorCondition, text: string): void {
    this.saxFail(condition, text);
    this.dispatch('');
  }

  private saxFail(condition: StreamErrorCondition, text: string): void {
    if (!this.live) return;
    this.live = false;
    this.phase = 'failed';
    this.pending.push({ kind: 'error', condition, text, end: this.offset() });
  }

  /** Current saxes position as an index into the current chunk string. */
  private offset(): number {
    return this.sax.position - this.chunkPos0;
  }

  /** Stream byte offset of a saxes position in the current chunk (exact for complete characters). */
  private bytesAt(pos: number): number {
    const off = Math.min(pos - this.chunkPos0, this.chunk.length);
    if (off <= 0 || this.chunkAscii) return this.chunkBytes0 + off;
    if (off < this.scanOff) return this.chunkBytes0 + Buffer.byteLength(this.chunk.slice(0, off));
    this.scanBytes += Buffer.byteLength(this.chunk.slice(this.scanOff, off));
    this.scanOff = off;
    return this.chunkBytes0 + this.scanBytes;
  }

  private onXmlDecl(decl: XMLDecl): void {
    if (this.live && decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8') {
      this.saxFail('unsupported-encoding', `encoding ${decl.encoding} is not supported, only UTF-8 (RFC 6120 §11.6)`);
    }
  }

  private onOpenTagStart(tag: SaxesStartTagPlain): void {
    if (!this.live) return;
    const depth = this.level; // depth below the root of the element being opened
    if (depth > this.limits.maxDepth) {
      return this.saxFail('policy-violation', `element nesting exceeds maxDepth (${this.limits.maxDepth})`);
    }
  }

  private onOpenTag(tag: SaxesTagPlain): void {
    if (!this.live) return;
    const attrs: Record<string, string> = {};
    let count = 0;
    let prefixedAttr = false;
    for (const name in tag.attributes) {
      attrs[name] = tag.attributes[name];
      count++;
      if (name.indexOf(':') > 0 && !name.startsWith('xmlns:') && !name.startsWith('xml:')) prefixedAttr = true;
    }
    if (count > this.limits.maxAttributes) {
      return this.saxFail('policy-violation', `element has more than maxAttributes (${this.limits.maxAttributes})`);
    }
    const el = new Element(tag.name);
    el.attrs = attrs;
    if (this.level === 0) return this.openRoot(el, attrs);
    if (this.level === 1) el.parent = this.root!;
    else this.cursor!.cnode(el);
    if (prefixedAttr || tag.name.indexOf(':') >= 0) {
      const unbound = unboundPrefix(el);
      if (unbound !== undefined) {
        return this.saxFail('bad-namespace-prefix', `namespace prefix "${unbound}" is not declared`);
      }
    }
    this.cursor = el;
    this.level++;
  }

  private openRoot(el: Element, all: Record<string, string>): void {
    const colon = el.name.indexOf(':');
    const prefix = colon >= 0 ? el.name.slice(0, colon) : '';
    const local = el.name.slice(colon + 1);
    const ns = prefix ? all[`xmlns:${prefix}`] : all.xmlns;
    const unbound = unboundPrefix(el);
    if (unbound !== undefined) {
      return this.saxFail('bad-namespace-prefix', `namespace prefix "${unbound}" is not declared`);
    }
    if (local !== 'stream' || ns !== NS.STREAM) {
      return this.saxFail('invalid-namespace', `the stream root must be <stream:stream/> in the ${NS.STREAM} namespace`);
    }
    if (prefix !== 'stream') {
      return this.saxFail('bad-namespace-prefix', 'the stream namespace must be used with the "stream" prefix');
    }
    const headerBytes = this.bytesAt(this.sax.position);
    if (headerBytes > this.limits.maxHeaderBytes) {
      return this.saxFail(
        'policy-violation',
        `stream header exceeds maxHeaderBytes (${this.limits.maxHeaderBytes} bytes)`,
      );
    }
    const attrs: Record<string, string> = {};
    const nsAttrs: Record<string, string> = {};
    for (const name in all) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) nsAttrs[name] = all[name];
      else attrs[name] = all[name];
    }
    this.root = el;
    this.level = 1;
    this.phase = 'open';
    this.segStart = headerBytes;
    this.boundaries++;
    this.lastBoundaryOff = this.offset();
    this.pending.push({ kind: 'start', attrs, ns: nsAttrs, end: this.offset() });
  }

  private onCloseTag(_tag: SaxesTagPlain): void {
    if (!this.live) return;
    this.level--;
    if (this.level === 0) {
      this.live = false;
      this.phase = 'ended';
      this.pending.push({ kind: 'end', end: this.offset() });
      return;
    }
    const el = this.cursor!;
    if (this.level > 1) {
      this.cursor = el.parent as Element;
      return;
    }
    const endBytes = this.bytesAt(this.sax.position);
    if (endBytes - this.segStart > this.limits.maxStanzaBytes) {
      return this.saxFail('policy-violation', `stanza exceeds maxStanzaBytes (${this.limits.maxStanzaBytes} bytes)`);
    }
    this.segStart = endBytes;
    this.cursor = undefined;
    this.boundaries++;
    this.lastBoundaryOff = this.offset();
    this.pending.push({ kind: 'element', el, end: this.offset() });
  }

  private onText(text: string): void {
    if (!this.live) return;
    if (this.level >= 2) this.cursor!.children.push(text);
    else if (this.level === 1 && !WHITESPACE.test(text)) {
      this.saxFail('bad-format', 'character data is not allowed between top-level elements');
    }
  }

  private onSaxError(err: Error): void {
    // For a mismatched close tag saxes emits `closetag` first and reports the error at the same
    // position: withdraw that element (or stream end).
    const last = this.pending[this.pending.length - 1];
    const mismatch = last !== undefined && (last.kind === 'element' || last.kind === 'end') && last.end === this.offset();
    if (mismatch) {
      this.pending.pop();
      this.live = true;
    }
    if (!this.live) return;
    const msg = err.message;
    const restricted = /doctype|comment|processing instruction|undefined entity/i.test(msg);
    this.saxFail(restricted ? 'restricted-xml' : 'not-well-formed', `XML error: ${msg}`);
  }
}

/** Receiver of the saxes events {@link StreamParser} uses. */
interface SaxSink {
  xmldecl(decl: XMLDecl): void;
  doctype(): void;
  comment(): void;
  pi(): void;
  openTagStart(tag: SaxesStartTagPlain): void;
  openTag(tag: SaxesTagPlain): void;
  closeTag(tag: SaxesTagPlain): void;
  /** Text and CDATA. */
  text(text: string): void;
  error(err: Error): void;
}

/**
 * saxes with most handlers on the prototype. saxes reads `this.<name>Handler`, and `on()` stores
 * each handler as an own property added after construction: with the ten we need, V8 turned the
 * parser object into dictionary mode and saxes ran ~4× slower (measured on Node 20). saxes calls
 * the text, close-tag and error handlers without `this`, so those three stay own properties.
 * Relies on saxes 6's handler property names.
 */
class Sax extends SaxesParser<SaxOptions> {
  constructor(readonly sink: SaxSink) {
    super({ xmlns: false, position: true, defaultXMLVersion: '1.0', forceXMLVersion: true });
    this.on('text', (text) => sink.text(text));
    this.on('closetag', (tag) => sink.closeTag(tag));
    this.on('error', (err) => sink.error(err));
  }
}
Object.assign(Sax.prototype, {
  xmldeclHandler(this: Sax, decl: XMLDecl) {
    this.sink.xmldecl(decl);
  },
  doctypeHandler(this: Sax) {
    this.sink.doctype();
  },
  commentHandler(this: Sax) {
    this.sink.comment();
  },
  piHandler(this: Sax) {
    this.sink.pi();
  },
  openTagStartHandler(this: Sax, tag: SaxesStartTagPlain) {
    this.sink.openTagStart(tag);
  },
  openTagHandler(this: Sax, tag: SaxesTagPlain) {
    this.sink.openTag(tag);
  },
  cdataHandler(this: Sax, text: string) {
    this.sink.text(text);
  },
});

/** The first prefix used by `el`'s name or attributes that no ancestor-or-self declares. */
function unboundPrefix(el: Element): string | undefined {
  const colon = el.name.indexOf(':');
  if (colon >= 0) {
    const prefix = el.name.slice(0, colon);
    if (el.findNS(prefix) === undefined) return prefix;
  }
  for (const name in el.attrs) {
    const c = name.indexOf(':');
    if (c <= 0 || name.startsWith('xmlns:') || name.startsWith('xml:')) continue;
    const prefix = name.slice(0, c);
    if (el.findNS(prefix) === undefined) return prefix;
  }
  return undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * The trailing bytes of `prev` + `bytes` that start a UTF-8 sequence not yet complete (what a
 * streaming decoder holds back), or an empty array.
 */
function incompleteUtf8Tail(prev: Uint8Array, bytes: Uint8Array): Uint8Array {
  const n = prev.length + bytes.length;
  const at = (i: number): number => (i < prev.length ? prev[i]! : bytes[i - prev.length]!);
  for (let i = n - 1; i >= Math.max(0, n - 4); i--) {
    const b = at(i);
    if ((b & 0xc0) === 0x80) continue; // continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (n - i >= need) return EMPTY;
    const tail = new Uint8Array(n - i);
    for (let k = i; k < n; k++) tail[k - i] = at(k);
    return tail;
  }
  return EMPTY;
}

/** The longest prefix of `str` of at most `maxBytes` UTF-8 bytes (at least one character). */
function prefixWithinBytes(str: string, maxBytes: number): string {
  let bytes = 0;
  let i = 0;
  while (i < str.length) {
    const c = str.charCodeAt(i);
    let size = 1;
    let units = 1;
    if (c >= 0x800) {
      size = 3;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          size = 4;
          units = 2;
        }
      }
    } else if (c >= 0x80) size = 2;
    if (bytes + size > maxBytes && i > 0) break;
    bytes += size;
    i += units;
    if (bytes >= maxBytes) break;
  }
  return str.slice(0, i);
}

const isXmlWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Index of the first character of `str` at or after `from` that is not XML whitespace, or -1. */
function firstNonWhitespace(str: string, from: number): number {
  for (let i = Math.max(0, from); i < str.length; i++) {
    if (!isXmlWhitespace(str.charCodeAt(i))) return i;
  }
  return -1;
}

/** Length of the longest prefix of `bytes` without invalid UTF-8 (binary search; error path only). */
function validUtf8Prefix(bytes: Uint8Array): number {
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}
