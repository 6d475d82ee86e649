/**
 * The contributions the test host collected from its container, sorted by priority.
 */
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
import type { Container, ServiceIdentifier } from 'inversify';

/**
 * Hook lists of the test host. Prioritised lists are sorted with core's `byPriority` (highest
 * first; for interceptors, outermost first); the others keep container order. Bound in the
 * container as a constant so that the registry and sessions always read the current lists.
 */
export class TestHostHooks {
  streamFeatureProviders: StreamFeatureProvider[] = [];
  nonzaHandlers: NonzaHandler[] = [];
  iqHandlers: IqHandler[] = [];
  stanzaHandlers: StanzaHandler[] = [];
  inboundInterceptors: InboundStanzaInterceptor[] = [];
  outboundInterceptors: OutboundStanzaInterceptor[] = [];
  streamListeners: StreamListener[] = [];
  sessionListeners: SessionListener[] = [];
  discoFeatureProviders: DiscoFeatureProvider[] = [];
  /** Server features declared by the loaded plugin definitions (`PluginDefinition.features`). */
  pluginFeatures: string[] = [];

  /** (Re)collects every hook from `container` with `isBound`/`getAll`. */
  collect(container: Container): void {
    const all = <T>(id: ServiceIdentifier<T>): T[] => (container.isBound(id) ? container.getAll<T>(id) : []);
    this.streamFeatureProviders = byPriority(all<StreamFeatureProvider>(StreamFeatureProvider));
    this.nonzaHandlers = all<NonzaHandler>(NonzaHandler);
    this.iqHandlers = all<IqHandler>(IqHandler);
    this.stanzaHandlers = byPriority(all<StanzaHandler>(StanzaHandler));
    this.inboundInterceptors = byPriority(all<InboundStanzaInterceptor>(InboundStanzaInterceptor));
    this.outboundInterceptors = byPriority(all<OutboundStanzaInterceptor>(OutboundStanzaInterceptor));
    this.streamListeners = byPriority(all<StreamListener>(StreamListener));
    this.sessionListeners = byPriority(all<SessionListener>(SessionListener));
    this.discoFeatureProviders = all<DiscoFeatureProvider>(DiscoFeatureProvider);
  }
}
