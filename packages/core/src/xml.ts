/**
 * Element helpers. Strand uses ltx `Element` (via `@xmpp/xml`) as its stanza type everywhere.
 */
import xml, { Element } from '@xmpp/xml';
import { STANZA_NAMES } from './namespaces.js';

export { Element, xml };

/** True when `el` is a stanza (message, presence or iq) rather than a nonza. */
export function isStanza(el: Element): boolean {
  return STANZA_NAMES.has(el.name);
}

/**
 * The namespace an element is in, taking into account inherited `xmlns` from its ancestors
 * (ltx keeps parents). Returns `''` when none is declared.
 */
export function namespaceOf(el: Element): string {
  return el.getNS() ?? '';
}

/** Deep copy of an element (attributes and children), detached from its parent. */
export function cloneElement(el: Element): Element {
  // Same result as `new Element(el.name, el.attrs)` (ltx copies attrs with Object.assign), but the
  // spread copy is several times faster: stream management copies every outbound stanza.
  const copy = new Element(el.name);
  copy.attrs = { ...el.attrs };
  const children = el.children;
  for (let i = 0; i < children.length; i++) {
    const child = children[i]!;
    if (typeof child === 'string') copy.children.push(child);
    else copy.cnode(cloneElement(child as Element));
  }
  return copy;
}
