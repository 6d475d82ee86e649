/**
 * Strict parser for one WebSocket message of the XMPP subprotocol (RFC 7395 §3.3.3): every
 * message is a complete XML document holding exactly one element (`<open/>`, `<close/>`, a stanza
 * or a nonza) that declares every namespace it uses, because there is no enclosing
 * `<stream:stream>` to inherit them from.
 *
 * The same restrictions and limits as the TCP {@link StreamParser} apply (RFC 6120 §11), with the
 * same stream error conditions, so a client gets the same answer on both transports.
 */
import { SaxesParser, type SaxesTagPlain, type XMLDecl } from 'saxes';
import { Element } from '@xmpp/xml';
import type { StreamErrorCondition } from '@strand/core';
import { DEFAULT_STREAM_LIMITS, type StreamParserLimits } from '../stream/parser.js';

/** The outcome of parsing one message. */
export type FrameResult =
  /** The message's single element, without parent. */
  | { kind: 'element'; el: Element }
  /** The message held only whitespace (tolerated and ignored, like whitespace between TCP stanzas). */
  | { kind: 'empty' }
  /** The message violates RFC 7395 / RFC 6120 or a limit: close the stream with this error. */
  | { kind: 'error'; condition: StreamErrorCondition; text: string };

const WHITESPACE = /^[ \t\r\n]*$/;

type SaxOptions = { xmlns: false; position: false; defaultXMLVersion: '1.0'; forceXMLVersion: true };

/**
 * Parses WebSocket messages one at a time (one instance per connection; not re-entrant).
 *
 * Which stream error for which message:
 * - more bytes than `maxStanzaBytes` → `policy-violation` (the WebSocket server also enforces it
 *   as its maximum message size, see `WebSocketEndpoint`);
 * - nesting deeper than `maxDepth` (the message's element has depth 1) or more than
 *   `maxAttributes` on one element → `policy-violation`;
 * - a DTD, a comment, a processing instruction, or an entity reference other than the five
 *   predefined ones and character references → `restricted-xml` (RFC 6120 §11.1);
 * - an XML declaration naming an encoding other than UTF-8 → `unsupported-encoding`;
 * - malformed XML, a partial element, several elements, or text outside the element →
 *   `not-well-formed` (RFC 7395 §3.3.3: one complete document per message);
 * - an undeclared namespace prefix (e.g. `<stream:error>` without `xmlns:stream`) →
 *   `bad-namespace-prefix`;
 * - an element without a namespace (e.g. `<message>` without `xmlns='jabber:client'`) →
 *   `invalid-namespace`: RFC 7395 §3.3.3 requires each message to declare its namespaces.
 */
export class FrameParser {
  readonly limits: Readonly<StreamParserLimits>;
  private readonly sax: SaxesParser<SaxOptions>;
  private root: Element | undefined;
  private cursor: Element | undefined;
  private depth = 0;
  private error: { condition: StreamErrorCondition; text: string } | undefined;

  constructor(limits: Partial<StreamParserLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_STREAM_LIMITS, ...limits });
    const sax = new SaxesParser<SaxOptions>({ xmlns: false, position: false, defaultXMLVersion: '1.0', forceXMLVersion: true });
    sax.on('xmldecl', (decl: XMLDecl) => {
      if (decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8') {
        this.fail('unsupported-encoding', `encoding ${decl.encoding} is not supported, only UTF-8 (RFC 6120 §11.6)`);
      }
    });
    sax.on('doctype', () => this.fail('restricted-xml', 'DTDs are not allowed (RFC 6120 §11.1)'));
    sax.on('comment', () => this.fail('restricted-xml', 'comments are not allowed (RFC 6120 §11.1)'));
    sax.on('processinginstruction', () => this.fail('restricted-xml', 'processing instructions are not allowed (RFC 6120 §11.1)'));
    sax.on('opentagstart', () => {
      if (this.error) return;
      if (this.depth + 1 > this.limits.maxDepth)
        this.fail('policy-violation', `element nesting exceeds maxDepth (${this.limits.maxDepth})`);
    });
    sax.on('opentag', (tag: SaxesTagPlain) => this.onOpenTag(tag));
    sax.on('closetag', () => {
      if (this.error) return;
      this.depth--;
      this.cursor = this.cursor?.parent ?? undefined;
    });
    sax.on('text', (text: string) => this.onText(text));
    sax.on('cdata', (text: string) => this.onText(text));
    sax.on('error', (err: Error) => {
      const restricted = /doctype|comment|processing instruction|undefined entity/i.test(err.message);
      this.fail(restricted ? 'restricted-xml' : 'not-well-formed', `XML error: ${err.message}`);
    });
    this.sax = sax;
  }

  /**
   * Parses one message.
   * @param text the message, decoded from UTF-8
   * @param byteLength its size in bytes as received
   */
  parse(text: string, byteLength: number): FrameResult {
    if (byteLength > this.limits.maxStanzaBytes) {
      return { kind: 'error', condition: 'policy-violation', text: `message exceeds maxStanzaBytes (${this.limits.maxStanzaBytes} bytes)` };
    }
    if (WHITESPACE.test(text)) return { kind: 'empty' };
    this.root = this.cursor = undefined;
    this.depth = 0;
    this.error = undefined;
    try {
      this.sax.write(text);
    } finally {
      // Final well-formedness checks (unclosed elements), then saxes resets for the next message.
      this.sax.close();
    }
    return this.result();
  }

  /** What the last `write()` produced (a method of its own: the saxes handlers set the fields). */
  private result(): FrameResult {
    const { root, error } = this;
    this.root = this.cursor = undefined;
    if (error) return { kind: 'error', ...error };
    if (!root) return { kind: 'error', condition: 'not-well-formed', text: 'the message holds no element' };
    if (!root.getNS()) {
      return {
        kind: 'error',
        condition: 'invalid-namespace',
        text: `<${root.name}/> declares no namespace: every WebSocket message must (RFC 7395 §3.3.3)`,
      };
    }
    return { kind: 'element', el: root };
  }

  private onOpenTag(tag: SaxesTagPlain): void {
    if (this.error) return;
    const attrs: Record<string, string> = {};
    let count = 0;
    let prefixed = tag.name.indexOf(':') >= 0;
    for (const name in tag.attributes) {
      attrs[name] = tag.attributes[name];
      count++;
      if (name.indexOf(':') > 0 && !name.startsWith('xmlns:') && !name.startsWith('xml:')) prefixed = true;
    }
    if (count > this.limits.maxAttributes) {
      return this.fail('policy-violation', `element has more than maxAttributes (${this.limits.maxAttributes})`);
    }
    const el = new Element(tag.name);
    el.attrs = attrs;
    if (this.cursor) this.cursor.cnode(el);
    else this.root = el;
    if (prefixed) {
      const unbound = unboundPrefix(el);
      if (unbound !== undefined) return this.fail('bad-namespace-prefix', `namespace prefix "${unbound}" is not declared`);
    }
    this.cursor = el;
    this.depth++;
  }

  private onText(text: string): void {
    if (this.error) return;
    if (this.cursor) this.cursor.children.push(text);
    // Outside the element saxes reports non-whitespace itself; whitespace around it is allowed.
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    this.error ??= { condition, text };
  }
}

/** The first prefix used by `el`'s name or attributes that neither `el` nor an ancestor declares. */
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
