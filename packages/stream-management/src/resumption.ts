/**
 * Resumption: `<resume previd h/>` and `<resumed previd h/>` (XEP-0198 1.6.x §4 "Resumption"),
 * including the 0.7 draft's optional `h` (`urn:xmpp:sm:1`).
 * @packageDocumentation
 */
import { xml, type Element } from '@strand/core';
import { formatUint32, parseUint32 } from './counters.js';
import { SM_NS, invalid, ok, type ParseResult, type SmNamespace } from './namespaces.js';

/** A parsed `<resume/>`. */
export interface ResumeRequest {
  /** The SM-ID of the former stream (opaque). */
  readonly previd: string;
  /**
   * sm:3/sm:2: the count of stanzas the client handled on the former stream (REQUIRED since 1.3).
   * sm:1: the last `u` of the server the client acknowledged ("SHOULD include"), or `undefined`.
   */
  readonly h: number | undefined;
}

/**
 * Parses `<resume/>`: `previd` must be present and non-empty; `h` must be a canonical
 * `xs:unsignedInt` — required for sm:3/sm:2 (§4: "MUST include an 'h' attribute"), optional for
 * sm:1 (0.7 draft: "SHOULD include").
 */
export function parseResume(el: Element, ns: SmNamespace): ParseResult<ResumeRequest> {
  const previd = el.attrs.previd;
  if (typeof previd !== 'string' || previd === '') return invalid("<resume/> without 'previd'");
  const rawH = el.attrs.h;
  if (rawH === undefined) {
    if (ns === SM_NS.SM_1) return ok({ previd, h: undefined });
    return invalid("<resume/> without 'h'");
  }
  const h = parseUint32(rawH);
  if (h === undefined) return invalid(`invalid 'h' ${JSON.stringify(rawH)}`);
  return ok({ previd, h });
}

/**
 * `<resumed xmlns h previd/>` (§4: "MUST include a 'previd' attribute … and MUST also include an
 * 'h' attribute"). For sm:1 `h` is omitted when `undefined` (0.7 draft: "If there is no known
 * last acknowledged sequence number for the former stream, then the 'h' attribute MUST NOT be
 * included").
 */
export function resumedElement(ns: SmNamespace, previd: string, h: number | undefined): Element {
  const attrs: Record<string, string> = { xmlns: ns };
  if (h !== undefined) attrs.h = formatUint32(h);
  else if (ns !== SM_NS.SM_1) throw new RangeError('<resumed/> requires h for sm:3/sm:2');
  attrs.previd = previd;
  return xml('resumed', attrs);
}
