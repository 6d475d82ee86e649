/**
 * The services a component host provides in place of the server's: routing out through the
 * component connection, and an empty session registry.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Logger,
  Metrics,
  tryParseJid,
  type Element,
  type JID,
  type Logger as LoggerT,
  type Metrics as MetricsT,
  type Router,
  type Session,
  type SessionEndReason,
  type SessionRegistry,
  type XmlStream,
} from '@strand/core';
import { ComponentSettings, type ComponentSettings as ComponentSettingsT } from './config.js';
import { ComponentLink, type ComponentLink as ComponentLinkT } from './link.js';

/** True when `domain` is `base` or one of its subdomains. */
export function withinDomain(domain: string, base: string): boolean {
  return domain === base || domain.endsWith(`.${base}`);
}

/**
 * The component's {@link Router}: every stanza goes to the server over the component connection
 * (the server routes it on, also back to this component). XEP-0114 §3 rules are applied before
 * writing: a missing `from` becomes the component's domain; a `from` outside the domain (which
 * the server would answer with `invalid-from`, closing the stream) and a missing `to` are refused
 * with a logged error. While no connection is online the stanza is dropped (logged, counted in
 * `strand_component_dropped_total`): a component has no offline storage.
 */
@injectable()
export class ComponentRouterImpl implements Router {
  constructor(
    @inject(ComponentSettings) protected readonly settings: ComponentSettingsT,
    @inject(ComponentLink) protected readonly link: ComponentLinkT,
    @inject(Metrics) protected readonly metrics: MetricsT,
    @inject(Logger) protected readonly logger: LoggerT,
  ) {}

  async route(stanza: Element): Promise<void> {
    const domain = this.settings.domain;
    if (stanza.attrs.from === undefined) stanza.attrs.from = domain;
    const from = tryParseJid(stanza.attrs.from);
    if (!from || !withinDomain(from.domain, domain)) {
      this.logger.error({ from: stanza.attrs.from, stanza: stanza.name }, `refusing to send a stanza whose from is outside ${domain}`);
      return this.dropped('invalid-from');
    }
    if (stanza.attrs.to === undefined) {
      this.logger.error({ stanza: stanza.toString() }, 'refusing to send a stanza without to (XEP-0114 §3)');
      return this.dropped('no-to');
    }
    const s = this.link.stream;
    if (!s || !s.authenticatedJid || !s.writeStanza(stanza)) {
      this.logger.debug({ to: stanza.attrs.to, stanza: stanza.name }, 'component offline: stanza dropped');
      return this.dropped('offline');
    }
  }

  private dropped(reason: string): void {
    this.metrics.counter('strand_component_dropped_total', 'Stanzas a component could not send', ['reason']).inc({ reason });
  }
}

/**
 * The component's {@link SessionRegistry}: a component has no client sessions, so lookups find
 * nothing and `attachStream` refuses. Plugins that only need the token resolve fine.
 */
@injectable()
export class NoSessionRegistryImpl implements SessionRegistry {
  async get(_fullJid: JID | string): Promise<Session | undefined> {
    return undefined;
  }
  async getByBareJid(_bareJid: JID | string): Promise<Session[]> {
    return [];
  }
  count(): number {
    return 0;
  }
  async attachStream(_session: Session, _stream: XmlStream): Promise<void> {
    throw new Error('a component host has no client sessions to attach a stream to');
  }
  async end(_session: Session, _reason: SessionEndReason): Promise<void> {
    // No sessions: nothing to end.
  }
}
