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

/** Sorted hook contributions (higher priority first). */
export class HookSet {
  readonly features: StreamFeatureProvider[];
  readonly nonzas: Map<string, NonzaHandler>;
  readonly iqHandlers: IqHandler[];
  readonly stanzaHandlers: StanzaHandler[];
  readonly inbound: InboundStanzaInterceptor[];
  readonly outbound: OutboundStanzaInterceptor[];
  readonly streamListeners: StreamListener[];
  readonly sessionListeners: SessionListener[];
  readonly disco: DiscoFeatureProvider[];

  constructor(container: Container) {
    this.features = byPriority(all<StreamFeatureProvider>(container, StreamFeatureProvider));
    this.nonzas = new Map();
    for (const h of all<NonzaHandler>(container, NonzaHandler)) {
      for (const name of h.names) this.nonzas.set(HookSet.nonzaKey(h.xmlns, name), h);
    }
    this.iqHandlers = all<IqHandler>(container, IqHandler);
    this.stanzaHandlers = byPriority(all<StanzaHandler>(container, StanzaHandler));
    this.inbound = byPriority(all<InboundStanzaInterceptor>(container, InboundStanzaInterceptor));
    this.outbound = byPriority(all<OutboundStanzaInterceptor>(container, OutboundStanzaInterceptor));
    this.streamListeners = byPriority(all<StreamListener>(container, StreamListener));
    this.sessionListeners = byPriority(all<SessionListener>(container, SessionListener));
    this.disco = all<DiscoFeatureProvider>(container, DiscoFeatureProvider);
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
