/**
 * XEP-0203 delayed delivery and XEP-0082 date-time helpers.
 */
import { Element, xml, cloneElement } from './xml.js';
import { NS } from './namespaces.js';

/**
 * XEP-0082 DateTime profile in UTC with `Z`, e.g. `2002-09-10T23:08:25.000Z`.
 * @param ms epoch milliseconds
 */
export function xep82DateTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Builds `<delay xmlns='urn:xmpp:delay' from stamp/>` (XEP-0203 §3).
 * @param at epoch milliseconds of the original send/set time
 * @param from JID of the entity that delayed the stanza (optional)
 */
export function delayElement(at: number, from?: string, reason?: string): Element {
  const attrs: Record<string, string> = { xmlns: NS.DELAY, stamp: xep82DateTime(at) };
  if (from) attrs.from = from;
  return reason ? xml('delay', attrs, reason) : xml('delay', attrs);
}

/**
 * Returns a copy of `stanza` with a delay element added (an existing `urn:xmpp:delay` child is
 * kept: the first delay wins, XEP-0203 §4 allows several from different entities only).
 */
export function withDelay(stanza: Element, at: number, from?: string): Element {
  const copy = cloneElement(stanza);
  if (!copy.getChild('delay', NS.DELAY)) copy.append(delayElement(at, from));
  return copy;
}
