/**
 * What the component host's services need from the host object itself.
 * @packageDocumentation
 */
import type { Element, StanzaContext } from '@strand/core';
import type { ComponentStreamImpl } from './stream.js';

/**
 * The host's current connection and its application-facing outlets. Bound as a constant by
 * {@link import('./host.js').ComponentHost}; rebinding it is not supported.
 */
export interface ComponentLink {
  /** The current connection to the server, or undefined between connections. */
  readonly stream: ComponentStreamImpl | undefined;
  /**
   * A message or presence no stanza handler consumed: handed to the host's `stanza` event
   * listeners. @returns true when at least one listener got it.
   */
  unhandled(ctx: StanzaContext): boolean;
  /** An iq result/error nobody consumed: handed to `@xmpp/component`'s `iqCaller`. */
  iqResponse(iq: Element): void;
}
/** DI token of the {@link ComponentLink}. */
export const ComponentLink = Symbol.for('@strand/component/ComponentLink');
