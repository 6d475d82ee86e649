/**
 * Processing of what the server sends to the component: the same hook order as the reference
 * server (inbound interceptors around stanza handlers, then iq dispatch), so plugins behave the
 * same inside a component.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  composeInterceptors,
  contributionName,
  iqResult,
  isStanza,
  JID,
  Logger,
  NS,
  Router,
  StanzaError,
  stanzaErrorReply,
  StreamErrorException,
  tryParseJid,
  type Element,
  type InboundStanzaInterceptor,
  type Logger as LoggerT,
  type Router as RouterT,
  type StanzaContext,
  type StanzaErrorCondition,
  type StanzaErrorType,
} from '@strand/core';
import { ComponentSettings, type ComponentSettings as ComponentSettingsT } from './config.js';
import { ComponentHooks, ComponentHooksToken } from './hooks.js';
import { ComponentLink, type ComponentLink as ComponentLinkT } from './link.js';
import type { ComponentStreamImpl } from './stream.js';

const IQ_TYPES = new Set(['get', 'set', 'result', 'error']);

/**
 * Handles every top-level element the server sends after the handshake:
 *
 * - **nonzas** go to the `NonzaHandler` of their (namespace, name); none → the stream is closed
 *   with `unsupported-stanza-type`; a thrown `StreamErrorException` closes it with that error;
 * - **stanzas** (the server stamps `from`; a missing `to` means the component's domain) run
 *   through the `InboundStanzaInterceptor`s (highest priority outermost) around:
 *   1. `StanzaHandler`s by priority until one returns true (a thrown `StanzaError` is the reply);
 *   2. iq get/set to the component's domain (`server` target) or to `user@domain` (`account`)
 *      → the matching `IqHandler` (result, or its `StanzaError`); none → `service-unavailable`
 *      (RFC 6120 §8.4);
 *   3. iq result/error → `@xmpp/component`'s `iqCaller` (answers to `host.xmpp.iqCaller` requests);
 *   4. message and presence → the host's `stanza` event listeners; with none, a message (not of
 *      type `error`) is answered with `service-unavailable`, a presence is dropped.
 *
 * A fault in a plugin becomes an `internal-server-error` reply for that stanza, never a crash.
 * Replies leave through the {@link Router}. Rebind this class to change the processing.
 */
@injectable()
export class ComponentInboundImpl {
  constructor(
    @inject(ComponentHooksToken) protected readonly hooks: ComponentHooks,
    @inject(Router) protected readonly router: RouterT,
    @inject(ComponentSettings) protected readonly settings: ComponentSettingsT,
    @inject(ComponentLink) protected readonly link: ComponentLinkT,
    @inject(Logger) protected readonly logger: LoggerT,
  ) {}

  /** One top-level element from the server (called in order, one at a time). */
  async element(stream: ComponentStreamImpl, el: Element): Promise<void> {
    const ns = el.getNS() ?? '';
    if (el.name === 'error' && ns === NS.STREAM) return; // reported through the entity's error event
    if (el.name === 'handshake' && ns === NS.COMPONENT_ACCEPT) return; // the handshake's answer
    if (isStanza(el)) {
      if (!stream.authenticatedJid) {
        this.logger.warn({ stanza: el.name }, 'stanza from the server before the handshake completed; ignored');
        return;
      }
      return this.stanza(stream, el);
    }
    const handler = this.hooks.findNonzaHandler(ns, el.name);
    const ctx = { stream, authenticatedJid: stream.authenticatedJid, session: undefined };
    if (!handler) {
      await stream.close({
        error: { condition: 'unsupported-stanza-type', text: `<${el.name}/> in ${ns || 'no namespace'} is not supported` },
        reason: 'unsupported-stanza-type',
      });
      return;
    }
    try {
      await handler.handle(ctx, el);
    } catch (err) {
      if (err instanceof StreamErrorException) {
        await stream.close({ error: err.spec, reason: err.spec.condition });
        return;
      }
      this.logger.error({ err, plugin: contributionName(handler) }, 'nonza handler failed');
      await stream.close({ error: { condition: 'internal-server-error' }, reason: 'fault' });
    }
  }

  /** A stanza from the server: builds the {@link StanzaContext} and runs the pipeline. */
  async stanza(stream: ComponentStreamImpl, el: Element): Promise<void> {
    const from = tryParseJid(el.attrs.from);
    if (!from) {
      this.logger.warn({ stanza: el.toString() }, 'stanza without a valid from; ignored');
      return;
    }
    if (el.attrs.xmlns === NS.COMPONENT_ACCEPT) delete el.attrs.xmlns;
    const to = el.attrs.to === undefined ? new JID(null, this.settings.domain) : tryParseJid(el.attrs.to);
    const ctx: StanzaContext = { stanza: el, stream, session: undefined, from, to };
    const inner = () => this.handle(ctx);
    const hooks = this.hooks.inbound;
    try {
      if (hooks.length === 0) await inner();
      else await composeInterceptors<InboundStanzaInterceptor, void>(hooks, (i, next) => i.intercept(ctx, next), inner)();
    } catch (err) {
      this.logger.error({ err }, 'inbound stanza interceptor failed');
    }
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
    if (stanza.name === 'iq') {
      const type = stanza.attrs.type as string;
      if (type === 'result' || type === 'error') {
        this.link.iqResponse(stanza);
        return;
      }
      return this.dispatchIq(ctx, type as 'get' | 'set');
    }
    if (this.link.unhandled(ctx)) return;
    if (stanza.name === 'message' && stanza.attrs.type !== 'error') return this.reply(ctx, 'service-unavailable');
    this.logger.debug({ stanza: stanza.name, from: stanza.attrs.from, to: stanza.attrs.to }, 'unhandled stanza dropped');
  }

  /** iq get/set: `IqHandler` by payload, type and target; none → `service-unavailable`. */
  private async dispatchIq(ctx: StanzaContext, type: 'get' | 'set'): Promise<void> {
    const to = ctx.to!;
    const target = to.domain !== this.settings.domain || to.resource ? undefined : to.local ? 'account' : 'server';
    const payload = ctx.stanza.getChildElements()[0]!;
    const handler = target ? this.hooks.findIqHandler(payload.getNS() ?? '', payload.name, type, target) : undefined;
    if (!handler) return this.reply(ctx, 'service-unavailable');
    try {
      const result = await handler.handle({ iq: ctx.stanza, session: undefined, from: ctx.from, to, payload });
      await this.router.route(iqResult(ctx.stanza, result ?? undefined));
    } catch (err) {
      return this.fault(ctx, err, contributionName(handler));
    }
  }

  private async fault(ctx: StanzaContext, err: unknown, plugin: string): Promise<void> {
    if (err instanceof StanzaError) return this.reply(ctx, err.condition, err.type, err.text, err.appCondition);
    this.logger.error({ err, plugin, stanza: ctx.stanza.name }, 'handler failed; answering internal-server-error');
    return this.reply(ctx, 'internal-server-error');
  }

  /** Sends a stanza error in reply to the current stanza (never for an error or a result). */
  async reply(
    ctx: StanzaContext,
    condition: StanzaErrorCondition,
    type?: StanzaErrorType,
    text?: string,
    appCondition?: Element,
  ): Promise<void> {
    const reply = stanzaErrorReply(ctx.stanza, condition, type, text, appCondition);
    if (!reply) return;
    if (ctx.stanza.attrs.to !== undefined && !ctx.to) reply.attrs.from = this.settings.domain;
    await this.router.route(reply);
  }
}

/** RFC 6120 §8.2.3 iq rules; a reason when the iq is malformed. */
function iqProblem(iq: Element): string | undefined {
  const type = iq.attrs.type;
  if (!IQ_TYPES.has(type)) return 'iq type must be get, set, result or error';
  if (iq.attrs.id === undefined || iq.attrs.id === '') return 'iq must have an id';
  if ((type === 'get' || type === 'set') && iq.getChildElements().length !== 1) {
    return 'iq get/set must have exactly one child element';
  }
  return undefined;
}
