/**
 * Types for `@xmpp/component` 0.13.1 (CommonJS, no bundled types, no `@types` package): only what
 * `@strand/component` uses. The package's public API never exposes these names; it exposes
 * {@link import('./xmpp.js').XmppComponent} instead, so consumers of `@strand/component` need no
 * declaration of their own.
 */
declare module '@xmpp/component' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';
  import type { Element } from '@xmpp/xml';

  /** `@xmpp/connection`'s status values. */
  export type Status =
    | 'offline'
    | 'connecting'
    | 'connect'
    | 'opening'
    | 'open'
    | 'online'
    | 'closing'
    | 'close'
    | 'disconnecting'
    | 'disconnect';

  /** `@xmpp/connection/lib/StreamError`: a `<stream:error/>` received from the server. */
  export interface StreamError extends Error {
    readonly name: 'StreamError';
    readonly condition: string;
    readonly text?: string;
    readonly element?: Element;
  }

  /** The entity `component()` returns: an `@xmpp/component-core` `Component` plus plugins. */
  export interface Component extends EventEmitter {
    status: Status;
    /** The component JID once online. */
    jid: { toString(): string } | null;
    /** Timeout of `open`, `close`, `disconnect` and the handshake, **milliseconds** (default 2000). */
    timeout: number;
    socket: Socket | null;
    readonly options: { service: string; domain: string; lang?: string };
    connect(service: string): Promise<void>;
    open(options: { domain: string; lang?: string; timeout?: number }): Promise<Element>;
    /** Writes `</stream:stream>`, waits for the server's (or `timeout`), then ends the socket. */
    stop(): Promise<Element | undefined>;
    disconnect(timeout?: number): Promise<void>;
    send(element: Element): Promise<void>;
    write(data: string): Promise<void>;
    readonly reconnect: EventEmitter & { delay: number; start(): void; stop(): void };
    readonly middleware: { use(fn: (ctx: unknown, next: () => Promise<unknown>) => unknown): unknown };
    readonly iqCaller: {
      request(stanza: Element, timeoutMs?: number): Promise<Element>;
      get(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
      set(element: Element, to?: string, timeoutMs?: number): Promise<Element>;
    };
  }

  export interface ComponentOptions {
    /** `xmpp://host:port` (default port 5347). */
    service: string;
    domain: string;
    password: string | ((authenticate: (password: string) => Promise<void>) => Promise<void>);
  }

  export function component(options: ComponentOptions): Component;
  export const xml: (name: string, attrs?: Record<string, string>, ...children: unknown[]) => Element;
}
