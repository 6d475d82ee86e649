/**
 * What the host needs from a transport stream beyond the public `XmlStream` (TCP and WebSocket
 * streams both implement it).
 */
import type { Element, JID, Session, XmlStream } from '@strand/core';

export interface HostStream extends XmlStream {
  authenticatedJid: JID | undefined;
  session: Session | undefined;
  /**
   * Writes a stanza. Only the host's `Session` implementation calls this (the final step of the
   * outbound interceptor chain and retransmission); plugins use `Session.send`.
   * @returns false when the stream can no longer write.
   */
  writeStanza(el: Element): boolean;
}
