/**
 * Where the keepalive contributions sit in the core priority table (higher runs first).
 * @packageDocumentation
 */
import { Priority } from '@strand/core';

export const KeepalivePriority = {
  /** `<keepalive/>` after bind and stream management in `<stream:features/>`. */
  feature: Priority.feature.KEEPALIVE,
  /** Lifecycle listener (`onAuthenticated`, `onClosing`, `onClosed`). */
  stream: Priority.stream.KEEPALIVE,
  /**
   * The `onReadTimeout` listener: after stream management (which answers with `<r/>` first).
   * A separate listener because a `StreamListener` has one priority for all its methods.
   */
  readTimeout: Priority.readTimeout.KEEPALIVE,
  /**
   * The pong catcher (a `StanzaHandler`) only consumes iq results/errors that answer our own
   * pending ping, so its rank among stanza handlers does not change anyone else's behaviour;
   * it runs first.
   */
  pong: Priority.stanza.KEEPALIVE,
  /**
   * Session listener (`onResumed` re-arms the negotiated interval on the new stream). Order is
   * irrelevant; below stream management.
   */
  session: Priority.session.KEEPALIVE,
} as const;
