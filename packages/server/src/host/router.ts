/**
 * Stanza routing for the local domain (RFC 6121 §8.5) and to external routes (components).
 * Messages are never dropped silently where the RFC allows a choice: they are delivered, stored
 * offline, or bounced with a stanza error.
 */
import { inject, injectable } from 'inversify';
import {
  Clock,
  Logger,
  OfflineStore,
  ServerInfo,
  stanzaErrorReply,
  tryParseJid,
  type Element,
  type JID,
  type RouteOptions,
  type Router,
  type StanzaErrorCondition,
} from '@strand/core';
import { SessionRegistryImpl } from './registry.js';
import { SessionImpl, type SessionView } from './session.js';

/** Routing options inside the host: {@link RouteOptions} plus the cluster hop count. */
export interface HostRouteOptions extends RouteOptions {
  /**
   * How many nodes already forwarded this stanza (cluster). At {@link MAX_CLUSTER_HOPS} remote
   * sessions are no longer tried: the stanza is treated as for an unavailable resource, so
   * inconsistent directories can never make it circle between nodes.
   */
  hops?: number;
}

/** Forwarding bound between cluster nodes (see {@link HostRouteOptions.hops}). */
export const MAX_CLUSTER_HOPS = 3;

/** A session that can still be tried for a stanza that already took `hops` hops. */
function reachable(s: SessionView, hops: number): boolean {
  return s.node === undefined || hops < MAX_CLUSTER_HOPS;
}

/** Delivery function of an external route (a connected component). */
export type ExternalDeliver = (stanza: Element) => boolean;

/** Domains served by something other than local sessions (XEP-0114 components). */
@injectable()
export class ExternalRoutes {
  private readonly routes = new Map<string, ExternalDeliver>();
  /** Told when a domain gets or loses its route here (a cluster publishes them). */
  listener: { registered(domain: string): void; unregistered(domain: string): void } | undefined;
  register(domain: string, deliver: ExternalDeliver): void {
    this.routes.set(domain, deliver);
    this.listener?.registered(domain);
  }
  unregister(domain: string, deliver?: ExternalDeliver): void {
    if (!deliver || this.routes.get(domain) === deliver) {
      if (this.routes.delete(domain)) this.listener?.unregistered(domain);
    }
  }
  /** The route for `domain` or, failing that, for its closest parent domain. */
  find(domain: string): ExternalDeliver | undefined {
    let d = domain;
    for (;;) {
      const r = this.routes.get(d);
      if (r) return r;
      const dot = d.indexOf('.');
      if (dot < 0) return undefined;
      d = d.slice(dot + 1);
    }
  }
  domains(): string[] {
    return [...this.routes.keys()];
  }
}

/** Checks whether a local account exists (bound by the server from the AccountStore). */
export const AccountExists = Symbol.for('@strand/server/AccountExists');
export type AccountExists = (username: string) => Promise<boolean>;

@injectable()
export class RouterImpl implements Router {
  constructor(
    @inject(SessionRegistryImpl) private readonly sessions: SessionRegistryImpl,
    @inject(OfflineStore) private readonly offline: OfflineStore,
    @inject(ServerInfo) private readonly server: ServerInfo,
    @inject(ExternalRoutes) private readonly external: ExternalRoutes,
    @inject(AccountExists) private readonly accountExists: AccountExists,
    @inject(Clock) private readonly clock: Clock,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  async route(stanza: Element, options: HostRouteOptions = {}): Promise<void> {
    const to = tryParseJid(stanza.attrs.to);
    if (!to) return this.bounce(stanza, 'jid-malformed');
    if (to.domain !== this.server.domain) {
      const ext = this.external.find(to.domain);
      if (ext && ext(stanza)) return;
      if (!ext && (options.hops ?? 0) < MAX_CLUSTER_HOPS) {
        // A component connected to another node of the cluster: that node delivers (or bounces).
        const link = this.sessions.clusterLink;
        const node = link?.componentNode(to.domain);
        if (link && node !== undefined && (await link.forwardExternal(node, stanza, options)) !== 'refused') return;
      }
      return this.bounce(stanza, ext ? 'service-unavailable' : 'remote-server-not-found');
    }
    if (!to.local) return this.toServer(stanza);
    if (to.resource) return this.toFullJid(stanza, to, options);
    return this.toBareJid(stanza, to, options);
  }

  /** A stanza to the domain itself that no handler consumed (RFC 6120 §10.3). */
  private async toServer(stanza: Element): Promise<void> {
    if (stanza.name === 'iq' || stanza.name === 'message') return this.bounce(stanza, 'service-unavailable');
    // presence to the server with no handler: nothing to do (§10.3.2 allows ignoring)
  }

  /** RFC 6121 §8.5.3: full JID. */
  private async toFullJid(stanza: Element, to: JID, options: HostRouteOptions): Promise<void> {
    const hops = options.hops ?? 0;
    let session = this.sessions.sessionAt(to);
    const link = this.sessions.clusterLink;
    // A session bound on another node a moment ago may not be in our replica yet: ask Redis.
    if (!session && link && hops < MAX_CLUSTER_HOPS) session = await link.lookupRemote(to.toString());
    if (session && reachable(session, hops)) {
      if (session.state !== 'ended' && (await session.send(stanza, options)) !== 'refused') return;
      // Handed over to another node (or being handed over): follow it there, after the session.
      if (session instanceof SessionImpl && session.moving) {
        const node = await session.moving;
        if (node !== undefined && link && (await link.forwardMoved(node, to.toString(), stanza, options)) !== 'refused') return;
      }
    }
    return this.resourceUnavailable(stanza, to, options, session);
  }

  /**
   * RFC 6121 §8.5.3.2: the full JID `to` has no session (or it refused the stanza): messages go to
   * the bare JID (except `error`/`groupchat`), iq get/set bounce, presence is dropped.
   * @param exclude the session that refused the stanza, not tried again
   */
  async resourceUnavailable(stanza: Element, to: JID, options: HostRouteOptions, exclude?: SessionView): Promise<void> {
    switch (stanza.name) {
      case 'message': {
        const type = stanza.attrs.type ?? 'normal';
        if (type === 'error') return;
        if (type === 'groupchat') return this.bounce(stanza, 'service-unavailable');
        return this.toBareJid(stanza, to.bare(), options, exclude);
      }
      case 'iq':
        return this.bounce(stanza, 'service-unavailable');
      default:
        return; // presence to an unavailable resource is dropped (§8.5.3.2.3)
    }
  }

  /** RFC 6121 §8.5.2: bare JID of a local account. */
  private async toBareJid(stanza: Element, to: JID, options: HostRouteOptions, exclude?: SessionView): Promise<void> {
    const bare = to.bare().toString();
    if (stanza.name === 'iq') return this.bounce(stanza, 'service-unavailable');
    const hops = options.hops ?? 0;
    const excluded = exclude?.jid.toString();
    const sessions = this.sessions
      .byBare(bare)
      .filter((s) => s.available && s.state !== 'ended' && s.jid.toString() !== excluded && reachable(s, hops));
    if (stanza.name === 'presence') {
      for (const s of sessions) await s.send(stanza, options);
      return;
    }
    const type = stanza.attrs.type ?? 'normal';
    if (type === 'error') return;
    if (!(await this.accountExists(to.local))) return this.bounce(stanza, 'service-unavailable');
    if (type === 'groupchat') return this.bounce(stanza, 'service-unavailable');
    const eligible = sessions.filter((s) => s.priority >= 0);
    if (type === 'headline') {
      for (const s of eligible) await s.send(stanza, options);
      return; // §8.5.2.2.1: headline with no available resource is dropped
    }
    // normal/chat: the highest-priority resources (§8.5.2.1.1)
    const top = eligible.length ? Math.max(...eligible.map((s) => s.priority)) : undefined;
    let delivered = false;
    for (const s of eligible) {
      if (s.priority !== top) continue;
      if ((await s.send(stanza, options)) !== 'refused') delivered = true;
    }
    if (delivered) return;
    // §8.5.2.2.1: no available resource → offline storage (XEP-0160)
    const result = await this.offline.store(bare, stanza, options.originalTime ?? this.clock.now());
    if (result === 'quota-exceeded') {
      this.logger.info({ to: bare }, 'offline quota exceeded; bouncing');
      return this.bounce(stanza, 'service-unavailable', 'Offline storage is full');
    }
  }

  /** Sends an error reply to the stanza's sender; never answers an error with an error. */
  async bounce(stanza: Element, condition: StanzaErrorCondition, text?: string): Promise<void> {
    const reply = stanzaErrorReply(stanza, condition, undefined, text);
    if (!reply) return;
    if (!reply.attrs.from) reply.attrs.from = this.server.domain;
    if (!reply.attrs.to) return;
    await this.route(reply);
  }
}
