/**
 * The host's own DI module: session registry, router, inbound pipeline and the iq handlers the
 * host implements itself (disco, ping). Plugins and overrides load after it and may `rebind`
 * any `XxxImpl` here.
 */
import { ContainerModule } from 'inversify';
import { IqHandler, Router, SessionRegistry } from '@strand/core';
import { InboundProcessor } from './host/inbound.js';
import { SessionRegistryImpl } from './host/registry.js';
import { ExternalRoutes, RouterImpl } from './host/router.js';
import { DiscoInfoHandlerImpl, DiscoItemsHandlerImpl } from './iq/disco.js';
import { PingHandlerImpl } from './iq/ping.js';
import { SessionEstablishmentHandlerImpl } from './iq/session.js';

export const hostModule = new ContainerModule(({ bind }) => {
  bind(SessionRegistryImpl).toSelf().inSingletonScope();
  bind(SessionRegistry).toService(SessionRegistryImpl);
  bind(ExternalRoutes).toSelf().inSingletonScope();
  bind(RouterImpl).toSelf().inSingletonScope();
  bind(Router).toService(RouterImpl);
  bind(InboundProcessor).toSelf().inSingletonScope();
  bind(DiscoInfoHandlerImpl).toSelf().inSingletonScope();
  bind(IqHandler).toService(DiscoInfoHandlerImpl);
  bind(DiscoItemsHandlerImpl).toSelf().inSingletonScope();
  bind(IqHandler).toService(DiscoItemsHandlerImpl);
  bind(PingHandlerImpl).toSelf().inSingletonScope();
  bind(IqHandler).toService(PingHandlerImpl);
  bind(SessionEstablishmentHandlerImpl).toSelf().inSingletonScope();
  bind(IqHandler).toService(SessionEstablishmentHandlerImpl);
});
