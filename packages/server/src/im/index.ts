/**
 * The host's IM core (RFC 6121): roster, subscriptions, presence and offline message delivery,
 * as one container module. Load it after `hostModule`; rebind any `XxxImpl` to change a part.
 */
import { ContainerModule } from 'inversify';
import { IqHandler, SessionListener, StanzaHandler, StreamFeatureProvider } from '@strand/core';
import { ImHostServices, lazyHostServices } from './host-access.js';
import { OfflineDeliveryImpl } from './offline-delivery.js';
import { PresenceServiceImpl, PresenceSessionListenerImpl, PresenceStanzaHandlerImpl } from './presence.js';
import {
  AccountLocksImpl,
  DEFAULT_ROSTER_LIMITS,
  RosterItemRemoval,
  RosterIqHandlerImpl,
  RosterLimits,
  RosterServiceImpl,
  RosterVersioningFeatureImpl,
} from './roster.js';
import { PreApprovalFeatureImpl, SubscriptionServiceImpl, SubscriptionStanzaHandlerImpl } from './subscriptions.js';

export * from './subscription-states.js';
export * from './roster.js';
export * from './subscriptions.js';
export * from './presence.js';
export * from './offline-delivery.js';
export { KeyedMutex } from './keyed-mutex.js';
export { ImHostServices, lazyHostServices } from './host-access.js';

/**
 * Binds the IM core: services (`RosterServiceImpl`, `SubscriptionServiceImpl`,
 * `PresenceServiceImpl`, `OfflineDeliveryImpl`, `AccountLocksImpl`), the roster `IqHandler`, the
 * presence and subscription `StanzaHandler`s, the `SessionListener` that sends unavailable
 * presence when a session ends, and the roster-versioning and pre-approval stream features.
 * Needs the host's `SessionRegistryImpl`, `ExternalRoutes`, `AccountExists`, `Router` and the
 * core stores. Loading it a second time is a no-op.
 */
export const imModule = new ContainerModule(({ bind, isBound }) => {
  // Idempotent: tests pass it in `modules` while the host may already load it by default.
  if (isBound(RosterServiceImpl)) return;
  bind<ImHostServices>(ImHostServices).toDynamicValue(lazyHostServices).inSingletonScope();
  bind(RosterLimits).toConstantValue(DEFAULT_ROSTER_LIMITS);
  bind(AccountLocksImpl).toSelf().inSingletonScope();
  bind(RosterServiceImpl).toSelf().inSingletonScope();
  bind(OfflineDeliveryImpl).toSelf().inSingletonScope();
  bind(PresenceServiceImpl).toSelf().inSingletonScope();
  bind(SubscriptionServiceImpl).toSelf().inSingletonScope();
  bind(RosterItemRemoval).toService(SubscriptionServiceImpl);

  bind(RosterIqHandlerImpl).toSelf().inSingletonScope();
  bind(IqHandler).toService(RosterIqHandlerImpl);

  bind(PresenceStanzaHandlerImpl).toSelf().inSingletonScope();
  bind(StanzaHandler).toService(PresenceStanzaHandlerImpl);
  bind(SubscriptionStanzaHandlerImpl).toSelf().inSingletonScope();
  bind(StanzaHandler).toService(SubscriptionStanzaHandlerImpl);

  bind(PresenceSessionListenerImpl).toSelf().inSingletonScope();
  bind(SessionListener).toService(PresenceSessionListenerImpl);

  bind(RosterVersioningFeatureImpl).toSelf().inSingletonScope();
  bind(StreamFeatureProvider).toService(RosterVersioningFeatureImpl);
  bind(PreApprovalFeatureImpl).toSelf().inSingletonScope();
  bind(StreamFeatureProvider).toService(PreApprovalFeatureImpl);
});
