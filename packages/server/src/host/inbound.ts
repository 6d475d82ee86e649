/**
 * Processing of one inbound stanza from a bound c2s session: the inbound interceptor chain around
 * stanza handlers, iq dispatch (RFC 6120 §8.2, §8.4) and routing. Faults in plugin code become an
 * `internal-server-error` stanza error for that stanza, never a crash (fault isolation).
 */
import { inject, injectable } from 'inversify';
import {
  composeInterceptors,
  contributionName,
  iqResult,
  Logger,
  ServerInfo,
  StanzaError,
  stanzaErrorReply,
  tryParseJid,
  type Element,
  type IqHandler,
  type InboundStanzaInterceptor,
  type StanzaContext,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from '@strand/core';
import { HookSetToken, type HookSet } from './hook-set.js';
import { RouterImpl } from './router.js';
import type { SessionImpl } from './session.js';

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);

@injectable()
export class InboundProcessor {
  constructor(
    @inject(HookSetToken) private readonly hooks: HookSet,
    @inject(RouterImpl) private readonly router: RouterImpl,
    @inject(ServerInfo) private readonly server: ServerInfo,
    @inject(Logger) private readonly logger: Logger,
  ) {}

  /**
   * Runs one stanza through the inbound pipeline. `ctx.stanza` already carries the sender's
   * full JID in `from`. Resolves when the stanza is fully handled (delivered, answered or
   * bounced), which is when stream management counts it.
   */
  process(ctx: StanzaContext): Promise<void> {
    const inner = () => this.innermost(ctx);
    if (this.hooks.inbound.length === 0) return inner();
    return composeInterceptors<InboundStanzaInterceptor, void>(
      this.hooks.inbound,
      (i, next) => this.intercept(i, ctx, next),
      inner,
    )();
  }

  /**
   * The host's own processing of the stanza. A fault that no handler-level catch attributed (the
   * router, a store, a rebound host service) still answers this stanza with
   * `internal-server-error` instead of failing the stream.
   */
  private async innermost(ctx: StanzaContext): Promise<void> {
    try {
      await this.handle(ctx);
    } catch (err) {
      await this.fault(ctx, err, 'host');
    }
  }

  /**
   * Runs one inbound interceptor with fault isolation. An interceptor that throws before calling
   * `next()` gets its stanza answered with `internal-server-error` (so an outer interceptor, e.g.
   * stream management's counter, sees it handled like any rejected stanza); one that throws after
   * calling `next()` is only logged (the stanza was processed; the inner steps answer their own
   * faults). Costs one promise per interceptor and stanza.
   */
  private intercept(i: InboundStanzaInterceptor, ctx: StanzaContext, next: () => Promise<void>): Promise<void> {
    let called: Promise<void> | undefined;
    const guardedNext = (): Promise<void> => (called ??= next());
    let p: Promise<void>;
    try {
      p = i.intercept(ctx, guardedNext);
    } catch (err) {
      return this.interceptorFault(i, ctx, err, called);
    }
    return p.then(undefined, (err: unknown) => this.interceptorFault(i, ctx, err, called));
  }

  private async interceptorFault(i: InboundStanzaInterceptor, ctx: StanzaContext, err: unknown, inner: Promise<void> | undefined): Promise<void> {
    this.logger.error({ err, plugin: contributionName(i), stanza: ctx.stanza.name }, 'inbound interceptor failed');
    if (inner) {
      await inner.catch(() => undefined); // the stanza is being processed: let it finish
      return;
    }
    await this.reply(ctx, 'internal-server-error');
  }

  private async handle(ctx: StanzaContext): Promise<void> {
    const { stanza } = ctx;
    if (stanza.attrs.to !== undefined && !ctx.to) return this.reply(ctx, 'jid-malformed');
    if (stanza.name === 'iq') {
      const problem = iqProblem(stanza);
      if (problem) return this.reply(ctx, 'bad-request', undefined, problem);
    }
    for (const h of this.hooks.stanzaHandlers) {
      try {
        if (await h.handle(ctx)) return;
      } catch (err) {
        return this.fault(ctx, err, contributionName(h));
      }
    }
    if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
      const target = this.iqTarget(ctx);
      if (target) return this.dispatchIq(ctx, target);
    }
    if (!ctx.to) {
      // RFC 6120 §8.1.1.1: no `to` means the sender's own account.
      if (stanza.name === 'presence') return; // broadcast presence is the IM module's job
      if (stanza.name === 'iq') return; // result/error to the server: nothing awaits it
      stanza.attrs.to = ctx.from.bare().toString();
    } else if (stanza.name === 'iq' && ctx.to.domain === this.server.domain && !ctx.to.local) {
      return; // iq result/error addressed to the server that no handler claimed
    }
    await this.router.route(stanza);
  }

  /** Which IqHandler target an iq get/set addresses, or undefined if it is routed on. */
  private iqTarget(ctx: StanzaContext): 'server' | 'account' | 'any' | undefined {
    const to = ctx.to;
    if (!to) return 'any';
    if (to.domain !== this.server.domain || to.resource) return undefined;
    return to.local ? 'account' : 'server';
  }

  private async dispatchIq(ctx: StanzaContext, target: 'server' | 'account' | 'any'): Promise<void> {
    const iq = ctx.stanza;
    const payload = iq.getChildElements()[0]!;
    const type = iq.attrs.type as 'get' | 'set';
    const handler = this.hooks.findIqHandler(payload.getNS() ?? '', payload.name, type, target);
    if (!handler) {
      return this.reply(ctx, 'service-unavailable'); // RFC 6120 §8.4
    }
    const to = ctx.to ?? (target === 'server' ? undefined : ctx.from.bare());
    try {
      const result = await handler.handle({
        iq,
        session: ctx.session,
        from: ctx.from,
        to: to ?? tryParseJid(this.server.domain)!,
        payload,
      });
      await this.send(ctx, iqResult(iq, result ?? undefined));
    } catch (err) {
      return this.fault(ctx, err, contributionName(handler as IqHandler));
    }
  }

  private async fault(ctx: StanzaContext, err: unknown, plugin: string): Promise<void> {
    if (err instanceof StanzaError) return this.reply(ctx, err.condition, err.type, err.text, err.appCondition);
    this.logger.error({ err, plugin, stanza: ctx.stanza.name }, 'handler failed; answering internal-server-error');
    return this.reply(ctx, 'internal-server-error');
  }

  /** Sends a stanza error in reply to the current stanza. */
  async reply(
    ctx: StanzaContext,
    condition: StanzaErrorCondition,
    type?: StanzaErrorType,
    text?: string,
    appCondition?: Element,
  ): Promise<void> {
    const reply = stanzaErrorReply(ctx.stanza, condition, type, text, appCondition);
    if (reply) await this.send(ctx, reply);
  }

  /** Sends a reply to the sender: to its own session directly, else through the router. */
  private async send(ctx: StanzaContext, reply: Element): Promise<void> {
    const session = ctx.session as SessionImpl | undefined;
    if (session && reply.attrs.to === session.jid.toString()) {
      if ((await session.send(reply)) !== 'refused') return;
    }
    await this.router.route(reply);
  }
}

/** RFC 6120 §8.2.3 iq rules; returns a reason when the iq is malformed. */
function iqProblem(iq: Element): string | undefined {
  const type = iq.attrs.type;
  if (!IQ_TYPES.has(type)) return 'iq type must be get, set, result or error';
  if (iq.attrs.id === undefined || iq.attrs.id === '') return 'iq must have an id';
  if (type === 'get' || type === 'set') {
    if (iq.getChildElements().length !== 1) return 'iq get/set must have exactly one child element';
  }
  return undefined;
}
