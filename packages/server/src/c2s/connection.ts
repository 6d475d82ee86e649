/**
 * Client-to-server stream negotiation (RFC 6120 §4–§7) on one connection: stream header
 * checks, features, STARTTLS, SASL, resource binding, then stanza processing. Implements the
 * transport's `StreamDelegate`; one instance per connection.
 */
import type { SecureContext } from 'node:tls';
import {
  Authenticator,
  Clock,
  contributionName,
  HostConfig,
  isStanza,
  Logger,
  NS,
  notifyAll,
  parseJid,
  ServerInfo,
  StreamErrorException,
  tryParseJid,
  xml,
  type CloseInfo,
  type Element,
  type FeatureStage,
  type Metrics,
  type StreamContext,
  type StreamErrorSpec,
} from '@strand/core';
import { createSaslMechanism, SUPPORTED_MECHANISMS, type SaslMechanism, type SaslStep } from '../sasl/index.js';
import type { HookSet } from '../host/hook-set.js';
import type { HostStream } from '../host/host-stream.js';
import type { InboundProcessor } from '../host/inbound.js';
import { ResourceLimitError, type SessionRegistryImpl } from '../host/registry.js';
import type { SessionImpl } from '../host/session.js';

/** A stream the negotiator can drive (TCP/TLS or WebSocket). */
export interface NegotiableStream extends HostStream {
  /** Writes our stream header (or `<open/>` on WebSocket) with a fresh stream id. */
  openStream(attrs: Record<string, string>): void;
  /** Resets the parser for a stream restart (RFC 6120 §4.3.3). */
  restart(): void;
  /** Upgrades to TLS (server side), then expects a new stream header. */
  startTls?(context: SecureContext): Promise<void>;
  lang: string;
}

/** Shared dependencies of every c2s connection. */
export interface C2sDeps {
  hooks: HookSet;
  registry: SessionRegistryImpl;
  inbound: InboundProcessor;
  authenticator: Authenticator;
  config: HostConfig & {
    auth: { allowPlaintextOnLoopback: boolean; requireEncryption: boolean };
  };
  server: ServerInfo;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** TLS context for STARTTLS; undefined when TLS is not configured. */
  tls: SecureContext | undefined;
  /** SASL failures allowed on one connection before it is closed. */
  maxSaslFailures: number;
  /** Secret for SCRAM fake salts of unknown users (no account enumeration). */
  fakeSaltSecret: Buffer;
  /**
   * Per-address SASL backoff (`limits.saslFailuresPerMinute`): while `saslLocked`, `<auth/>` is
   * answered `temporary-auth-failure` without checking credentials. Optional (no backoff).
   */
  addressLimits?: { saslLocked(address: string): boolean; saslFailed(address: string): void };
}

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

export class C2sConnection {
  private mechanism: SaslMechanism | undefined;
  private saslFailures = 0;
  private readonly log: Logger;

  constructor(
    private readonly stream: NegotiableStream,
    private readonly deps: C2sDeps,
  ) {
    this.log = deps.logger.child({ conn: stream.connectionId });
  }

  private get ctx(): StreamContext {
    return { stream: this.stream, authenticatedJid: this.stream.authenticatedJid, session: this.stream.session };
  }

  /** Whether plaintext authentication is acceptable on this connection. */
  private get mayAuthenticate(): boolean {
    const { auth } = this.deps.config;
    if (this.stream.secure || !auth.requireEncryption) return true;
    return auth.allowPlaintextOnLoopback && LOOPBACK.test(this.stream.remoteAddress);
  }

  /** RFC 6120 §4.7: validate the initiating entity's stream header, answer with ours + features. */
  async onHeader(attrs: Record<string, string>): Promise<void> {
    const s = this.stream;
    if (attrs['xml:lang']) s.lang = attrs['xml:lang'];
    s.openStream({ from: this.deps.server.domain, ...(attrs.from ? { to: attrs.from } : {}) });
    const error = this.headerError(attrs);
    if (error) {
      await s.close({ error, reason: 'bad-header' });
      return;
    }
    await notifyAll(this.deps.hooks.streamListeners, 'onOpened', this.log, s);
    s.writeNonza(this.features());
  }

  private headerError(attrs: Record<string, string>): StreamErrorSpec | undefined {
    if (attrs.xmlns !== NS.CLIENT) {
      return { condition: 'invalid-namespace', text: `content namespace must be ${NS.CLIENT}` };
    }
    const to = tryParseJid(attrs.to);
    if (!to || to.local || to.resource || to.domain !== this.deps.server.domain) {
      return { condition: 'host-unknown', text: `this server serves ${this.deps.server.domain}` };
    }
    const version = attrs.version;
    if (!version || !/^1\.\d+$/.test(version)) {
      return { condition: 'unsupported-version', text: 'XMPP version 1.0 is required' };
    }
    return undefined;
  }

  /** `<stream:features/>` for the current negotiation stage (RFC 6120 §4.3.2). */
  private features(): Element {
    const s = this.stream;
    const features = xml('stream:features');
    if (!s.authenticatedJid) {
      if (!s.secure && this.deps.tls && s.startTls) {
        const starttls = xml('starttls', { xmlns: NS.TLS });
        if (!this.mayAuthenticate) starttls.append(xml('required'));
        features.append(starttls);
      }
      if (this.mayAuthenticate) {
        const mechs = xml('mechanisms', { xmlns: NS.SASL });
        for (const m of SUPPORTED_MECHANISMS) mechs.append(xml('mechanism', {}, m));
        features.append(mechs);
      }
      this.append(features, 'pre-auth');
    } else {
      features.append(xml('bind', { xmlns: NS.BIND }));
      features.append(xml('session', { xmlns: NS.SESSION }, xml('optional')));
      this.append(features, 'post-auth');
    }
    return features;
  }

  private append(features: Element, stage: FeatureStage): void {
    for (const p of this.deps.hooks.features) {
      try {
        for (const el of p.offer(this.ctx, stage)) features.append(el);
      } catch (err) {
        this.log.error({ err, plugin: contributionName(p) }, 'feature provider failed');
      }
    }
  }

  /** One top-level element from the peer (delivered strictly in order). */
  async onElement(el: Element): Promise<void> {
    try {
      await this.dispatch(el);
    } catch (err) {
      if (err instanceof StreamErrorException) {
        await this.stream.close({ error: err.spec, reason: err.spec.condition });
        return;
      }
      this.log.error({ err, element: el.name }, 'element processing failed');
      // A fault in our own or a plugin's code: the stream is unusable, but the session may be
      // resumed (stream management keeps it), so this close does not end the session.
      await this.stream.close({ error: { condition: 'internal-server-error' }, reason: 'fault', endSession: false });
    }
  }

  private async dispatch(el: Element): Promise<void> {
    const s = this.stream;
    const ns = el.getNS() ?? '';
    if (isStanza(el) && ns === NS.CLIENT) {
      if (!s.authenticatedJid) {
        // RFC 6120 §4.9.3.12: stanzas before authentication.
        await s.close({ error: { condition: 'not-authorized', text: 'authenticate first' }, reason: 'unauthenticated-stanza' });
        return;
      }
      if (!s.session) return this.unbound(el);
      return this.stanza(el, s.session as SessionImpl);
    }
    if (ns === NS.TLS && el.name === 'starttls') return this.starttls();
    if (ns === NS.SASL) return this.sasl(el);
    const handler = this.deps.hooks.nonzas.get(`${ns} ${el.name}`);
    if (handler) {
      try {
        await handler.handle(this.ctx, el);
      } catch (err) {
        if (err instanceof StreamErrorException) throw err;
        // Fault isolation: a plugin's nonza handler threw. The stream is closed with
        // internal-server-error but, like any loss of transport, the session may be resumed.
        this.log.error({ err, plugin: contributionName(handler), element: el.name, xmlns: ns }, 'nonza handler failed');
        await s.close({ error: { condition: 'internal-server-error' }, reason: 'fault', endSession: false });
      }
      return;
    }
    await s.close({
      error: { condition: 'unsupported-stanza-type', text: `<${el.name}/> in ${ns || 'no namespace'} is not supported` },
      reason: 'unsupported-stanza-type',
    });
  }

  /** Stanzas after authentication, before a resource is bound (RFC 6120 §7). */
  private async unbound(el: Element): Promise<void> {
    const bind = el.name === 'iq' && el.attrs.type === 'set' ? el.getChild('bind', NS.BIND) : undefined;
    if (bind) return this.bind(el, bind);
    const session = el.name === 'iq' && el.attrs.type === 'set' ? el.getChild('session', NS.SESSION) : undefined;
    if (session) {
      this.stream.writeStanza(xml('iq', { type: 'result', id: el.attrs.id }));
      return;
    }
    if (el.name === 'iq' && (el.attrs.type === 'result' || el.attrs.type === 'error')) return;
    // Our choice (RFC 6120 §7.1 requires binding before stanzas but names no error): a stanza
    // error, so a client that raced its bind is told why instead of being disconnected.
    const reply = xml(
      el.name,
      { type: 'error', ...(el.attrs.id !== undefined ? { id: el.attrs.id } : {}) },
      xml('error', { type: 'cancel' }, xml('not-allowed', { xmlns: NS.STANZAS }), xml('text', { xmlns: NS.STANZAS, 'xml:lang': 'en' }, 'bind a resource first')),
    );
    this.stream.writeStanza(reply);
  }

  private async bind(iq: Element, bind: Element): Promise<void> {
    const requested = bind.getChildText('resource') ?? undefined;
    const reply = (payload: Element) =>
      this.stream.writeStanza(xml('iq', { type: iq.attrs.type === 'set' ? 'result' : 'error', id: iq.attrs.id }, payload));
    const error = (condition: string, type: string, text?: string) =>
      this.stream.writeStanza(
        xml('iq', { type: 'error', id: iq.attrs.id }, xml('error', { type }, xml(condition, { xmlns: NS.STANZAS }), ...(text ? [xml('text', { xmlns: NS.STANZAS, 'xml:lang': 'en' }, text)] : []))),
      );
    if (requested !== undefined && requested.trim() === '' && requested.length > 0) {
      error('bad-request', 'modify', 'empty resource');
      return;
    }
    if (requested !== undefined && requested.length > 0 && !tryParseJid(`x@${this.deps.server.domain}/${requested}`)) {
      error('bad-request', 'modify', 'invalid resource');
      return;
    }
    try {
      const session = await this.deps.registry.bind(this.stream, requested || undefined);
      reply(xml('bind', { xmlns: NS.BIND }, xml('jid', {}, session.jid.toString())));
      this.deps.metrics.counter('strand_sessions_bound_total', 'Resources bound').inc();
    } catch (err) {
      if (err instanceof ResourceLimitError) error('resource-constraint', 'wait', 'too many resources');
      else throw err;
    }
  }

  /** A stanza from a bound session: RFC 6120 §8.1.2.1 `from` stamping, then the pipeline. */
  private async stanza(el: Element, session: SessionImpl): Promise<void> {
    const claimed = el.attrs.from;
    if (claimed !== undefined) {
      const j = tryParseJid(claimed);
      const ok = j && (j.equals(session.jid) || (j.resource === '' && j.equals(session.jid.bare())));
      if (!ok) {
        throw new StreamErrorException({ condition: 'invalid-from', text: 'from does not match the bound JID' });
      }
    }
    el.attrs.from = session.jid.toString();
    await this.deps.inbound.process({
      stanza: el,
      stream: this.stream,
      session,
      from: session.jid,
      to: tryParseJid(el.attrs.to),
    });
  }

  /** RFC 6120 §5.4.2: STARTTLS. */
  private async starttls(): Promise<void> {
    const s = this.stream;
    if (s.secure || !this.deps.tls || !s.startTls || s.authenticatedJid) {
      s.writeNonza(xml('failure', { xmlns: NS.TLS }));
      await s.close({ reason: 'starttls-refused' });
      return;
    }
    if (s.state === 'closing' || s.state === 'closed') return;
    s.writeNonza(xml('proceed', { xmlns: NS.TLS }));
    // A failed handshake closes the stream as a loss of transport; nothing more to do here.
    await s.startTls(this.deps.tls).catch((err: unknown) => this.log.debug({ err }, 'STARTTLS handshake failed'));
  }

  /** RFC 6120 §6.4: SASL negotiation. */
  private async sasl(el: Element): Promise<void> {
    const s = this.stream;
    if (s.authenticatedJid) {
      throw new StreamErrorException({ condition: 'policy-violation', text: 'already authenticated' });
    }
    let step: SaslStep;
    switch (el.name) {
      case 'auth': {
        if (!this.mayAuthenticate) {
          return this.saslFailure({ kind: 'failure', condition: 'encryption-required' });
        }
        if (this.deps.addressLimits?.saslLocked(s.remoteAddress)) {
          // Per-address backoff: credentials are not even checked while the address is locked.
          return this.saslFailure({
            kind: 'failure',
            condition: 'temporary-auth-failure',
            text: 'too many failed authentications from your address; try again later',
          });
        }
        this.mechanism = createSaslMechanism(el.attrs.mechanism ?? '', this.deps.authenticator, this.deps.server.domain, {
          fakeSaltSecret: this.deps.fakeSaltSecret,
        });
        if (!this.mechanism) return this.saslFailure({ kind: 'failure', condition: 'invalid-mechanism' });
        const text = el.getText().trim();
        const initial = text === '' ? undefined : decode64(text);
        if (initial === null) return this.saslFailure({ kind: 'failure', condition: 'incorrect-encoding' });
        step = await this.mechanism.start(initial);
        break;
      }
      case 'response': {
        if (!this.mechanism) return this.saslFailure({ kind: 'failure', condition: 'malformed-request', text: 'no exchange in progress' });
        const data = decode64(el.getText().trim());
        if (data === null) return this.saslFailure({ kind: 'failure', condition: 'incorrect-encoding' });
        step = await this.mechanism.step(data);
        break;
      }
      case 'abort':
        return this.saslFailure({ kind: 'failure', condition: 'aborted' });
      default:
        throw new StreamErrorException({ condition: 'unsupported-stanza-type', text: `unexpected SASL element <${el.name}/>` });
    }
    switch (step.kind) {
      case 'challenge':
        s.writeNonza(xml('challenge', { xmlns: NS.SASL }, step.data.length ? step.data.toString('base64') : '='));
        return;
      case 'failure':
        return this.saslFailure(step);
      case 'success': {
        this.deps.metrics
          .counter('strand_auth_success_total', 'Successful SASL authentications', ['mechanism'])
          .inc({ mechanism: this.mechanism?.name ?? 'unknown' });
        this.mechanism = undefined;
        s.writeNonza(xml('success', { xmlns: NS.SASL }, ...(step.additionalData ? [step.additionalData.toString('base64')] : [])));
        s.authenticatedJid = parseJid(`${step.username}@${this.deps.server.domain}`);
        this.deps.metrics.counter('strand_auth_total', 'SASL outcomes', ['result']).inc({ result: 'success' });
        s.restart();
        await notifyAll(this.deps.hooks.streamListeners, 'onAuthenticated', this.log, this.ctx);
        return;
      }
    }
  }

  private async saslFailure(step: Extract<SaslStep, { kind: 'failure' }>): Promise<void> {
    this.mechanism = undefined;
    const failure = xml('failure', { xmlns: NS.SASL }, xml(step.condition));
    if (step.text) failure.append(xml('text', { 'xml:lang': 'en' }, step.text));
    this.stream.writeNonza(failure);
    this.deps.metrics.counter('strand_auth_total', 'SASL outcomes', ['result']).inc({ result: step.condition });
    if (step.condition === 'not-authorized') this.deps.addressLimits?.saslFailed(this.stream.remoteAddress);
    if (step.condition !== 'aborted' && ++this.saslFailures >= this.deps.maxSaslFailures) {
      await this.stream.close({ error: { condition: 'policy-violation', text: 'too many authentication failures' }, reason: 'sasl-failures' });
    }
  }

  /** Peer sent `</stream:stream>`: answer with ours (RFC 6120 §4.4); the session ends. */
  async onPeerClose(): Promise<void> {
    await this.stream.close({ reason: 'peer-close', endSession: true });
  }

  async onClosing(options: { error?: StreamErrorSpec; reason?: string }): Promise<void> {
    await notifyAll(this.deps.hooks.streamListeners, 'onClosing', this.log, this.ctx, options);
  }

  async onClosed(info: CloseInfo): Promise<void> {
    await notifyAll(this.deps.hooks.streamListeners, 'onClosed', this.log, this.ctx, info);
    await this.deps.registry.streamClosed(this.stream, info);
  }
}

/** Strict base64 decoding (RFC 6120 §6.4.2: `=` is an empty response); null when invalid. */
function decode64(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  if (text === '') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}
