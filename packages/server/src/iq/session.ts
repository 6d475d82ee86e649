/**
 * RFC 3921 §3 legacy session establishment after resource binding: we advertise
 * `<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>` (RFC 6121
 * Appendix E), and clients that still send the `<session/>` iq after bind (Strophe.js, hence
 * Converse.js) must get an empty result, not an error.
 */
import { injectable } from 'inversify';
import { NS, type IqHandler } from '@strand/core';

@injectable()
export class SessionEstablishmentHandlerImpl implements IqHandler {
  readonly xmlns = NS.SESSION;
  readonly element = 'session';
  readonly types = ['set'] as const;
  readonly target = 'server' as const;
  handle(): void {}
}
