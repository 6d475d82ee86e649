/**
 * XEP-0304 negotiation: the `<keepalive/>` stream feature (§3.1) and the interval request (§3.2).
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  Logger,
  StanzaError,
  type Element,
  type FeatureStage,
  type IqContext,
  type IqHandler,
  type Logger as LoggerT,
  type StreamContext,
  type StreamFeatureProvider,
  type XmlStream,
} from '@strand/core';
import { KeepaliveConfig, type KeepaliveConfig as KeepaliveConfigT } from './config.js';
import { keepaliveFeature, NS, parseIntervalRequest } from './elements.js';
import { KeepaliveInterval } from './interval-policy.js';
import { KeepaliveSchedulerImpl } from './keepalive-scheduler.js';
import { KeepaliveMetricsImpl } from './metrics.js';
import { KeepalivePriority } from './priorities.js';

export { KeepaliveInterval };

/**
 * True when XEP-0304 is offered on `stream`: client streams whose transport allows whitespace
 * between top-level elements (not WebSocket, RFC 7395 §3.4).
 */
export function offersKeepalive(stream: XmlStream): boolean {
  return stream.kind === 'c2s' && stream.supportsWhitespaceKeepalive;
}

/**
 * Offers `<keepalive xmlns='urn:xmpp:keepalive:0'><interval min max/></keepalive>` among the
 * post-authentication features (XEP-0304 §3.1: negotiated after resource binding), on TCP/TLS only.
 */
@injectable()
export class KeepaliveFeatureImpl implements StreamFeatureProvider {
  readonly priority: number = KeepalivePriority.feature;
  constructor(@inject(KeepaliveConfig) private readonly config: KeepaliveConfigT) {}

  offer(ctx: StreamContext, stage: FeatureStage): Element[] {
    if (stage !== 'post-auth' || !ctx.authenticatedJid || !offersKeepalive(ctx.stream)) return [];
    return [keepaliveFeature(this.config.minInterval, this.config.maxInterval)];
  }
}

/** The outcome of validating a requested interval. */
export type IntervalValidation =
  | { readonly ok: true; readonly seconds: number }
  | { readonly ok: false; readonly error: StanzaError };

/**
 * Validates the `<keepalive/>` payload of a negotiation iq against `[min, max]` (inclusive):
 * - no `<interval/>`, an empty one, several, or one that is not a number → `bad-request` (modify);
 * - zero, negative, a fraction (`1.5`, `60.0`) or outside `[min, max]` → `not-acceptable` with
 *   type `cancel`, as in XEP-0304 §3.2's example ("zero is invalid"; §5 "MUST … reject any invalid
 *   values").
 */
export function validateIntervalRequest(payload: Element, min: number, max: number): IntervalValidation {
  const range = `an integer number of seconds from ${min} to ${max}`;
  const req = parseIntervalRequest(payload);
  switch (req.kind) {
    case 'missing':
      return { ok: false, error: new StanzaError('bad-request', 'modify', `<interval/> is required: ${range}`) };
    case 'malformed':
      return { ok: false, error: new StanzaError('bad-request', 'modify', `malformed <interval/>: ${req.reason}`) };
    case 'number': {
      const fine = req.integer && req.value >= min && req.value <= max;
      if (fine) return { ok: true, seconds: req.value };
      return { ok: false, error: new StanzaError('not-acceptable', 'cancel', `the interval must be ${range}`) };
    }
  }
}

/**
 * Handles `<iq type='set'><keepalive xmlns='urn:xmpp:keepalive:0'><interval>N</interval></keepalive></iq>`
 * addressed to the server (or without `to`). Success stores N in the session's
 * {@link KeepaliveInterval} slot (renegotiation: the last accepted value wins; a rejected request
 * leaves the previous agreement in force) and answers with an empty result.
 */
@injectable()
export class KeepaliveNegotiationHandlerImpl implements IqHandler {
  readonly xmlns = NS;
  readonly element = 'keepalive';
  readonly types = ['set'] as const;
  readonly target = 'server' as const;
  private readonly log: LoggerT;

  constructor(
    @inject(KeepaliveConfig) private readonly config: KeepaliveConfigT,
    @inject(KeepaliveSchedulerImpl) private readonly scheduler: KeepaliveSchedulerImpl,
    @inject(KeepaliveMetricsImpl) private readonly metrics: KeepaliveMetricsImpl,
    @inject(Logger) logger: LoggerT,
  ) {
    this.log = logger.child({ plugin: '@strand/keepalive' });
  }

  handle(ctx: IqContext): void {
    const session = ctx.session;
    const stream = session?.stream;
    if (!session || !stream || !offersKeepalive(stream)) {
      // Not a local client on a whitespace-capable stream (e.g. WebSocket): the feature is not offered here.
      this.metrics.negotiations.inc({ result: 'unavailable' });
      throw new StanzaError('service-unavailable', 'cancel', 'whitespace keepalives are not available on this stream');
    }
    const v = validateIntervalRequest(ctx.payload, this.config.minInterval, this.config.maxInterval);
    if (!v.ok) {
      this.metrics.negotiations.inc({ result: v.error.condition === 'bad-request' ? 'bad-request' : 'not-acceptable' });
      throw v.error;
    }
    session.slots.set(KeepaliveInterval, v.seconds);
    this.metrics.negotiations.inc({ result: 'accepted' });
    this.log.debug({ jid: session.jid.toString(), interval: v.seconds }, 'keepalive interval negotiated');
    this.scheduler.watch(stream); // idempotent; re-evaluates the deadlines with the new interval
  }
}
