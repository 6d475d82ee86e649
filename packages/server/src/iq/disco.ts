/**
 * XEP-0030 service discovery for the server's JID and for accounts' bare JIDs, listing the
 * features of the host and of every enabled plugin (contributed through `DiscoFeatureProvider`).
 */
import { inject, injectable, multiInject, optional } from 'inversify';
import {
  DiscoFeatureProvider,
  NS,
  ServerInfo,
  StanzaError,
  xml,
  type Element,
  type IqContext,
  type IqHandler,
} from '@strand/core';
import { ExternalRoutes } from '../host/router.js';

/** Features the host itself implements for the server JID. */
export const HOST_SERVER_FEATURES = [NS.DISCO_INFO, NS.DISCO_ITEMS, NS.PING] as const;

@injectable()
export class DiscoInfoHandlerImpl implements IqHandler {
  readonly xmlns = NS.DISCO_INFO;
  readonly element = 'query';
  readonly types = ['get'] as const;
  readonly target = 'both' as const;

  constructor(
    @multiInject(DiscoFeatureProvider) @optional() private readonly providers: DiscoFeatureProvider[] = [],
    @inject(ServerInfo) private readonly server: ServerInfo,
  ) {}

  handle(ctx: IqContext): Element {
    if (ctx.payload.attrs.node) throw new StanzaError('item-not-found');
    const query = xml('query', { xmlns: NS.DISCO_INFO });
    const toServer = !ctx.to.local;
    if (toServer) {
      query.append(xml('identity', { category: 'server', type: 'im', name: this.server.name }));
    } else {
      query.append(xml('identity', { category: 'account', type: 'registered' }));
    }
    const features = new Set<string>(toServer ? HOST_SERVER_FEATURES : [NS.DISCO_INFO]);
    for (const p of this.providers ?? []) {
      for (const f of (toServer ? p.serverFeatures : p.accountFeatures) ?? []) features.add(f);
    }
    for (const f of [...features].sort()) query.append(xml('feature', { var: f }));
    return query;
  }
}

@injectable()
export class DiscoItemsHandlerImpl implements IqHandler {
  readonly xmlns = NS.DISCO_ITEMS;
  readonly element = 'query';
  readonly types = ['get'] as const;
  readonly target = 'both' as const;

  constructor(@inject(ExternalRoutes) private readonly external: ExternalRoutes) {}

  handle(ctx: IqContext): Element {
    const query = xml('query', { xmlns: NS.DISCO_ITEMS });
    if (!ctx.to.local) {
      for (const d of this.external.domains().sort()) query.append(xml('item', { jid: d }));
    }
    return query;
  }
}
