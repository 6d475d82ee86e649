/**
 * XEP-0304 elements: the `urn:xmpp:keepalive:0` stream feature and negotiation payload, plus the
 * XEP-0199 ping the server sends to silent clients. Builders and parsers only (no DI, no I/O);
 * the client helper (`client.ts`) uses them too.
 * @packageDocumentation
 */
import { xml, type Element } from '@strand/core';

/** XEP-0304 §7.1: the protocol and stream-feature namespace (same value as core `NS.KEEPALIVE`). */
export const NS = 'urn:xmpp:keepalive:0';

/** XEP-0199: the ping namespace. */
export const PING_NS = 'urn:xmpp:ping';

/** XEP-0304 §8: intervals are `positiveShort` (1…65535 seconds). */
export const MAX_POSITIVE_SHORT = 65_535;

/** The interval range a server advertises, in **seconds**. */
export interface KeepaliveRange {
  readonly min: number;
  readonly max: number;
}

/**
 * The stream feature exactly as XEP-0304 §3.1's example:
 * `<keepalive xmlns='urn:xmpp:keepalive:0'><interval min='60' max='300'/></keepalive>`.
 * (The §8 schema puts `min`/`max` on `<keepalive/>` itself; we emit the example's form and
 * {@link parseKeepaliveFeature} accepts both.)
 * @param min smallest acceptable interval, seconds
 * @param max largest acceptable interval, seconds
 */
export function keepaliveFeature(min: number, max: number): Element {
  return xml('keepalive', { xmlns: NS }, xml('interval', { min: String(min), max: String(max) }));
}

/**
 * The negotiation payload of XEP-0304 §3.2:
 * `<keepalive xmlns='urn:xmpp:keepalive:0'><interval>60</interval></keepalive>`.
 * @param seconds the requested interval (not validated: tests build invalid requests with it)
 */
export function keepaliveRequest(seconds: number | string): Element {
  return xml('keepalive', { xmlns: NS }, xml('interval', {}, String(seconds)));
}

/**
 * The whole negotiation iq (`type='set'`, no `to`: addressed to the server, RFC 6120 §8.1.1.1).
 * @param id iq id; omit it to let `@xmpp/client`'s iqCaller assign one
 */
export function keepaliveIq(seconds: number | string, id?: string): Element {
  return xml('iq', { type: 'set', ...(id !== undefined ? { id } : {}) }, keepaliveRequest(seconds));
}

/**
 * The server-to-client ping of XEP-0199 §4.1:
 * `<iq type='get' id from='domain' to='full JID'><ping xmlns='urn:xmpp:ping'/></iq>`.
 */
export function pingIq(id: string, from: string, to: string): Element {
  return xml('iq', { type: 'get', id, from, to }, xml('ping', { xmlns: PING_NS }));
}

/** The `<interval/>` children of a `<keepalive/>` element (qualified or, per the §8 schema's `elementFormDefault='unqualified'`, unqualified). */
function intervalChildren(keepalive: Element): Element[] {
  return keepalive.getChildElements().filter((c) => c.name === 'interval' && (c.getNS() === NS || !c.getNS()));
}

function positiveShortAttr(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = value.trim();
  if (!/^\+?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= MAX_POSITIVE_SHORT ? n : undefined;
}

/**
 * Reads the advertised range from a `<keepalive/>` stream feature. Accepts the §3.1 example form
 * (`min`/`max` on `<interval/>`) and the §8 schema form (`min`/`max` on `<keepalive/>`); the
 * example form wins when both are present. Values must be positiveShort and `min ≤ max`.
 * @param feature the `<keepalive/>` element, or a `<stream:features/>` element containing it
 * @returns the range, or undefined when absent or invalid
 */
export function parseKeepaliveFeature(feature: Element): KeepaliveRange | undefined {
  const el = feature.name === 'keepalive' ? feature : feature.getChild('keepalive', NS);
  if (!el || el.getNS() !== NS) return undefined;
  const fromPair = (attrs: Record<string, string | undefined>): KeepaliveRange | undefined => {
    const min = positiveShortAttr(attrs.min);
    const max = positiveShortAttr(attrs.max);
    return min !== undefined && max !== undefined && min <= max ? { min, max } : undefined;
  };
  for (const interval of intervalChildren(el)) {
    const r = fromPair(interval.attrs as Record<string, string | undefined>);
    if (r) return r;
  }
  return fromPair(el.attrs as Record<string, string | undefined>);
}

/** What the `<interval/>` of a negotiation request contains. */
export type IntervalRequest =
  /** No `<interval/>` child, or an empty one. */
  | { readonly kind: 'missing' }
  /** Not a number (or several `<interval/>`, or child elements inside it). */
  | { readonly kind: 'malformed'; readonly reason: string }
  /** A decimal number; `integer` is false for a lexical form with a fraction part (`60.0`, `1.5`). */
  | { readonly kind: 'number'; readonly value: number; readonly integer: boolean };

/** XSD `decimal` lexical space (the parent type of `unsignedShort`), after whitespace collapse. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * Parses the interval a client requests (XEP-0304 §3.2). Whitespace around the number is
 * ignored (XSD numeric types collapse whitespace), leading zeros and a `+` sign are accepted
 * (both are in the `unsignedShort` lexical space). Range checks are the caller's business.
 * @param keepalive the `<keepalive xmlns='urn:xmpp:keepalive:0'/>` payload of the iq
 */
export function parseIntervalRequest(keepalive: Element): IntervalRequest {
  const intervals = intervalChildren(keepalive);
  if (intervals.length === 0) return { kind: 'missing' };
  if (intervals.length > 1) return { kind: 'malformed', reason: 'more than one <interval/>' };
  const interval = intervals[0]!;
  if (interval.getChildElements().length > 0) return { kind: 'malformed', reason: '<interval/> must contain text only' };
  const text = interval.getText().trim();
  if (text === '') return { kind: 'missing' };
  if (!DECIMAL.test(text)) return { kind: 'malformed', reason: `'${text.slice(0, 32)}' is not a number` };
  const value = Number(text);
  return { kind: 'number', value, integer: !text.includes('.') };
}
