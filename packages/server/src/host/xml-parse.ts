/** Parsing of serialised elements the host wrote itself (storage rows, cluster messages). */
import { parse } from 'ltx';
import { Element } from '@strand/core';

/**
 * Parses one serialised element into core's `Element` class (ltx's own `parse` would build ltx's
 * class, which `instanceof` checks elsewhere reject).
 * @throws Error when `xml` is not one well-formed element
 */
export function parseXml(xml: string): Element {
  return parse(xml, { Element }) as Element;
}
