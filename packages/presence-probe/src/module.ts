/**
 * The DI module of `@strand/presence-probe`.
 * @packageDocumentation
 */
import { ContainerModule } from 'inversify';
import { Logger, OutboundStanzaInterceptor, StanzaHandler, type Logger as LoggerT } from '@strand/core';
import { ProbeAuthorizerImpl } from './authorizer.js';
import { ComponentProbeFallbackImpl } from './components.js';
import { ProbeConfig, resolveProbeConfig, type ProbeConfigInput } from './config.js';
import { ProbeStanzaHandlerImpl } from './handler.js';
import { ProbeMetricsImpl } from './metrics.js';
import { ProbeRateLimiterImpl } from './rate-limit.js';
import { ProbeResponderImpl } from './responder.js';

/**
 * Builds the container module from the validated config section. Out-of-range values are clamped,
 * with a warning on the host `Logger`, when {@link ProbeConfig} is first resolved.
 *
 * Every class is bound to itself in singleton scope, so an override module can
 * `rebind(ProbeResponderImpl).to(MyResponder)` (or the authorizer, the rate limiter, …); the hooks
 * are contributed through the concrete classes (`toService`), never by rebinding a hook token.
 */
export function presenceProbeModule(input: ProbeConfigInput): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind<unknown>(ProbeConfig)
      .toDynamicValue((ctx) => {
        const logger = ctx.get<LoggerT>(Logger);
        return resolveProbeConfig(input, (msg) => logger.warn(msg));
      })
      .inSingletonScope();
    bind(ProbeMetricsImpl).toSelf().inSingletonScope();
    bind(ProbeAuthorizerImpl).toSelf().inSingletonScope();
    bind(ProbeRateLimiterImpl).toSelf().inSingletonScope();
    bind(ProbeResponderImpl).toSelf().inSingletonScope();
    bind(ComponentProbeFallbackImpl).toSelf().inSingletonScope();

    bind(ProbeStanzaHandlerImpl).toSelf().inSingletonScope();
    bind(StanzaHandler).toService(ProbeStanzaHandlerImpl);
    if (input.answerForComponents) bind(OutboundStanzaInterceptor).toService(ComponentProbeFallbackImpl);
  });
}
