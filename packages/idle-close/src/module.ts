/**
 * The DI module of `@strand/idle-close`.
 * @packageDocumentation
 */
import { ContainerModule } from 'inversify';
import { InboundStanzaInterceptor, Logger, StreamListener, type Logger as LoggerT } from '@strand/core';
import { IdleActivityTrackerImpl } from './activity.js';
import { IdleCloseConfig, resolveIdleCloseConfig, type IdleCloseConfigInput } from './config.js';
import { IdleCloseMetricsImpl } from './metrics.js';
import { IdleCloseHostAccess, SessionCloser, SessionCloserImpl, lazyIdleCloseHostAccess } from './session-closer.js';
import { IdleCloseSweepImpl } from './sweep.js';

/**
 * Builds the container module from the validated config section. Out-of-range limits are clamped
 * (with a warning on the host `Logger`) when {@link IdleCloseConfig} is first resolved.
 *
 * Bindings (each contribution through its concrete class, so `rebind(XxxImpl)` overrides one):
 * - `IdleCloseConfig` → the effective config (seconds);
 * - `SessionCloserImpl` (singleton), `SessionCloser` → `SessionCloserImpl`;
 * - `IdleCloseSweepImpl` (singleton), `StreamListener` → `IdleCloseSweepImpl`;
 * - `IdleActivityTrackerImpl` (singleton), `InboundStanzaInterceptor` → `IdleActivityTrackerImpl`;
 * - `IdleCloseMetricsImpl` (singleton), `IdleCloseHostAccess` (lazy host services).
 */
export function idleCloseModule(input: IdleCloseConfigInput): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<IdleCloseConfig>(IdleCloseConfig)
      .toDynamicValue((ctx) => {
        const logger = ctx.get<LoggerT>(Logger);
        return resolveIdleCloseConfig(input, (msg) => logger.warn(msg));
      })
      .inSingletonScope();
    bind<IdleCloseHostAccess>(IdleCloseHostAccess).toDynamicValue(lazyIdleCloseHostAccess).inSingletonScope();
    bind(IdleCloseMetricsImpl).toSelf().inSingletonScope();

    bind(SessionCloserImpl).toSelf().inSingletonScope();
    bind(SessionCloser).toService(SessionCloserImpl);

    bind(IdleCloseSweepImpl).toSelf().inSingletonScope();
    bind(StreamListener).toService(IdleCloseSweepImpl);

    bind(IdleActivityTrackerImpl).toSelf().inSingletonScope();
    bind(InboundStanzaInterceptor).toService(IdleActivityTrackerImpl);
  });
}
