/**
 * Unit tests of the RFC 7395 message parser and serialiser (`FrameParser`, `framed`): limits at
 * their exact boundaries, namespace rules, and that serialising never modifies a shared element.
 */
import { describe, expect, it } from '@jest/globals';
import { xml } from '@xmpp/client';
import { FrameParser, framed } from '@strand/server';

const limits = { maxStanzaBytes: 1000, maxDepth: 4, maxAttributes: 3, maxHeaderBytes: 200 };
const parse = (text: string) => new FrameParser(limits).parse(text, Buffer.byteLength(text));

describe('FrameParser', () => {
  it('parses one namespaced element per message, with its namespace and children', () => {
    const r = parse(`<message xmlns='jabber:client' to='a@b'><body>h&amp;i &#65;</body></message>`);
    expect(r.kind).toBe('element');
    if (r.kind !== 'element') return;
    expect(r.el.getNS()).toBe('jabber:client');
    expect(r.el.getChildText('body')).toBe('h&i A');
    expect(r.el.parent).toBeFalsy();
  });

  it('accepts surrounding whitespace and an XML declaration in UTF-8; ignores whitespace-only messages', () => {
    expect(parse(`<?xml version='1.0' encoding='UTF-8'?>\n<a xmlns='urn:x'/>\n`).kind).toBe('element');
    expect(parse(' \r\n\t ')).toEqual({ kind: 'empty' });
  });

  it('resolves declared prefixes: <stream:error> with xmlns:stream is fine, without it is bad-namespace-prefix', () => {
    const ok = parse(
      `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><reset xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    );
    expect(ok.kind).toBe('element');
    expect(parse(`<stream:error/>`)).toMatchObject({ kind: 'error', condition: 'bad-namespace-prefix' });
    expect(parse(`<a xmlns='urn:x' p:attr='1'/>`)).toMatchObject({ kind: 'error', condition: 'bad-namespace-prefix' });
  });

  it('enforces maxDepth, maxAttributes and maxStanzaBytes at their exact boundaries', () => {
    const nest = (n: number) => `<a xmlns='urn:x'>${'<b>'.repeat(n - 1)}${'</b>'.repeat(n - 1)}</a>`;
    expect(parse(nest(4)).kind).toBe('element');
    expect(parse(nest(5))).toMatchObject({ kind: 'error', condition: 'policy-violation' });
    expect(parse(`<a xmlns='urn:x' b='1' c='2'/>`).kind).toBe('element');
    expect(parse(`<a xmlns='urn:x' b='1' c='2' d='3'/>`)).toMatchObject({ kind: 'error', condition: 'policy-violation' });
    const body = (n: number) => `<a xmlns='urn:x'>${'é'.repeat(n)}</a>`; // 2 bytes per é
    const overhead = Buffer.byteLength(body(0));
    expect(parse(body((1000 - overhead) / 2)).kind).toBe('element');
    expect(parse(body((1000 - overhead) / 2 + 1))).toMatchObject({ kind: 'error', condition: 'policy-violation' });
  });

  it('keeps working after an error (one parser per connection, reset per message)', () => {
    const p = new FrameParser(limits);
    expect(p.parse('<a xmlns="urn:x">', 16).kind).toBe('error');
    expect(p.parse('<b xmlns="urn:x"/>', 18)).toMatchObject({ kind: 'element' });
  });
});

describe('framed()', () => {
  it('adds jabber:client to a stanza and xmlns:stream to stream elements without modifying them', () => {
    const msg = xml('message', { to: 'a@b', id: '1' }, xml('body', {}, 'x'));
    expect(framed(msg)).toBe(`<message xmlns="jabber:client" to="a@b" id="1"><body>x</body></message>`);
    expect(msg.attrs.xmlns).toBeUndefined();
    expect(msg.toString()).toBe(`<message to="a@b" id="1"><body>x</body></message>`);
    const features = xml('stream:features', {}, xml('bind', { xmlns: 'urn:ietf:params:xml:ns:xmpp-bind' }));
    expect(framed(features)).toBe(
      `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>`,
    );
    const nonza = xml('a', { xmlns: 'urn:xmpp:sm:3', h: '3' });
    expect(framed(nonza)).toBe(`<a xmlns="urn:xmpp:sm:3" h="3"/>`);
  });
});
