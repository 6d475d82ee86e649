/**
 * XEP-0198 namespaces and the small parse-result type shared by the element parsers.
 * @packageDocumentation
 */
import { NS } from '@strand/core';

/**
 * The stream management namespaces this package speaks:
 * - `SM_3` — XEP-0198 1.2 and later (1.6.x is the reference, §2 "Stream Feature");
 * - `SM_2` — XEP-0198 1.0/1.1; the same counters and elements as `sm:3` (1.2 only removed the
 *   `stanzas` attribute and added `location`), so it is served by the same code;
 * - `SM_1` — the 0.7 draft, with its different `u`/`h` semantics (see `legacy-sm1.ts`).
 */
export const SM_NS = {
  SM_3: NS.SM_3,
  SM_2: NS.SM_2,
  SM_1: NS.SM_1,
} as const;

/** One of the stream management namespaces. */
export type SmNamespace = (typeof SM_NS)[keyof typeof SM_NS];

/** The namespaces with XEP-0198 1.x counter semantics (`h` = count of handled stanzas). */
export const COUNTING_NAMESPACES: readonly SmNamespace[] = [SM_NS.SM_3, SM_NS.SM_2];

/** True for `urn:xmpp:sm:3`, `urn:xmpp:sm:2` and `urn:xmpp:sm:1`. */
export function isSmNamespace(ns: string | undefined): ns is SmNamespace {
  return ns === SM_NS.SM_3 || ns === SM_NS.SM_2 || ns === SM_NS.SM_1;
}

/** Short label of a namespace for metrics and logs: `sm3`, `sm2`, `sm1`. */
export function smVersionLabel(ns: SmNamespace): 'sm3' | 'sm2' | 'sm1' {
  return ns === SM_NS.SM_3 ? 'sm3' : ns === SM_NS.SM_2 ? 'sm2' : 'sm1';
}

/** The outcome of parsing a nonza: its value, or why it is invalid (for logs and errors). */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

/** @internal */
export const ok = <T>(value: T): ParseResult<T> => ({ ok: true, value });
/** @internal */
export const invalid = <T>(error: string): ParseResult<T> => ({ ok: false, error });

/**
 * Parses an `xs:boolean` attribute (`true`, `false`, `1`, `0`; XEP-0198 §3 "BOOLEANNOTE").
 * @returns the value, `fallback` when absent, or `undefined` when malformed
 */
export function parseXsBoolean(s: string | undefined, fallback: boolean): boolean | undefined {
  if (s === undefined) return fallback;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return undefined;
}
