/**
 * `answerForComponents`: probes of a connected component's JID that the component does not answer
 * itself within `componentAnswerTimeout` are answered with its connect time.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Logger,
  Priority,
  Scheduler,
  tryParseJid,
  type JID,
  type Logger as LoggerT,
  type OutboundContext,
  type OutboundStanzaInterceptor,
  type Scheduler as SchedulerT,
  type SendResult,
  type Session,
  type Timer,
} from '@strand/core';
import { ProbeConfig, type ProbeConfig as ProbeConfigT } from './config.js';
import { ProbeMetricsImpl } from './metrics.js';
import { ProbeResponderImpl } from './responder.js';

interface PendingProbe {
  readonly session: Session;
  readonly prober: JID;
  readonly domain: string;
  timer: Timer | undefined;
}

/**
 * Waits for a component's own answer to a probe and answers in its place when none comes.
 *
 * The probe itself is routed to the component by the host as usual (the stanza handler does not
 * consume it). This class watches, as an {@link OutboundStanzaInterceptor} of the prober's session,
 * for any presence from the component's domain to the prober (including an error): that is the
 * component's answer and cancels the wait. When `componentAnswerTimeout` passes first, and the
 * component is still listed in `ServerInfo.components`, the prober gets
 * `<presence from='component'><delay from='component' stamp='connect time'/></presence>`.
 *
 * Only bound when `answerForComponents` is set. Inert where the host lists no components (e.g.
 * inside `@strand/component`, or the reference server until its component transport exists).
 */
@injectable()
export class ComponentProbeFallbackImpl implements OutboundStanzaInterceptor {
  readonly priority: number = Priority.outbound.DEFAULT;
  /** Pending probes by session id, oldest first. */
  private readonly pending = new Map<string, PendingProbe[]>();

  constructor(
    @inject(ProbeConfig) private readonly config: ProbeConfigT,
    @inject(ProbeResponderImpl) private readonly responder: ProbeResponderImpl,
    @inject(Scheduler) private readonly scheduler: SchedulerT,
    @inject(ProbeMetricsImpl) private readonly metrics: ProbeMetricsImpl,
    @inject(Logger) private readonly logger: LoggerT,
  ) {}

  /** Number of probes still waiting for a component's answer (tests, diagnostics). */
  get waiting(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  /**
   * Starts waiting for `domain`'s answer to a probe from `session` (called before the host routes
   * the probe to the component).
   */
  expect(session: Session, domain: string): void {
    const entry: PendingProbe = { session, prober: session.jid, domain, timer: undefined };
    let list = this.pending.get(session.id);
    if (!list) {
      list = [];
      this.pending.set(session.id, list);
    }
    list.push(entry);
    entry.timer = this.scheduler.setTimeout(() => this.expire(entry), this.config.componentAnswerTimeoutMs);
  }

  async intercept(ctx: OutboundContext, next: () => Promise<SendResult>): Promise<SendResult> {
    if (this.pending.size > 0 && ctx.stanza.name === 'presence') this.observe(ctx);
    return next();
  }

  private observe(ctx: OutboundContext): void {
    const list = this.pending.get(ctx.session.id);
    if (!list) return;
    const from = tryParseJid(ctx.stanza.attrs.from);
    if (!from || from.local !== '') return;
    const i = list.findIndex((p) => p.domain === from.domain);
    if (i < 0) return;
    const [entry] = list.splice(i, 1);
    entry!.timer?.cancel();
    if (list.length === 0) this.pending.delete(ctx.session.id);
  }

  private async expire(entry: PendingProbe): Promise<void> {
    const list = this.pending.get(entry.session.id);
    const i = list ? list.indexOf(entry) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.pending.delete(entry.session.id);
    if (entry.session.state === 'ended') return;
    const answer = this.responder.answerComponent(entry.prober, entry.domain);
    if (!answer) {
      this.logger.debug({ component: entry.domain }, 'component left before the probe timeout; no uptime answer');
      return;
    }
    this.metrics.answers.inc({ outcome: answer.outcome });
    for (const s of answer.stanzas) await entry.session.send(s);
  }
}
