/**
 * The public view of the wrapped `@xmpp/component` entity ({@link ComponentHost.xmpp}).
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Element } from '@strand/core';

/**
 * The parts of the `@xmpp/component` 0.13 entity that applications may use next to the Strand
 * hooks: `iqCaller` for iq requests (answers reach it after the Strand pipeline), raw events
 * (`input`, `output`, `status`…), the socket. Incoming stanzas are handled by the Strand hooks:
 * `middleware.use()` and `iqCallee` do not see them. Send stanzas with {@link ComponentHost.send}
 * (or `Router.route()`), so that XEP-0114 addressing is checked.
 */
export interface XmppComponent extends EventEmitter {
  /** `@xmpp/connection` status: `connecting`, `open`, `online`, `closing`, `disconnect`, `offline`… */
  readonly status: string;
  /** The component JID once online. */
  readonly jid: { toString(): string } | null;
  /** The current socket, null between connections. */
  readonly socket: Socket | null;
  /** iq requests to other entities; resolve with the result stanza, reject with its error. */
  readonly iqCaller: {
    request(stanza: Element, timeoutMs?: number): Promise<Element>;
    get(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
    set(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
  };
}
