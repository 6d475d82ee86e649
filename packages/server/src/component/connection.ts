/**
 * One XEP-0114 external component connection (`jabber:component:accept`) on the server side:
 * the stream header names the component's domain, the `<handshake/>` proves the shared secret,
 * then the component's stanzas enter the host's inbound pipeline and stanzas for its domain (and
 * its subdomains) are routed to it. Implements the transport's `StreamDelegate`; one instance per
 * connection.
 */
import {
  JID,
  NS,
  isStanza,
  notifyAll,
  StreamErrorException,
  tryParseJid,
  xml,
  cloneElement,
  type CloseInfo,
  type Clock,
  type Element,
  type Logger,
  type Metrics,
  type ServerInfo,
  type StreamContext,
  type StreamErrorSpec,
} from '@strand/core';
import type { HookSet } from '../host/hook-set.js';
import type { HostStream } from '../host/host-stream.js';
import type { InboundProcessor } from '../host/inbound.js';
import type { ExternalDeliver, ExternalRoutes } from '../host/router.js';
import { verifyHandshake } from './handshake.js';

/** A stream the component negotiator can drive. */
export interface ComponentHostStream extends HostStream {
  /** Writes our stream header with a fresh stream id. */
  openStream(attrs: Record<string, string>): boolean;
}

/** Shared dependencies of every component connection. */
export interface ComponentDeps {
  hooks: HookSet;
  inbound: InboundProcessor;
  external: ExternalRoutes;
  /** The host's `ServerInfo`; its `components` map (a `Map`) is maintained here. */
  server: ServerInfo;
  /** Configured components: lower-case domain → shared secret (config `components`). */
  secrets: ReadonlyMap<string, string>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
}

/** Outcome label of `strand_component_handshakes_total`. */
type HandshakeResult = 'success' | 'not-authorized' | 'conflict' | 'host-unknown';

/** True when `domain` is `base` or one of its subdomains (`x.base`). */
export function withinDomain(domain: string, base: string): boolean {
  return domain === base || domain.endsWith(`.${base}`);
}

/** The mutable view of `ServerInfo.components` (the host binds a `Map`). */
function componentsMap(server: ServerInfo): Map<string, { connectedAt: number }> {
  const m = server.components;
  if (!(m instanceof Map)) throw new Error('ServerInfo.components must be a Map for the component listener');
  return m as Map<string, { connectedAt: number }>;
}

export class ComponentConnection {
  private readonly log: Logger;
  /** The component domain named in the stream header (lower case), once accepted. */
  private domain: string | undefined;
  /** Our route for the domain while authenticated. */
  private deliver: ExternalDeliver | undefined;

  constructor(
    private readonly stream: ComponentHostStream,
    private readonly deps: ComponentDeps,
  ) {
    this.log = deps.logger.child({ conn: stream.connectionId, kind: 'component' });
  }

  private get ctx(): StreamContext {
    return { stream: this.stream, authenticatedJid: this.stream.authenticatedJid, session: undefined };
  }

  /** XEP-0114 §3: the header's `to` is the component's name; answer with ours (`from` = that name). */
  async onHeader(attrs: Record<string, string>): Promise<void> {
    const s = this.stream;
    if (this.domain !== undefined) {
      // No stream restart exists in XEP-0114.
      await s.close({ error: { condition: 'policy-violation', text: 'unexpected stream header' }, reason: 'bad-header' });
      return;
    }
    if (attrs.xmlns !== NS.COMPONENT_ACCEPT) {
      await s.close({
        error: { condition: 'invalid-namespace', text: `content namespace must be ${NS.COMPONENT_ACCEPT}` },
        reason: 'bad-header',
      });
      return;
    }
    const to = tryParseJid(attrs.to);
    const domain = to && !to.local && !to.resource ? to.domain.toLowerCase() : undefined;
    if (domain === undefined || !this.deps.secrets.has(domain)) {
      this.handshakeMetric('host-unknown');
      this.log.info({ to: attrs.to }, 'component header for an unknown domain');
      await s.close({ error: { condition: 'host-unknown', text: 'no such component is configured' }, reason: 'host-unknown' });
      return;
    }
    this.domain = domain;
    s.openStream({ from: domain });
    await notifyAll(this.deps.hooks.streamListeners, 'onOpened', this.log, s);
  }

  /** One top-level element from the component (delivered strictly in order). */
  async onElement(el: Element): Promise<void> {
    try {
      await this.dispatch(el);
    } catch (err) {
      if (err instanceof StreamErrorException) {
        await this.stream.close({ error: err.spec, reason: err.spec.condition });
        return;
      }
      this.log.error({ err, element: el.name }, 'component element processing failed');
      await this.stream.close({ error: { condition: 'internal-server-error' }, reason: 'fault' });
    }
  }

  private async dispatch(el: Element): Promise<void> {
    const s = this.stream;
    const ns = el.getNS() ?? '';
    if (el.name === 'handshake' && ns === NS.COMPONENT_ACCEPT) return this.handshake(el);
    if (!s.authenticatedJid) {
      // XEP-0114 §3: nothing before the handshake (RFC 6120 §4.9.3.12).
      await s.close({ error: { condition: 'not-authorized', text: 'send the handshake first' }, reason: 'unauthenticated' });
      return;
    }
    if (isStanza(el) && (ns === NS.COMPONENT_ACCEPT || ns === NS.CLIENT)) return this.stanza(el);
    const handler = this.deps.hooks.nonzas.get(`${ns} ${el.name}`);
    if (handler) {
      await handler.handle(this.ctx, el);
      return;
    }
    await s.close({
      error: { condition: 'unsupported-stanza-type', text: `<${el.name}/> in ${ns || 'no namespace'} is not supported` },
      reason: 'unsupported-stanza-type',
    });
  }

  /** XEP-0114 §3: `<handshake>hex(SHA1(id + secret))</handshake>` → empty `<handshake/>` or an error. */
  private async handshake(el: Element): Promise<void> {
    const s = this.stream;
    const domain = this.domain!;
    if (s.authenticatedJid) {
      throw new StreamErrorException({ condition: 'policy-violation', text: 'already authenticated' });
    }
    const secret = this.deps.secrets.get(domain)!;
    if (!verifyHandshake(s.streamId, secret, el.getText())) {
      this.handshakeMetric('not-authorized');
      this.log.info({ domain }, 'component handshake failed');
      await s.close({ error: { condition: 'not-authorized', text: 'handshake failed' }, reason: 'not-authorized' });
      return;
    }
    const components = componentsMap(this.deps.server);
    if (components.has(domain) || this.deps.external.domains().includes(domain)) {
      this.handshakeMetric('conflict');
      this.log.info({ domain }, 'component already connected; refusing the new connection');
      await s.close({ error: { condition: 'conflict', text: 'component already connected' }, reason: 'conflict' });
      return;
    }
    s.authenticatedJid = new JID(null, domain);
    this.deliver = (stanza: Element) => s.writeStanza(forComponent(stanza));
    this.deps.external.register(domain, this.deliver);
    components.set(domain, { connectedAt: this.deps.clock.now() });
    this.deps.metrics.gauge('strand_components_connected', 'Connected XEP-0114 components').inc();
    this.handshakeMetric('success');
    this.log.info({ domain }, 'component connected');
    s.writeNonza(xml('handshake'));
    await notifyAll(this.deps.hooks.streamListeners, 'onAuthenticated', this.log, this.ctx);
  }

  /**
   * A stanza from the authenticated component. XEP-0114 §3: `from` and `to` are required and the
   * domain of `from` must be the component's (we also accept its subdomains).
   */
  private async stanza(el: Element): Promise<void> {
    const domain = this.domain!;
    if (el.attrs.from === undefined || el.attrs.to === undefined) {
      throw new StreamErrorException({
        condition: 'improper-addressing',
        text: 'component stanzas must have from and to (XEP-0114 §3)',
      });
    }
    const from = tryParseJid(el.attrs.from);
    if (!from || !withinDomain(from.domain.toLowerCase(), domain)) {
      throw new StreamErrorException({ condition: 'invalid-from', text: `from must be within ${domain}` });
    }
    // The content namespace belongs to the stream: never forward it to other streams.
    if (el.attrs.xmlns === NS.COMPONENT_ACCEPT || el.attrs.xmlns === NS.CLIENT) delete el.attrs.xmlns;
    await this.deps.inbound.process({
      stanza: el,
      stream: this.stream,
      session: undefined,
      from,
      to: tryParseJid(el.attrs.to),
    });
  }

  /** The component sent `</stream:stream>`: answer with ours (RFC 6120 §4.4). */
  async onPeerClose(): Promise<void> {
    await this.stream.close({ reason: 'peer-close' });
  }

  async onClosing(options: { error?: StreamErrorSpec; reason?: string }): Promise<void> {
    await notifyAll(this.deps.hooks.streamListeners, 'onClosing', this.log, this.ctx, options);
  }

  async onClosed(info: CloseInfo): Promise<void> {
    if (this.deliver && this.domain) {
      this.deps.external.unregister(this.domain, this.deliver);
      componentsMap(this.deps.server).delete(this.domain);
      this.deps.metrics.gauge('strand_components_connected', 'Connected XEP-0114 components').dec();
      this.log.info({ domain: this.domain, reason: info.reason, initiator: info.initiator }, 'component disconnected');
      this.deliver = undefined;
    }
    await notifyAll(this.deps.hooks.streamListeners, 'onClosed', this.log, this.ctx, info);
  }

  private handshakeMetric(result: HandshakeResult): void {
    this.deps.metrics
      .counter('strand_component_handshakes_total', 'XEP-0114 component authentication outcomes', ['result'])
      .inc({ result });
  }
}

/** A stanza as written to a component stream: without another stream's content namespace. */
function forComponent(stanza: Element): Element {
  if (stanza.attrs.xmlns !== NS.CLIENT) return stanza;
  const copy = cloneElement(stanza);
  delete copy.attrs.xmlns;
  return copy;
}
