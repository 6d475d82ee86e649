/**
 * The DI module of `@strand/keepalive`.
 * @packageDocumentation
 */
import { ContainerModule } from 'inversify';
import {
  IqHandler,
  Logger,
  SessionListener,
  StanzaHandler,
  StreamFeatureProvider,
  StreamListener,
  type Logger as LoggerT,
} from '@strand/core';
import { KeepaliveConfig, resolveKeepaliveConfig, type KeepaliveConfigInput } from './config.js';
import { DeadPeerDetectorImpl, PongHandlerImpl } from './dead-peer.js';
import { KeepalivePolicyImpl } from './interval-policy.js';
import { KeepaliveSchedulerImpl } from './keepalive-scheduler.js';
import { KeepaliveReadTimeoutListenerImpl, KeepaliveSessionListenerImpl, KeepaliveStreamListenerImpl } from './listeners.js';
import { KeepaliveMetricsImpl } from './metrics.js';
import { KeepaliveFeatureImpl, KeepaliveNegotiationHandlerImpl } from './negotiation.js';
import { WhitespaceKeepaliveImpl } from './whitespace.js';

/**
 * Builds the container module from the validated config section. Out-of-range numbers are clamped
 * (with a warning on the host `Logger`) when {@link KeepaliveConfig} is first resolved.
 *
 * Every class is bound to itself as a singleton; hook contributions are then bound to their hook
 * token with `toService`, so a user overrides one with `rebind(XxxImpl).to(MyImpl)`.
 */
export function keepaliveModule(input: KeepaliveConfigInput): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<unknown>(KeepaliveConfig)
      .toDynamicValue((ctx) => {
        const logger = ctx.get<LoggerT>(Logger);
        return resolveKeepaliveConfig(input, (msg) => logger.warn(msg));
      })
      .inSingletonScope();

    // Services (rebind by class to change behaviour).
    bind(KeepaliveMetricsImpl).toSelf().inSingletonScope();
    bind(KeepalivePolicyImpl).toSelf().inSingletonScope();
    bind(WhitespaceKeepaliveImpl).toSelf().inSingletonScope();
    bind(DeadPeerDetectorImpl).toSelf().inSingletonScope();
    bind(KeepaliveSchedulerImpl).toSelf().inSingletonScope();

    // Hook contributions.
    bind(KeepaliveFeatureImpl).toSelf().inSingletonScope();
    bind(StreamFeatureProvider).toService(KeepaliveFeatureImpl);
    bind(KeepaliveNegotiationHandlerImpl).toSelf().inSingletonScope();
    bind(IqHandler).toService(KeepaliveNegotiationHandlerImpl);
    bind(PongHandlerImpl).toSelf().inSingletonScope();
    bind(StanzaHandler).toService(PongHandlerImpl);
    bind(KeepaliveStreamListenerImpl).toSelf().inSingletonScope();
    bind(StreamListener).toService(KeepaliveStreamListenerImpl);
    bind(KeepaliveReadTimeoutListenerImpl).toSelf().inSingletonScope();
    bind(StreamListener).toService(KeepaliveReadTimeoutListenerImpl);
    bind(KeepaliveSessionListenerImpl).toSelf().inSingletonScope();
    bind(SessionListener).toService(KeepaliveSessionListenerImpl);
  });
}
