/**
 * The `StanzaHandler` that takes client-initiated probes (XEP-0318) before the host's RFC 6121
 * processing.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Logger,
  Priority,
  Router,
  type Router as RouterT,
  ServerInfo,
  StanzaError,
  type JID,
  type Logger as LoggerT,
  type ServerInfo as ServerInfoT,
  type StanzaContext,
  type StanzaHandler,
} from '@strand/core';
import { ComponentProbeFallbackImpl } from './components.js';
import { ProbeConfig, type ProbeConfig as ProbeConfigT } from './config.js';
import { ProbeMetricsImpl } from './metrics.js';
import { ProbeRateLimiterImpl } from './rate-limit.js';
import { ProbeResponderImpl, type ProbeAnswer } from './responder.js';

/** What a probe is addressed to. */
export type ProbeTarget =
  | { kind: 'account'; jid: JID } // a local account, bare or full JID
  | { kind: 'server' } // the server's own domain JID
  | { kind: 'component'; domain: string } // a connected component's JID (with `answerForComponents`)
  | { kind: 'other' }; // anything else: left to the host (routing, bounces)

/**
 * Handles `<presence type='probe'/>` from bound client sessions, priority
 * {@link Priority.stanza.PRESENCE_PROBE} (before the host IM's own probe handling):
 *
 * 1. every probe counts against the session's rate limit ({@link ProbeRateLimiterImpl}); past it the
 *    probe is answered with a `policy-violation` stanza error (type `wait`) and not processed;
 * 2. a probe of a local account, of the server's JID, or (with `answerForComponents`) of a
 *    connected component's JID is answered by {@link ProbeResponderImpl} /
 *    {@link ComponentProbeFallbackImpl}; the answer stanzas go to the prober's session only;
 * 3. everything else (remote domains, component users, `domain/resource`) is left to the host.
 *
 * A probe without `to` is a probe of the sender's own account (RFC 6120 §8.1.1.1). Probes from
 * component streams are left to the host.
 */
@injectable()
export class ProbeStanzaHandlerImpl implements StanzaHandler {
  readonly priority: number = Priority.stanza.PRESENCE_PROBE;

  constructor(
    @inject(ProbeConfig) private readonly config: ProbeConfigT,
    @inject(ServerInfo) private readonly server: ServerInfoT,
    @inject(ProbeRateLimiterImpl) private readonly limiter: ProbeRateLimiterImpl,
    @inject(ProbeResponderImpl) private readonly responder: ProbeResponderImpl,
    @inject(ComponentProbeFallbackImpl) private readonly components: ComponentProbeFallbackImpl,
    @inject(ProbeMetricsImpl) private readonly metrics: ProbeMetricsImpl,
    @inject(Logger) private readonly logger: LoggerT,
    @inject(Router) private readonly router: RouterT,
  ) {}

  /**
   * A probe that arrives without a client session: inside `@strand/component` the probes of the
   * component's own JID come over the component stream; they are answered with its uptime
   * (XEP-0318 §3.2: `ServerInfo.domain` is the component's domain there). Anything else is left
   * to the host.
   */
  private async handleWithoutSession(ctx: StanzaContext): Promise<boolean> {
    const to = ctx.to;
    if (!to || to.local || to.resource || to.domain !== this.server.domain) return false;
    const answer = this.responder.answerServer(ctx.from);
    this.metrics.answers.inc({ outcome: answer.outcome });
    for (const s of answer.stanzas) await this.router.route(s);
    return true;
  }

  async handle(ctx: StanzaContext): Promise<boolean> {
    const { stanza, session } = ctx;
    if (stanza.name !== 'presence' || stanza.attrs.type !== 'probe') return false;
    if (!session) return this.handleWithoutSession(ctx);
    if (ctx.stream.kind !== 'c2s') return false;

    const decision = this.limiter.tryAcquire(session);
    if (!decision.allowed) {
      this.metrics.rateLimited.inc();
      this.logger.info(
        { jid: session.jid.toString(), retryAfterMs: decision.retryAfterMs },
        'presence probe rate limit exceeded',
      );
      const windowS = this.config.rateLimitWindowMs / 1000;
      throw new StanzaError(
        'policy-violation',
        'wait',
        `Too many presence probes: at most ${this.config.rateLimitProbes} per ${windowS} s (XEP-0318 §2)`,
      );
    }

    const target = this.classify(ctx.to ?? session.jid.bare());
    let answer: ProbeAnswer;
    switch (target.kind) {
      case 'account':
        answer = await this.responder.answerAccount(ctx.from, target.jid);
        break;
      case 'server':
        answer = this.responder.answerServer(ctx.from);
        break;
      case 'component':
        this.components.expect(session, target.domain);
        return false; // the host routes the probe to the component
      default:
        return false;
    }
    this.metrics.answers.inc({ outcome: answer.outcome });
    for (const s of answer.stanzas) {
      if ((await session.send(s)) === 'refused') {
        this.logger.debug({ jid: session.jid.toString() }, 'probe answer refused (stream closing)');
        break;
      }
    }
    return true;
  }

  /** What a probe addressed to `to` asks for. */
  classify(to: JID): ProbeTarget {
    const domain = this.server.domain;
    if (to.domain === domain) {
      if (to.local) return { kind: 'account', jid: to };
      return to.resource ? { kind: 'other' } : { kind: 'server' };
    }
    if (this.config.answerForComponents && !to.local && !to.resource && this.server.components.has(to.domain)) {
      return { kind: 'component', domain: to.domain };
    }
    return { kind: 'other' };
  }
}
