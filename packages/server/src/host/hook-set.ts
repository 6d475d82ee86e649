/**
 * The host's view of every contribution point, collected once from the container after all
 * plugin and override modules are loaded, and sorted by priority (core `byPriority`).
 */
import type { Container } from 'inversify';
import {
  byPriority,
  DiscoFeatureProvider,
  InboundStanzaInterceptor,
  IqHandler,
  NonzaHandler,
  OutboundStanzaInterceptor,
  SessionListener,
  StanzaHandler,
  StreamFeatureProvider,
  StreamListener,
} from '@strand/core';

function all<T>(container: Container, token: symbol): T[] {
  return container.isBound(token) ? container.getAll<T>(token) : [];
}

/**
 * Sorted hook contributions (higher priority first). Each list is collected on first use, not when
 * the HookSet is created, so that contributions may depend on services (registry, router) that
 * themselves depend on the HookSet without forming a construction cycle.
 */
export class HookSet {
  private readonly cache = new Map<symbol, unknown[]>();
  private nonzaMap: Map<string, NonzaHandler> | undefined;

  constructor(private readonly container: Container) {}

  private list<T>(token: symbol, sort: boolean): T[] {
    let l = this.cache.get(token) as T[] | undefined;
    if (!l) {
      const items = all<T>(this.container, token);
      l = sort ? byPriority(items as unknown as { priority: number }[]) as unknown as T[] : items;
      this.cache.set(token, l);
    }
    return l;
  }

  get features(): StreamFeatureProvider[] {
    return this.list(StreamFeatureProvider, true);
  }
  get nonzas(): Map<string, NonzaHandler> {
    if (!this.nonzaMap) {
      this.nonzaMap = new Map();
      for (const h of all<NonzaHandler>(this.container, NonzaHandler)) {
        for (const name of h.names) this.nonzaMap.set(HookSet.nonzaKey(h.xmlns, name), h);
      }
    }
    return this.nonzaMap;
  }
  get iqHandlers(): IqHandler[] {
    return this.list(IqHandler, false);
  }
  get stanzaHandlers(): StanzaHandler[] {
    return this.list(StanzaHandler, true);
  }
  get inbound(): InboundStanzaInterceptor[] {
    return this.list(InboundStanzaInterceptor, true);
  }
  get outbound(): OutboundStanzaInterceptor[] {
    return this.list(OutboundStanzaInterceptor, true);
  }
  get streamListeners(): StreamListener[] {
    return this.list(StreamListener, true);
  }
  get sessionListeners(): SessionListener[] {
    return this.list(SessionListener, true);
  }
  get disco(): DiscoFeatureProvider[] {
    return this.list(DiscoFeatureProvider, false);
  }

  /** Lookup key of a nonza handler. */
  static nonzaKey(xmlns: string, name: string): string {
    return `${xmlns} ${name}`;
  }

  /**
   * The iq handler for a payload and type, preferring handlers of the given target.
   * @param target `server` (to the domain), `account` (to a bare JID), or `any` (iq without `to`)
   */
  findIqHandler(xmlns: string, element: string, type: 'get' | 'set', target: 'server' | 'account' | 'any'): IqHandler | undefined {
    const matches = this.iqHandlers.filter(
      (h) => h.xmlns === xmlns && h.element === element && h.types.includes(type),
    );
    if (target === 'any') return matches.find((h) => h.target !== 'server') ?? matches[0];
    return matches.find((h) => h.target === target || h.target === 'both');
  }
}

/** Token of the host's {@link HookSet}. */
export const HookSetToken = Symbol.for('@strand/server/HookSet');
