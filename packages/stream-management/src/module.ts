/**
 * The DI module of `@strand/stream-management`.
 * @packageDocumentation
 */
import { ContainerModule } from 'inversify';
import {
  InboundStanzaInterceptor,
  Logger,
  NonzaHandler,
  OutboundStanzaInterceptor,
  Router,
  SessionListener,
  SessionRegistry,
  StreamFeatureProvider,
  StreamListener,
  type Logger as LoggerT,
  type OutboundStanzaInterceptor as OutboundStanzaInterceptorT,
  type Router as RouterT,
  type SessionRegistry as SessionRegistryT,
} from '@strand/core';
import { SmConfig, resolveSmConfig, type SmConfigInput } from './config.js';
import {
  Sm1NonzaHandlerImpl,
  Sm2NonzaHandlerImpl,
  Sm3NonzaHandlerImpl,
  SmFeatureImpl,
  SmInboundCounterImpl,
  SmOutboundQueueImpl,
  SmSessionListenerImpl,
  SmStreamListenerImpl,
} from './contributions.js';
import { SmEventBusImpl } from './events.js';
import { SmMetricsImpl } from './metrics.js';
import { SmIdRegistryImpl, SmIdRegistry } from './sm-id-registry.js';
import { SmHostServices, StreamManagerImpl, type SmHostServices as SmHostServicesT } from './stream-manager.js';

/**
 * Builds the container module from the validated config section. Out-of-range values are clamped
 * (with a warning on the host `Logger`) when {@link SmConfig} is first resolved.
 */
export function streamManagementModule(input: SmConfigInput): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<unknown>(SmConfig)
      .toDynamicValue((ctx) => {
        const logger = ctx.get<LoggerT>(Logger);
        return resolveSmConfig(input, (msg) => logger.warn(msg));
      })
      .inSingletonScope();

    // Resolved on first use: a host's registry and router may themselves depend on the collected
    // hooks, which include this plugin's contributions (an eager injection would be a cycle).
    bind<SmHostServicesT>(SmHostServices)
      .toDynamicValue((ctx) => {
        let registry: SessionRegistryT | undefined;
        let router: RouterT | undefined;
        let outbound: OutboundStanzaInterceptorT[] | undefined;
        return {
          get registry() {
            return (registry ??= ctx.get<SessionRegistryT>(SessionRegistry));
          },
          get router() {
            return (router ??= ctx.get<RouterT>(Router));
          },
          get outbound() {
            return (outbound ??= ctx.getAll<OutboundStanzaInterceptorT>(OutboundStanzaInterceptor));
          },
        };
      })
      .inSingletonScope();
    bind(SmIdRegistryImpl).toSelf().inSingletonScope();
    bind(SmIdRegistry).toService(SmIdRegistryImpl);
    bind(SmMetricsImpl).toSelf().inSingletonScope();
    bind(SmEventBusImpl).toSelf().inSingletonScope();
    bind(StreamManagerImpl).toSelf().inSingletonScope();

    bind(SmFeatureImpl).toSelf().inSingletonScope();
    bind(StreamFeatureProvider).toService(SmFeatureImpl);

    bind(Sm3NonzaHandlerImpl).toSelf().inSingletonScope();
    bind(NonzaHandler).toService(Sm3NonzaHandlerImpl);
    bind(Sm2NonzaHandlerImpl).toSelf().inSingletonScope();
    bind(NonzaHandler).toService(Sm2NonzaHandlerImpl);
    if (input.legacyDraftSm1) {
      bind(Sm1NonzaHandlerImpl).toSelf().inSingletonScope();
      bind(NonzaHandler).toService(Sm1NonzaHandlerImpl);
    }

    bind(SmInboundCounterImpl).toSelf().inSingletonScope();
    bind(InboundStanzaInterceptor).toService(SmInboundCounterImpl);
    bind(SmOutboundQueueImpl).toSelf().inSingletonScope();
    bind(OutboundStanzaInterceptor).toService(SmOutboundQueueImpl);
    bind(SmStreamListenerImpl).toSelf().inSingletonScope();
    bind(StreamListener).toService(SmStreamListenerImpl);
    bind(SmSessionListenerImpl).toSelf().inSingletonScope();
    bind(SessionListener).toService(SmSessionListenerImpl);
  });
}
