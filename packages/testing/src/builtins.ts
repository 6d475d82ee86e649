/**
 * The little host behaviour the test host contributes through the ordinary hooks, so that it is
 * ordered by the same priority table as plugins (and can be `rebind`-ed by its concrete class).
 */
import { inject, injectable } from 'inversify';
import {
  AccountStore,
  Clock,
  deriveScramCredentials,
  HostConfig,
  NS,
  PresenceStore,
  Priority,
  verifyScramPassword,
  xml,
  type AccountStore as AccountStoreT,
  type Authenticator,
  type Clock as ClockT,
  type Element,
  type HostConfig as HostConfigT,
  type IqContext,
  type IqHandler,
  type PresenceStore as PresenceStoreT,
  type ScramCredentials,
  type Session,
  type SessionListener,
  type StanzaContext,
  type StanzaHandler,
} from '@strand/core';
import { TestHostHooks } from './hooks.js';
import { SessionImpl } from './session.js';

/**
 * Broadcast presence of the client (a `<presence/>` without `to`, available or `unavailable`,
 * RFC 6121 §4.2 / §4.5): updates the session's `available`/`priority` and records the presence
 * with its time in the {@link PresenceStore}. No broadcast to contacts (the fake host has no
 * roster processing). Priority {@link Priority.stanza.HOST_IM}, so plugin handlers run first.
 */
@injectable()
export class HostPresenceHandler implements StanzaHandler {
  readonly priority: number = Priority.stanza.HOST_IM;

  constructor(
    @inject(PresenceStore) private readonly presence: PresenceStoreT,
    @inject(Clock) private readonly clock: ClockT,
  ) {}

  async handle(ctx: StanzaContext): Promise<boolean> {
    const { stanza, session } = ctx;
    if (stanza.name !== 'presence' || stanza.attrs.to !== undefined || !(session instanceof SessionImpl)) return false;
    const type = stanza.attrs.type as string | undefined;
    const full = session.jid.toString();
    if (type === undefined) {
      const p = Number.parseInt(stanza.getChildText('priority') ?? '0', 10);
      session.priority = Number.isFinite(p) ? Math.max(-128, Math.min(127, p)) : 0;
      session.available = true;
      await this.presence.setAvailable(full, stanza, this.clock.now());
      return true;
    }
    if (type === 'unavailable') {
      session.available = false;
      await this.presence.setUnavailable(full, stanza, this.clock.now());
      return true;
    }
    return false;
  }
}

/**
 * When an available session ends, records an unavailable presence for it (RFC 6121 §4.5.1:
 * the server generates it when the session ends without one). Priority
 * {@link Priority.session.HOST_IM}.
 */
@injectable()
export class HostPresenceListener implements SessionListener {
  readonly priority: number = Priority.session.HOST_IM;

  constructor(
    @inject(PresenceStore) private readonly presence: PresenceStoreT,
    @inject(Clock) private readonly clock: ClockT,
  ) {}

  async onEnded(session: Session): Promise<void> {
    if (!(session instanceof SessionImpl) || !session.available) return;
    session.available = false;
    const full = session.jid.toString();
    await this.presence.setUnavailable(full, xml('presence', { from: full, type: 'unavailable' }), this.clock.now());
  }
}

/**
 * XEP-0030 disco#info of the server (identity `server/im`) and of accounts (identity
 * `account/registered`), with the features of every {@link DiscoFeatureProvider} and of the
 * loaded plugin definitions (`features`). An iq without `to` is addressed to the server.
 */
@injectable()
export class HostDiscoInfoHandler implements IqHandler {
  readonly xmlns: string = NS.DISCO_INFO;
  readonly element = 'query';
  readonly types = ['get'] as const;
  readonly target = 'both' as const;

  constructor(
    @inject(TestHostHooks) private readonly hooks: TestHostHooks,
    @inject(HostConfig) private readonly config: HostConfigT,
  ) {}

  handle(ctx: IqContext): Element {
    const toServer = ctx.iq.attrs.to === undefined || ctx.to.local === '';
    const features = new Set<string>([NS.DISCO_INFO]);
    if (toServer) for (const f of this.hooks.pluginFeatures) features.add(f);
    for (const p of this.hooks.discoFeatureProviders) {
      for (const f of (toServer ? p.serverFeatures : p.accountFeatures) ?? []) features.add(f);
    }
    const query = xml(
      'query',
      { xmlns: NS.DISCO_INFO },
      toServer
        ? xml('identity', { category: 'server', type: 'im', name: this.config.domain })
        : xml('identity', { category: 'account', type: 'registered' }),
    );
    for (const f of [...features].sort()) query.append(xml('feature', { var: f }));
    return query;
  }
}

/** In-memory {@link Authenticator} on the {@link AccountStore} (SCRAM keys, 4096 iterations). */
@injectable()
export class TestAuthenticatorImpl implements Authenticator {
  constructor(
    @inject(AccountStore) private readonly accounts: AccountStoreT,
    @inject(Clock) private readonly clock: ClockT,
  ) {}

  async createAccount(username: string, password: string): Promise<void> {
    await this.accounts.put({
      username,
      scram: {
        'SHA-1': deriveScramCredentials('SHA-1', password, 4096),
        'SHA-256': deriveScramCredentials('SHA-256', password, 4096),
      },
      createdAt: this.clock.now(),
    });
  }

  async verifyPassword(username: string, password: string): Promise<boolean> {
    const rec = await this.accounts.get(username);
    return rec ? verifyScramPassword('SHA-256', rec.scram['SHA-256'], password) : false;
  }

  async scramCredentials(username: string, hash: 'SHA-1' | 'SHA-256'): Promise<ScramCredentials | undefined> {
    return (await this.accounts.get(username))?.scram[hash];
  }
}
