/**
 * XML helpers for tests: parse elements from strings as the host's stream parser would, and the
 * marker recorded for a written `</stream:stream>`.
 */
import { Parser } from '@xmpp/xml';
import { Element, NS } from '@strand/core';

/** Name of the marker element recorded in {@link FakeStream.written} for a written `</stream:stream>`. */
export const CLOSE_TAG_NAME = '/stream:stream';

/** Creates the marker element that stands for a written `</stream:stream>`. */
export function closeTagMarker(): Element {
  return new Element(CLOSE_TAG_NAME);
}

/** True when `el` is the marker of a written `</stream:stream>` (see {@link CLOSE_TAG_NAME}). */
export function isCloseTag(el: Element): boolean {
  return el.name === CLOSE_TAG_NAME;
}

/** True when `el` is a `<stream:error/>`. */
export function isStreamError(el: Element): boolean {
  return el.name === 'stream:error';
}

/** The defined condition of a `<stream:error/>` (e.g. `conflict`), or undefined. */
export function streamErrorCondition(el: Element): string | undefined {
  if (!isStreamError(el)) return undefined;
  const c = el.children.find(
    (x): x is Element => typeof x !== 'string' && (x as Element).attrs.xmlns === NS.STREAMS && x.name !== 'text',
  );
  return c?.name;
}

/** The defined condition of a stanza's `<error/>` child (e.g. `service-unavailable`), or undefined. */
export function stanzaErrorCondition(stanza: Element): string | undefined {
  const err = stanza.getChild('error');
  if (!err) return undefined;
  const c = err.children.find(
    (x): x is Element => typeof x !== 'string' && (x as Element).attrs.xmlns === NS.STANZAS && x.name !== 'text',
  );
  return c?.name;
}

/**
 * Parses top-level elements from a string as children of a c2s stream header
 * (`<stream:stream xmlns='jabber:client' xmlns:stream=…>`), so an element without `xmlns`
 * inherits `jabber:client` just like on a real stream.
 * @param content content namespace of the wrapping stream header (default `jabber:client`)
 * @throws Error on malformed XML
 */
export function parseElements(s: string, content: string = NS.CLIENT): Element[] {
  const parser = new Parser();
  const out: Element[] = [];
  let error: Error | undefined;
  parser.on('element', (el: Element) => out.push(el));
  parser.on('error', (err: Error) => {
    error ??= err;
  });
  parser.write(`<stream:stream xmlns='${content}' xmlns:stream='${NS.STREAM}'>`);
  parser.write(s);
  parser.write('</stream:stream>');
  if (error) throw new Error(`malformed XML: ${error.message}`);
  return out;
}

/** Parses exactly one element from a string (see {@link parseElements}). */
export function parseXml(s: string, content: string = NS.CLIENT): Element {
  const els = parseElements(s, content);
  if (els.length !== 1) throw new Error(`expected exactly one element, got ${els.length}`);
  return els[0]!;
}
