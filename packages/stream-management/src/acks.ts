/**
 * Acks of XEP-0198 1.x: `<r/>` (request) and `<a h/>` (answer) in `urn:xmpp:sm:3` and
 * `urn:xmpp:sm:2` (1.6.x §4 "Acks"). For the 0.7 draft's `u`/`h` elements see `legacy-sm1.ts`.
 * @packageDocumentation
 */
import { xml, type Element } from '@strand/core';
import { formatUint32, parseUint32 } from './counters.js';
import { invalid, ok, type ParseResult, type SmNamespace } from './namespaces.js';

/** The namespaces whose `<a/>`/`<r/>` this module builds and parses. */
export type CountingNamespace = Exclude<SmNamespace, 'urn:xmpp:sm:1'>;

/** `<r xmlns/>` — "The `<r/>` element has no defined attributes" (§4). */
export function requestElement(ns: CountingNamespace): Element {
  return xml('r', { xmlns: ns });
}

/**
 * `<a xmlns h/>` — "An `<a/>` element MUST possess an 'h' attribute" (§4).
 * @param h the count of stanzas handled, modulo 2^32
 */
export function ackElement(ns: CountingNamespace, h: number): Element {
  return xml('a', { xmlns: ns, h: formatUint32(h) });
}

/**
 * Parses `<a h/>`: `h` is required and must be a canonical `xs:unsignedInt` (see
 * {@link parseUint32}); anything else is invalid (answered with a stream error by the plugin).
 */
export function parseAck(el: Element): ParseResult<{ readonly h: number }> {
  const h = parseUint32(el.attrs.h);
  if (h === undefined) {
    return invalid(el.attrs.h === undefined ? "<a/> without 'h'" : `invalid 'h' ${JSON.stringify(el.attrs.h)}`);
  }
  return ok({ h });
}
