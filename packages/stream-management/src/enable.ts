/**
 * Enabling stream management: `<enable/>`, `<enabled/>` and `<failed/>` (XEP-0198 1.6.x §3
 * "Enabling Stream Management" and §5 "Error Handling").
 * @packageDocumentation
 */
import { NS, xml, type Element, type StanzaErrorCondition } from '@strand/core';
import { formatUint32 } from './counters.js';
import { SM_NS, invalid, ok, parseXsBoolean, type ParseResult, type SmNamespace } from './namespaces.js';

/** A parsed `<enable/>`. */
export interface EnableRequest {
  /** The client asks for resumption (`resume='true'|'1'`, default false). */
  readonly resume: boolean;
  /**
   * The client's preferred maximum resumption time in **seconds** (`max`), or `undefined` when
   * absent or `0`. Not defined for `urn:xmpp:sm:1`, where the maximum is announced in the feature.
   */
  readonly maxSeconds: number | undefined;
}

/** A non-negative decimal integer of any size (values beyond 2^53 become `Infinity`-like large). */
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/**
 * Parses `<enable/>`. `resume` must be an `xs:boolean`; `max` (sm:3/sm:2 only) a decimal
 * integer. The schema types `max` as `xs:positiveInteger`; `max='0'` is accepted as "no
 * preference" rather than failing the whole enable. The sm:2 `stanzas` attribute is ignored.
 */
export function parseEnable(el: Element, ns: SmNamespace): ParseResult<EnableRequest> {
  const resume = parseXsBoolean(el.attrs.resume, false);
  if (resume === undefined) return invalid(`resume is not a boolean: ${JSON.stringify(el.attrs.resume)}`);
  let maxSeconds: number | undefined;
  if (ns !== SM_NS.SM_1 && el.attrs.max !== undefined) {
    const raw = String(el.attrs.max);
    if (!DECIMAL.test(raw)) return invalid(`max is not a non-negative integer: ${JSON.stringify(raw)}`);
    const n = Number(raw);
    maxSeconds = n === 0 ? undefined : n;
  }
  return ok({ resume, maxSeconds });
}

/** What `<enabled/>` announces. */
export interface EnabledOptions {
  /** The SM-ID; included when the session can be resumed. */
  readonly id?: string;
  /** Resumption allowed (`resume='true'`, §4: "MUST include a resume attribute set to true"). */
  readonly resume?: boolean;
  /** The server's maximum resumption time in **seconds** (sm:3/sm:2 only). */
  readonly maxSeconds?: number;
  /** Preferred reconnection location, `domainpart:port` (sm:3/sm:2 only, §3). */
  readonly location?: string;
}

/**
 * `<enabled xmlns id resume max location/>` (§3; for sm:1 only `id` and `resume`).
 * Attributes appear in the order `xmlns id resume max location`; absent options are omitted.
 */
export function enabledElement(ns: SmNamespace, opts: EnabledOptions = {}): Element {
  const attrs: Record<string, string> = { xmlns: ns };
  if (opts.id !== undefined) attrs.id = opts.id;
  if (opts.resume) attrs.resume = 'true';
  if (ns !== SM_NS.SM_1) {
    if (opts.maxSeconds !== undefined) attrs.max = String(opts.maxSeconds);
    if (opts.location !== undefined) attrs.location = opts.location;
  }
  return xml('enabled', attrs);
}

/**
 * `<failed xmlns [h]><condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>` (§5:
 * "This element SHOULD contain an error condition, which MUST be one of the stanza error
 * conditions"; §4: "the server MAY also include a 'h' attribute" when a timed-out session is
 * recognised).
 * @param h the last known handled count (sm:3/sm:2 only; never sent for sm:1, whose schema has none)
 */
export function failedElement(ns: SmNamespace, condition: StanzaErrorCondition, h?: number): Element {
  const attrs: Record<string, string> = { xmlns: ns };
  if (h !== undefined && ns !== SM_NS.SM_1) attrs.h = formatUint32(h);
  return xml('failed', attrs, xml(condition, { xmlns: NS.STANZAS }));
}
