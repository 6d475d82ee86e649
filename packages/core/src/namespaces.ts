/**
 * XML namespace constants used by the host and the plugins.
 * One concept, one name: every module imports these instead of spelling URIs.
 */
export const NS = {
  /** RFC 6120 §4.8.1 — the stream namespace. */
  STREAM: 'http://etherx.jabber.org/streams',
  /** RFC 6120 §4.8.2 — client content namespace. */
  CLIENT: 'jabber:client',
  /** XEP-0114 — component content namespace. */
  COMPONENT_ACCEPT: 'jabber:component:accept',
  /** RFC 6120 §4.9.3 — stream error conditions. */
  STREAMS: 'urn:ietf:params:xml:ns:xmpp-streams',
  /** RFC 6120 §8.3.3 — stanza error conditions. */
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  /** RFC 6120 §5 — STARTTLS. */
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  /** RFC 6120 §6 — SASL. */
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  /** RFC 6120 §7 — resource binding. */
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  /** RFC 3921 §3 — legacy session establishment (accepted as a no-op). */
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  /** RFC 6121 §2 — roster. */
  ROSTER: 'jabber:iq:roster',
  /** RFC 6121 §2.6 — roster versioning stream feature. */
  ROSTER_VER: 'urn:xmpp:features:rosterver',
  /** RFC 6121 §3.4 — subscription pre-approval stream feature. */
  PRE_APPROVAL: 'urn:xmpp:features:pre-approval',
  /** XEP-0030 — service discovery. */
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  /** XEP-0199 — XMPP ping. */
  PING: 'urn:xmpp:ping',
  /** XEP-0203 — delayed delivery. */
  DELAY: 'urn:xmpp:delay',
  /** XEP-0198 1.6.x and its older namespace versions. */
  SM_3: 'urn:xmpp:sm:3',
  SM_2: 'urn:xmpp:sm:2',
  /** XEP-0198 0.7 draft (legacy profile). */
  SM_1: 'urn:xmpp:sm:1',
  /** XEP-0304 — whitespace keepalive negotiation. */
  KEEPALIVE: 'urn:xmpp:keepalive:0',
  /** RFC 7395 — XMPP over WebSocket framing. */
  FRAMING: 'urn:ietf:params:xml:ns:xmpp-framing',
  /** XML namespace (xml:lang). */
  XML: 'http://www.w3.org/XML/1998/namespace',
} as const;

/** Stanza element names (RFC 6120 §8). Everything else at top level is a nonza. */
export const STANZA_NAMES: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);
