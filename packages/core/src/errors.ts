/**
 * Stream and stanza error builders (RFC 6120 §4.9 and §8.3).
 */
import { Element, xml, cloneElement } from './xml.js';
import { NS } from './namespaces.js';

/** RFC 6120 §4.9.3 defined stream error conditions. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** RFC 6120 §8.3.3 defined stanza error conditions. */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** RFC 6120 §8.3.2 error types. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** Everything needed to emit a `<stream:error/>`. */
export interface StreamErrorSpec {
  condition: StreamErrorCondition;
  /** Human-readable `<text xml:lang='en'/>`. */
  text?: string;
  /** Application-specific condition element (e.g. XEP-0198 `<handled-count-too-high/>`). */
  appCondition?: Element;
}

/**
 * Builds `<stream:error><condition/>[<text/>][app]</stream:error>` (RFC 6120 §4.9.2).
 * The element uses the `stream:` prefix bound by the stream header.
 */
export function streamError(spec: StreamErrorSpec): Element {
  const el = xml('stream:error', {}, xml(spec.condition, { xmlns: NS.STREAMS }));
  if (spec.text) el.append(xml('text', { xmlns: NS.STREAMS, 'xml:lang': 'en' }, spec.text));
  if (spec.appCondition) el.append(spec.appCondition);
  return el;
}

/** Default error type per condition (RFC 6120 §8.3.3 "typically"). */
export const DEFAULT_STANZA_ERROR_TYPE: Readonly<Record<StanzaErrorCondition, StanzaErrorType>> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/**
 * A stanza error to be sent in reply to a stanza. Throw it from an `IqHandler` or
 * `StanzaHandler`; the host turns it into the error reply (RFC 6120 §8.3).
 */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    type?: StanzaErrorType,
    readonly text?: string,
    readonly appCondition?: Element,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_STANZA_ERROR_TYPE[condition];
  }
}

/**
 * A stream error to be sent before closing the stream. Throw it from a `NonzaHandler`; the host
 * closes the stream with it through the close handshake (RFC 6120 §4.9).
 */
export class StreamErrorException extends Error {
  constructor(readonly spec: StreamErrorSpec) {
    super(spec.text ? `${spec.condition}: ${spec.text}` : spec.condition);
    this.name = 'StreamError';
  }
}

/** Builds the `<error type><condition/>[<text/>]</error>` child of an error stanza. */
export function stanzaErrorElement(
  condition: StanzaErrorCondition,
  type: StanzaErrorType = DEFAULT_STANZA_ERROR_TYPE[condition],
  text?: string,
  appCondition?: Element,
  by?: string,
): Element {
  const attrs: Record<string, string> = { type };
  if (by) attrs.by = by;
  const el = xml('error', attrs, xml(condition, { xmlns: NS.STANZAS }));
  if (text) el.append(xml('text', { xmlns: NS.STANZAS, 'xml:lang': 'en' }, text));
  if (appCondition) el.append(appCondition);
  return el;
}

/**
 * Builds the error reply to `stanza` (RFC 6120 §8.3.1): same name and `id`, `to`/`from`
 * swapped, `type='error'`. For iq the original payload is omitted; for message and presence it
 * is kept (allowed by §8.3.1 and helpful to the sender).
 *
 * @param stanza the offending stanza (with `from` already stamped by the host)
 * @returns the error stanza, or `undefined` if `stanza` is itself an error (never answer an error
 *   with an error, §8.3.1 rule 3) or an iq result.
 */
export function stanzaErrorReply(
  stanza: Element,
  condition: StanzaErrorCondition,
  type?: StanzaErrorType,
  text?: string,
  appCondition?: Element,
): Element | undefined {
  const t = stanza.attrs.type;
  if (t === 'error') return undefined;
  if (stanza.name === 'iq' && t === 'result') return undefined;
  const attrs: Record<string, string> = { type: 'error' };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  const reply = xml(stanza.name, attrs);
  if (stanza.name !== 'iq') {
    for (const c of stanza.children) if (typeof c !== 'string' && c.name !== 'error') reply.append(cloneElement(c));
  }
  reply.append(stanzaErrorElement(condition, type, text, appCondition));
  return reply;
}

/** Builds an iq result for `iq` with an optional payload. */
export function iqResult(iq: Element, payload?: Element): Element {
  const attrs: Record<string, string> = { type: 'result' };
  if (iq.attrs.id !== undefined) attrs.id = iq.attrs.id;
  if (iq.attrs.from !== undefined) attrs.to = iq.attrs.from;
  if (iq.attrs.to !== undefined) attrs.from = iq.attrs.to;
  const r = xml('iq', attrs);
  if (payload) r.append(payload);
  return r;
}
