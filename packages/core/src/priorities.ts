/**
 * The hook priority table (mirrored in README.md). Higher numbers run first; for interceptors
 * higher means further outside. Use these constants rather than literals so that the order is
 * explicit and reviewable in one place, never an accident of load order.
 */
export const Priority = {
  /** Stream features, in the order they appear in `<stream:features/>`. */
  feature: {
    STARTTLS: 1000,
    SASL_MECHANISMS: 900,
    BIND: 500,
    SESSION: 490,
    STREAM_MANAGEMENT: 400,
    KEEPALIVE: 300,
    ROSTER_VERSIONING: 200,
    PRE_APPROVAL: 190,
  },
  /** Inbound interceptors: SM's `h` counter is outermost so that it sees every stanza's end. */
  inbound: {
    STREAM_MANAGEMENT: 1000,
    DEFAULT: 0,
  },
  /** Outbound interceptors: SM's unacked queue is outermost so that it records what is written. */
  outbound: {
    STREAM_MANAGEMENT: 1000,
    DEFAULT: 0,
  },
  /** Stanza handlers (before default routing). */
  stanza: {
    /** Keepalive consumes only the answers to its own XEP-0199 pings; first, harmless to others. */
    KEEPALIVE: 600,
    /** XEP-0318 answers client probes before the host's own probe handling. */
    PRESENCE_PROBE: 500,
    /** The host's RFC 6121 presence/subscription processing. */
    HOST_IM: 0,
  },
  /** `onReadTimeout`: SM asks `<r/>` before keepalive would ping (as in Prosody). */
  readTimeout: {
    STREAM_MANAGEMENT: 200,
    KEEPALIVE: 100,
  },
  /** Stream listeners (`onClosing`: SM writes its final `<a/>` before anything else closes). */
  stream: {
    STREAM_MANAGEMENT: 1000,
    KEEPALIVE: 500,
    IDLE_CLOSE: 400,
    HOST: 0,
  },
  /** Session listeners (`onTransportLost`: SM claims first). */
  session: {
    STREAM_MANAGEMENT: 1000,
    /** Keepalive re-arms a negotiated interval on the resumed stream (`onResumed`). */
    KEEPALIVE: 500,
    HOST_IM: 0,
  },
} as const;
