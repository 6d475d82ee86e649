/**
 * The contributions the component host collects from its container, sorted by priority (core
 * `byPriority`), exactly as the reference server does.
 * @packageDocumentation
 */
import type { Container } from 'inversify';
import {
  byPriority,
  DiscoFeatureProvider,
  InboundStanzaInterceptor,
  IqHandler,
  NonzaHandler,
  StanzaHandler,
  StreamListener,
} from '@strand/core';

/**
 * Hook lists of a component host, each collected on first use (after every plugin and override
 * module is loaded). Outbound interceptors, session listeners and stream features do not apply
 * inside a component: it has no client sessions and offers no stream features.
 */
export class ComponentHooks {
  private readonly cache = new Map<symbol, unknown[]>();

  constructor(private readonly container: Container) {}

  private list<T>(token: symbol, sort: boolean): T[] {
    let l = this.cache.get(token) as T[] | undefined;
    if (!l) {
      const items = this.container.isBound(token) ? this.container.getAll<T>(token) : [];
      l = sort ? (byPriority(items as unknown as { priority: number }[]) as unknown as T[]) : items;
      this.cache.set(token, l);
    }
    return l;
  }

  get streamListeners(): StreamListener[] {
    return this.list(StreamListener, true);
  }
  get stanzaHandlers(): StanzaHandler[] {
    return this.list(StanzaHandler, true);
  }
  get inbound(): InboundStanzaInterceptor[] {
    return this.list(InboundStanzaInterceptor, true);
  }
  get iqHandlers(): IqHandler[] {
    return this.list(IqHandler, false);
  }
  get nonzaHandlers(): NonzaHandler[] {
    return this.list(NonzaHandler, false);
  }
  get disco(): DiscoFeatureProvider[] {
    return this.list(DiscoFeatureProvider, false);
  }

  /** The iq handler for a payload, type and target (`server`: the domain, `account`: `user@domain`). */
  findIqHandler(xmlns: string, element: string, type: 'get' | 'set', target: 'server' | 'account'): IqHandler | undefined {
    return this.iqHandlers.find(
      (h) => h.xmlns === xmlns && h.element === element && h.types.includes(type) && (h.target === target || h.target === 'both'),
    );
  }

  /** The nonza handler for (namespace, local name). */
  findNonzaHandler(xmlns: string, name: string): NonzaHandler | undefined {
    return this.nonzaHandlers.find((h) => h.xmlns === xmlns && h.names.includes(name));
  }
}

/** DI token of the host's {@link ComponentHooks}. */
export const ComponentHooksToken = Symbol.for('@strand/component/ComponentHooks');
