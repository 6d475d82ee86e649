/**
 * The stream management engine: enabling, acks, ack requests, hibernation, resumption and the
 * spilling of stanzas when a session ends. The hook contributions (`contributions.ts`) are thin
 * adapters that call into {@link StreamManagerImpl}.
 *
 * Spec references are to XEP-0198 1.6.x unless marked "0.7" (the `urn:xmpp:sm:1` draft).
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import {
  addressKey,
  addressMatcher,
  Clock,
  DEFAULT_EXEMPT_ADDRESSES,
  HostConfig,
  Logger,
  NS,
  OfflineStore,
  Scheduler,
  ServerInfo,
  SlidingWindowLimiter,
  stanzaErrorReply,
  StreamErrorException,
  withDelay,
  type Clock as ClockT,
  type HostConfig as HostConfigT,
  type Element,
  type Logger as LoggerT,
  type OfflineStore as OfflineStoreT,
  type OutboundStanzaInterceptor as OutboundStanzaInterceptorT,
  type Router as RouterT,
  type Scheduler as SchedulerT,
  type OutboundContext,
  type SendResult,
  type ServerInfo as ServerInfoT,
  type Session,
  type SessionEndReason,
  type SessionRegistry as SessionRegistryT,
  type StanzaErrorCondition,
  type StreamContext,
  type StreamErrorSpec,
  type XmlStream,
} from '@strand/core';
import { ackElement, parseAck, requestElement } from './acks.js';
import { PLUGIN_NAME, SmConfig, type SmConfig as SmConfigT } from './config.js';
import { distance32, inc32 } from './counters.js';
import { enabledElement, failedElement, parseEnable } from './enable.js';
import { handledCountTooHighError } from './errors.js';
import { SmEventBusImpl } from './events.js';
import { parseSm1Ack, parseSm1Request, sm1AckElement, sm1RequestElement } from './legacy-sm1.js';
import { SmMetricsImpl } from './metrics.js';
import { SM_NS, smVersionLabel, type SmNamespace } from './namespaces.js';
import { parseResume, resumedElement } from './resumption.js';
import { SmIdRegistry, type SmIdRegistry as SmIdRegistryT } from './sm-id-registry.js';
import { MAX_PREVID_LENGTH } from './sm-id.js';
import {
  SmSessionKey,
  SmSessionState,
  SmStreamBinding,
  SmStreamKey,
  queueCopy,
  type SmPhase,
} from './sm-session.js';

/** Reads `session.state` afresh (it changes across awaits). */
function sessionEnded(session: Session): boolean {
  return session.state === 'ended';
}

/**
 * Whether `stanza` has a child element named `delay` (any prefix): a cheap test before ltx's
 * `getChild`, which allocates and resolves namespaces, on every outbound stanza.
 */
function mayHaveDelay(stanza: Element): boolean {
  for (const child of stanza.children) {
    if (typeof child !== 'string' && (child as Element).name.endsWith('delay')) return true;
  }
  return false;
}

/** Message types that offline storage accepts (RFC 6121 §8.5.2.1.1, XEP-0160). */
function isOfflineStorable(stanza: Element): boolean {
  if (stanza.name !== 'message') return false;
  const type = stanza.attrs.type as string | undefined;
  return type === undefined || type === 'normal' || type === 'chat';
}

/**
 * The host services the engine uses that may depend on the collected hooks (the registry and the
 * router of a host): resolved lazily, on first use, to avoid a dependency cycle through the hooks.
 */
export interface SmHostServices {
  readonly registry: SessionRegistryT;
  readonly router: RouterT;
  /**
   * Every outbound interceptor of the host, this plugin's included. When it is known and this
   * plugin's is the only one, no send can start inside another one's locked section, and the
   * per-session lock does without `AsyncLocalStorage` (see `SerialLock`). Unknown: re-entrant.
   */
  readonly outbound?: readonly OutboundStanzaInterceptorT[];
}
/** DI token of {@link SmHostServices} (bound by the module as a lazy dynamic value). */
export const SmHostServices = Symbol.for('@strand/stream-management/SmHostServices');

/**
 * The stream management engine. One instance per container; per-session state lives in the
 * {@link SmSessionKey} slot. Override a behaviour with `rebind(StreamManagerImpl).to(MyManager)`
 * where `MyManager extends StreamManagerImpl`.
 */
@injectable()
export class StreamManagerImpl {
  constructor(
    @inject(SmConfig) protected readonly config: SmConfigT,
    @inject(Clock) protected readonly clock: ClockT,
    @inject(Scheduler) protected readonly scheduler: SchedulerT,
    @inject(Logger) protected readonly logger: LoggerT,
    @inject(SmHostServices) protected readonly host: SmHostServices,
    @inject(OfflineStore) protected readonly offline: OfflineStoreT,
    @inject(ServerInfo) protected readonly server: ServerInfoT,
    @inject(SmIdRegistry) protected readonly ids: SmIdRegistryT,
    @inject(SmMetricsImpl) protected readonly metrics: SmMetricsImpl,
    @inject(SmEventBusImpl) protected readonly events: SmEventBusImpl,
    @inject(HostConfig) protected readonly hostConfig: HostConfigT,
  ) {
    this.exemptAddress = addressMatcher(hostConfig.limits?.exemptAddresses ?? DEFAULT_EXEMPT_ADDRESSES);
    this.resumeFailures = new SlidingWindowLimiter(config.resumeFailuresPerMinute, 60_000);
  }

  /** True for source addresses exempt from per-address limits (host `limits.exemptAddresses`). */
  protected readonly exemptAddress: (address: string) => boolean;
  /** Failed `<resume/>` per source address (`resumeFailuresPerMinute`). */
  protected readonly resumeFailures: SlidingWindowLimiter;
  /** Hibernating sessions in hibernation order (oldest first), for the hibernation limits. */
  private readonly hibernatingAll = new Map<SmSessionState, { session: Session; bare: string }>();
  /** The same, per account. */
  private readonly hibernatingByUser = new Map<string, Set<SmSessionState>>();

  /** The host's session registry (resolved on first use). */
  protected get registry(): SessionRegistryT {
    return this.host.registry;
  }

  /** The host's router (resolved on first use). */
  protected get router(): RouterT {
    return this.host.router;
  }

  private reentrantSends: boolean | undefined;

  /**
   * Whether a send to a session may start (and be awaited) inside another send's locked section:
   * only an outbound interceptor running inside this plugin's could do that. Decided on first use
   * (the hooks are complete by then); true when the host does not say.
   */
  protected get sendsMayNest(): boolean {
    return (this.reentrantSends ??= (this.host.outbound?.length ?? 2) > 1);
  }

  // ================================================================== state access

  /** The SM state of `session`, if stream management was enabled on it. */
  stateOf(session: Session): SmSessionState | undefined {
    return session.slots.get(SmSessionKey);
  }

  /** The SM binding of `stream` while it carries stream management. */
  activeBinding(stream: XmlStream): SmStreamBinding | undefined {
    const b = stream.slots.get(SmStreamKey);
    return b && b.active ? b : undefined;
  }

  // ================================================================== nonzas

  /** Dispatches an SM nonza received on `ctx.stream` (called by the nonza handlers). */
  async handleNonza(ctx: StreamContext, el: Element, ns: SmNamespace): Promise<void> {
    switch (el.name) {
      case 'enable':
      case 'resume':
        try {
          return await (el.name === 'enable' ? this.enable(ctx, el, ns) : this.resume(ctx, el, ns));
        } catch (err) {
          if (err instanceof StreamErrorException) throw err;
          return this.negotiationFault(ctx, el, ns, err);
        }
      case 'r':
        return ns === SM_NS.SM_1 ? this.sm1Request(ctx, el) : this.request(ctx, el, ns);
      case 'a':
        return ns === SM_NS.SM_1 ? this.sm1Ack(ctx, el) : this.ack(ctx, el, ns);
      default:
        this.closeWith(ctx.stream, { condition: 'unsupported-stanza-type' }, 'sm-unknown-element');
    }
  }

  /**
   * `<enable/>` (§3). Before authentication or before bind: `<failed><unexpected-request/>`. A
   * second `<enable/>` on a stream (or for a session) that already has SM: the spec example's
   * `<failed><unexpected-request/></failed>`, then a `policy-violation` stream error ("If a server
   * receives a second `<enable/>` element it SHOULD respond with a stream error").
   */
  protected async enable(ctx: StreamContext, el: Element, ns: SmNamespace): Promise<void> {
    const { stream } = ctx;
    const session = ctx.session;
    if (stream.kind !== 'c2s' || !ctx.authenticatedJid || !session) {
      stream.writeNonza(failedElement(ns, 'unexpected-request'));
      this.metrics.enableFailed.inc({ reason: ctx.authenticatedJid ? 'before-bind' : 'unauthenticated' });
      return;
    }
    const existing = session.slots.get(SmSessionKey);
    if (stream.slots.get(SmStreamKey) || (existing && existing.phase !== 'ended')) {
      stream.writeNonza(failedElement(ns, 'unexpected-request'));
      this.metrics.enableFailed.inc({ reason: 'second-enable' });
      this.closeWith(
        stream,
        { condition: 'policy-violation', text: 'Stream management is already enabled on this stream' },
        'sm-second-enable',
      );
      return;
    }
    const parsed = parseEnable(el, ns);
    if (!parsed.ok) {
      stream.writeNonza(failedElement(ns, 'bad-request'));
      this.metrics.enableFailed.inc({ reason: 'bad-request' });
      this.logger.debug({ error: parsed.error }, 'sm: invalid <enable/>');
      return;
    }
    const { resume, maxSeconds } = parsed.value;
    const timeoutSec = !resume
      ? 0
      : ns === SM_NS.SM_1
        ? this.config.resumeTimeout
        : Math.min(maxSeconds ?? this.config.resumeTimeout, this.config.maxResumeTimeout);

    // §4 note: the inbound counter "is set to zero and started after receiving <enable/>".
    const state = new SmSessionState(ns, { timeoutSec, phase: 'enabling', reentrantLock: this.sendsMayNest });
    state.stream = stream;
    const binding = new SmStreamBinding(state, stream);
    session.slots.set(SmSessionKey, state);
    stream.slots.set(SmStreamKey, binding);

    // The outbound count starts "after sending <enabled/>": write it inside the outbound lock, so
    // sends queued before it are written (uncounted) before it and later ones are counted.
    const enabled = await state.lock.run(async () => {
      // Sends that started before SM existed on the session are written before <enabled/>.
      await this.drainUntracked(session);
      if (state.phase !== 'enabling') return false;
      const id = resume
        ? this.ids.issue({ session, bare: ctx.authenticatedJid!.bare().toString(), ns })
        : undefined;
      const ok = stream.writeNonza(
        enabledElement(ns, {
          ...(id !== undefined ? { id, resume: true, maxSeconds: timeoutSec } : {}),
          ...(id !== undefined && this.config.location !== undefined ? { location: this.config.location } : {}),
        }),
      );
      if (!ok) {
        if (id !== undefined) this.ids.unregister(id);
        return false;
      }
      state.id = id;
      this.setPhase(state, 'attached');
      return true;
    });
    if (!enabled) {
      // The stream could not take <enabled/> (closing): the client never saw SM enabled.
      if (session.slots.get(SmSessionKey) === state && state.phase === 'enabling') session.slots.delete(SmSessionKey);
      if (stream.slots.get(SmStreamKey) === binding) stream.slots.delete(SmStreamKey);
      return;
    }
    this.metrics.enabled.inc({ version: smVersionLabel(ns), resume: String(resume) });
    this.logger.debug({ session: session.id, ns, resumable: resume, timeoutSec }, 'sm: enabled');
  }

  /**
   * Fault isolation for `<enable/>`/`<resume/>`: a bug (ours or an override's) must not leave the
   * stream without an answer or a session half-negotiated. Unless `<enabled/>`/`<resumed/>` was
   * already written, the client gets `<failed><internal-server-error/></failed>` and what the
   * attempt changed is undone: a half-enabled session forgets SM; a session caught mid-resume goes
   * back to hibernating (or, if the host already attached it to this stream, this stream is closed
   * with `internal-server-error` as a loss of transport, so it hibernates and can be resumed again).
   */
  protected negotiationFault(ctx: StreamContext, el: Element, ns: SmNamespace, err: unknown): void {
    const { stream } = ctx;
    this.logger.error({ err, plugin: PLUGIN_NAME, element: el.name, connectionId: stream.connectionId }, 'sm: handler failed');
    const binding = stream.slots.get(SmStreamKey);
    if (el.name === 'enable') {
      const state = ctx.session?.slots.get(SmSessionKey);
      if (binding && binding.state.phase !== 'enabling') return; // <enabled/> was written
      if (state && state.phase === 'enabling') {
        if (state.id !== undefined) this.ids.unregister(state.id);
        this.setPhase(state, 'ended'); // an enable still in flight then writes nothing
        ctx.session!.slots.delete(SmSessionKey);
      }
      if (binding) stream.slots.delete(SmStreamKey);
      this.metrics.enableFailed.inc({ reason: 'internal-error' });
    } else {
      const state = binding?.state;
      if (state && state.phase === 'attached' && state.stream === stream) return; // <resumed/> was written
      const previd = typeof el.attrs.previd === 'string' ? el.attrs.previd : '';
      const record = previd.length <= MAX_PREVID_LENGTH ? this.ids.lookup(previd) : undefined;
      if (binding) stream.slots.delete(SmStreamKey);
      if (state && record && state.phase === 'resuming' && !sessionEnded(record.session)) {
        if (record.session.stream === stream) {
          stream.writeNonza(failedElement(ns, 'internal-server-error'));
          this.metrics.resumeFailed.inc({ reason: 'internal-error' });
          void stream.close({ error: { condition: 'internal-server-error' }, reason: 'fault', endSession: false });
          return;
        }
        this.hibernate(record.session, state);
      }
      this.metrics.resumeFailed.inc({ reason: 'internal-error' });
    }
    stream.writeNonza(failedElement(ns, 'internal-server-error'));
  }

  /** sm:3/sm:2 `<r/>`: "the recipient MUST acknowledge it" at once with `<a h/>` (§4). */
  protected request(ctx: StreamContext, el: Element, ns: SmNamespace): void {
    const b = this.bindingFor(ctx.stream, ns, el);
    if (!b) return;
    ctx.stream.writeNonza(ackElement(ns as typeof SM_NS.SM_3, b.state.inbound));
  }

  /** sm:3/sm:2 `<a h/>` (§4): acknowledges outbound stanzas; `h` too high → §5 stream error. */
  protected async ack(ctx: StreamContext, el: Element, ns: SmNamespace): Promise<void> {
    const b = this.bindingFor(ctx.stream, ns, el);
    if (!b) return;
    const parsed = parseAck(el);
    if (!parsed.ok) {
      this.closeWith(ctx.stream, { condition: 'invalid-xml', text: parsed.error }, 'sm-invalid-ack');
      return;
    }
    await b.state.lock.run(() => this.applyAck(b, parsed.value.h, true));
  }

  /**
   * Applies an acknowledged count from the peer to the queue. Too high → `undefined-condition`
   * with `<handled-count-too-high/>` (§5) and the session ends (a deliberate server close).
   * @param answers whether this ack answers our outstanding `<r/>`
   * @returns false when the count was too high
   */
  protected applyAck(b: SmStreamBinding, h: number, answers: boolean): boolean {
    const state = b.state;
    if (state.phase === 'ended') return true;
    const r = state.queue.ack(h, state.writtenSeq);
    if (r.kind === 'too-high') {
      b.protocolFailure = true;
      this.metrics.handledCountTooHigh.inc();
      this.logger.info({ h, sendCount: r.sendCount }, 'sm: peer acknowledged more stanzas than were sent');
      this.closeWith(b.stream, handledCountTooHighError(h, r.sendCount), 'handled-count-too-high');
      return false;
    }
    if (r.kind === 'stale') {
      this.logger.debug({ h, acked: state.queue.acked, behind: r.behind }, 'sm: stale ack ignored');
    } else if (r.removed.length > 0) {
      this.metrics.queueDepth.dec(undefined, r.removed.length);
    }
    if (answers) {
      state.outstandingR = undefined;
      this.cancelTimer(state, 'ackDelayed');
      this.cancelTimer(state, 'ackTimeout');
      if (state.phase === 'attached' && state.unackedWritten > 0) this.armQuiet(state);
    }
    return true;
  }

  // ------------------------------------------------------------------ sm:1 (0.7 draft)

  /** sm:1 `<r u [h]/>`: `h` acknowledges our stanzas; `u` must be echoed in an `<a h/>`. */
  protected async sm1Request(ctx: StreamContext, el: Element): Promise<void> {
    const b = this.bindingFor(ctx.stream, SM_NS.SM_1, el);
    if (!b) return;
    const parsed = parseSm1Request(el);
    if (!parsed.ok) {
      this.closeWith(ctx.stream, { condition: 'invalid-xml', text: parsed.error }, 'sm-invalid-request');
      return;
    }
    const { u, h } = parsed.value;
    if (h !== undefined && !(await b.state.lock.run(() => this.applyAck(b, h, true)))) return;
    this.sm1Answer(b, u!);
  }

  /**
   * sm:1 `<a [h] [u]/>`: `h` acknowledges our stanzas; a `u` (with or without `h`, as in the
   * draft's own examples) is answered like a request.
   */
  protected async sm1Ack(ctx: StreamContext, el: Element): Promise<void> {
    const b = this.bindingFor(ctx.stream, SM_NS.SM_1, el);
    if (!b) return;
    const parsed = parseSm1Ack(el);
    if (!parsed.ok) {
      this.closeWith(ctx.stream, { condition: 'invalid-xml', text: parsed.error }, 'sm-invalid-ack');
      return;
    }
    const { u, h } = parsed.value;
    if (h !== undefined && !(await b.state.lock.run(() => this.applyAck(b, h, true)))) return;
    if (u !== undefined) this.sm1Answer(b, u);
  }

  /**
   * Echoes the client's `u` once every stanza received before the request has been handled
   * (0.7: the answer's `h` "corresponds to the 'u' attribute of the last received `<r/>`").
   */
  protected sm1Answer(b: SmStreamBinding, u: number): void {
    const last = b.state.lastHandledU;
    if (last !== undefined && u <= last) this.logger.debug({ u, last }, 'sm:1: client u is not increasing');
    b.pendingU.push({ u, threshold: b.entered });
    this.sm1Flush(b);
  }

  /** Sends the sm:1 answers whose stanzas are all handled. */
  protected sm1Flush(b: SmStreamBinding): void {
    while (b.pendingU.length > 0 && b.finished >= b.pendingU[0]!.threshold) {
      const { u } = b.pendingU.shift()!;
      b.state.lastHandledU = u;
      if (!b.superseded) b.stream.writeNonza(sm1AckElement(u));
    }
  }

  /**
   * The active binding of `stream` for `ns`, or — for acks on a stream without SM — closes the
   * stream with `unsupported-stanza-type` (what the host answers for a nonza nobody handles).
   */
  protected bindingFor(stream: XmlStream, ns: SmNamespace, el: Element): SmStreamBinding | undefined {
    const b = stream.slots.get(SmStreamKey);
    if (b && b.superseded) return undefined; // late element on a replaced stream
    if (!b || b.state.ns !== ns || b.state.phase === 'ended') {
      this.logger.debug({ name: el.name, ns }, 'sm: ack element without stream management');
      this.closeWith(stream, { condition: 'unsupported-stanza-type', text: 'Stream management is not enabled' }, 'sm-not-enabled');
      return undefined;
    }
    return b;
  }

  // ================================================================== inbound counting

  /**
   * Wraps the processing of one inbound stanza: `h` counts every stanza handled after `<enable/>`
   * (§4), including stanzas the host answered with a stanza error (`next()` resolves). A stanza
   * whose processing throws is not counted (the client keeps it); one that finishes after a
   * resume moved the session to another stream is not counted either (the client resends it).
   */
  countInbound(stream: XmlStream, next: () => Promise<void>): Promise<void> {
    // Not `async`: one promise per inbound stanza instead of an async frame plus the hops of
    // returning a promise from it.
    const b = stream.slots.get(SmStreamKey);
    if (!b || !b.active) return next();
    b.entered++;
    let processing: Promise<void>;
    try {
      processing = next();
    } catch (err) {
      this.inboundDone(b, false);
      return Promise.reject(err);
    }
    return processing.then(
      () => this.inboundDone(b, true),
      (err: unknown) => {
        this.inboundDone(b, false);
        throw err;
      },
    );
  }

  /** The end of one inbound stanza's processing (see {@link countInbound}). */
  private inboundDone(b: SmStreamBinding, handled: boolean): void {
    b.finished++;
    if (handled && b.active) b.state.inbound = inc32(b.state.inbound);
    if (b.state.ns === SM_NS.SM_1) this.sm1Flush(b);
  }

  // ================================================================== outbound recording

  /**
   * Wraps `Session.send` for a session with SM: records what is written (unacked queue), holds
   * stanzas while hibernating or resuming, and takes responsibility for stanzas the stream refused.
   */
  sendOutbound(
    session: Session,
    stanza: Element,
    next: () => Promise<SendResult>,
    direct?: OutboundContext,
  ): Promise<SendResult> {
    // Not `async`: returning the lock's promise from an async function would add promise hops to
    // every outbound stanza.
    const state = this.stateOf(session);
    if (!state || state.phase === 'ended') return this.untracked(session, next);
    // The common case without the lock: attached, nothing queued on the lock, and the host lets us
    // write synchronously (no interceptor inside ours). Writing and recording in one synchronous
    // step cannot interleave with another send, `<enabled/>` or a retransmission (those hold the
    // lock, and then this path is not taken), so the wire order is the recorded order.
    if (direct?.writeNow !== undefined && state.phase === 'attached' && !state.lock.locked) {
      const at = this.originalTime(stanza);
      return Promise.resolve(this.recordSend(session, state, stanza, at, direct.writeNow()));
    }
    return state.lock.run(async (): Promise<SendResult> => {
      switch (state.phase) {
        case 'ended':
        case 'enabling':
          return next();
        case 'hibernating':
        case 'resuming':
          return this.hold(session, state, stanza);
        case 'departed':
          return 'refused'; // the host re-routes it to the session's new node
        case 'attached': {
          const at = this.originalTime(stanza);
          return this.recordSend(session, state, stanza, at, await next());
        }
      }
    });
  }

  /** Records the result of writing `stanza` on an attached session (see {@link sendOutbound}). */
  private recordSend(session: Session, state: SmSessionState, stanza: Element, at: number, result: SendResult): SendResult {
    if (result === 'held') return 'held'; // an inner interceptor took responsibility
    if ((state.phase as SmPhase) === 'ended') return result;
    if (result === 'written') {
      this.record(state, stanza, at, true);
      this.afterWrite(session, state, at);
      return 'written';
    }
    // 'refused': the stream is closing or gone. SM keeps the stanza: retransmitted after a
    // resume, or spilled when the session ends.
    this.record(state, stanza, at, false);
    this.checkHardLimit(session, state);
    return 'held';
  }

  /** Sends to sessions without SM that are still inside the interceptor chain. */
  private readonly inFlight = new WeakMap<Session, { count: number; waiters: Array<() => void> }>();

  /** Passes a send through, counting it as in flight (see {@link drainUntracked}). */
  protected async untracked(session: Session, next: () => Promise<SendResult>): Promise<SendResult> {
    let t = this.inFlight.get(session);
    if (!t) {
      t = { count: 0, waiters: [] };
      this.inFlight.set(session, t);
    }
    t.count++;
    try {
      return await next();
    } finally {
      if (--t.count === 0) for (const wake of t.waiters.splice(0)) wake();
    }
  }

  /** Resolves once no send that bypassed SM (started before `<enable/>`) is in flight. */
  protected async drainUntracked(session: Session): Promise<void> {
    const t = this.inFlight.get(session);
    if (!t || t.count === 0) return;
    await new Promise<void>((resolve) => t.waiters.push(resolve));
  }

  /** Holds a stanza while no stream carries the session (hibernating or resuming). */
  protected async hold(session: Session, state: SmSessionState, stanza: Element): Promise<SendResult> {
    const at = this.originalTime(stanza);
    if (state.phase === 'hibernating' && state.queue.length >= this.config.maxQueue && isOfflineStorable(stanza)) {
      await this.storeWhileHibernating(session, state, stanza, at);
      return 'held';
    }
    this.record(state, stanza, at, false);
    this.checkHardLimit(session, state);
    return 'held';
  }

  /**
   * Past `maxQueue` while hibernating, messages go to offline storage (flushed to the session
   * after a resume); if storage refuses, they bounce to the sender. Never dropped silently.
   */
  protected async storeWhileHibernating(session: Session, state: SmSessionState, stanza: Element, at: number): Promise<void> {
    const bare = session.jid.bare().toString();
    const copy = queueCopy(stanza);
    const result = await this.offline.store(bare, copy, at);
    if (result === 'stored') {
      state.spilledToOffline.push({ at, xml: copy.toString() });
      this.metrics.spilled.inc({ path: 'offline' });
      return;
    }
    // Not awaited: this runs inside the session's outbound lock, and the error may go back to this
    // very session (a message to itself), whose send waits for that lock.
    void this.bounce(stanza, 'service-unavailable').catch((err: unknown) => this.logger.error({ err }, 'sm: bounce failed'));
    this.metrics.spilled.inc({ path: 'bounce' });
  }

  /**
   * Appends to the unacked queue. The stanza itself is kept, not a copy: a stanza passed to
   * `Session.send` is not modified afterwards (core's contract; the host may send one element to
   * several sessions), and copying every outbound stanza cost ~5 % of a message's CPU time.
   */
  protected record(state: SmSessionState, stanza: Element, at: number, written: boolean): void {
    const seq = state.queue.push({ stanza, at });
    if (written) state.writtenSeq = seq;
    this.metrics.queueDepth.inc();
  }

  /**
   * Ack-request policy after a written stanza (one `<r/>` outstanding at a time).
   * @param now the current time if the caller just read it (one clock read less per stanza)
   */
  protected afterWrite(session: Session, state: SmSessionState, now?: number): void {
    if (!state.outstandingR) {
      const since = distance32(state.lastRequestSeq, state.writtenSeq);
      if (since >= this.config.ackRequestEvery || state.queue.length > this.config.maxQueue) this.sendRequest(state);
      else this.armQuiet(state, now);
    }
    this.checkHardLimit(session, state);
  }

  /**
   * Past `hardQueueLimit` the SM session ends like an expiry: attached → the stream closes with
   * `resource-constraint` (and the session ends with it); hibernating → the session ends. The queue
   * is then spilled (messages to another resource / offline / bounce — never dropped).
   */
  protected checkHardLimit(session: Session, state: SmSessionState): void {
    if (state.queue.length <= this.config.hardQueueLimit || state.overflowing) return;
    state.overflowing = true;
    this.logger.warn({ session: session.id, depth: state.queue.length }, 'sm: hard queue limit reached; ending the session');
    const stream = state.stream;
    if (stream && stream.state !== 'closed' && state.phase === 'attached') {
      this.closeWith(
        stream,
        { condition: 'resource-constraint', text: 'Too many unacknowledged stanzas' },
        'sm-queue-overflow',
      );
    } else {
      void this.registry.end(session, 'server-close').catch((err: unknown) => this.logger.error({ err }, 'sm: end failed'));
    }
  }

  /**
   * Writes our `<r/>` (sm:1: `<r u/>` with our outbound count) and arms the ack-delayed and
   * ack-timeout timers.
   * @returns false when nothing was written
   */
  protected sendRequest(state: SmSessionState): boolean {
    const stream = state.stream;
    if (!stream || state.phase !== 'attached') return false;
    let el: Element;
    if (state.ns === SM_NS.SM_1) {
      if (state.lastSentU !== undefined && state.lastSentU === state.writtenSeq) return false; // u strictly increasing
      el = sm1RequestElement(state.writtenSeq);
    } else {
      el = requestElement(state.ns);
    }
    if (!stream.writeNonza(el)) return false;
    if (state.ns === SM_NS.SM_1) state.lastSentU = state.writtenSeq;
    const request = { at: this.clock.now(), seq: state.writtenSeq };
    state.outstandingR = request;
    state.lastRequestSeq = state.writtenSeq;
    this.cancelTimer(state, 'quiet');
    this.cancelTimer(state, 'ackDelayed');
    this.cancelTimer(state, 'ackTimeout');
    const session = stream.session;
    state.timers.ackDelayed = this.scheduler.setTimeout(async () => {
      delete state.timers.ackDelayed;
      if (state.outstandingR !== request || !session) return;
      await this.events.emit('onAckDelayed', session, {
        unacked: state.queue.length,
        waitedMs: this.clock.now() - request.at,
      });
    }, this.config.ackDelayed * 1000);
    state.timers.ackTimeout = this.scheduler.setTimeout(() => {
      delete state.timers.ackTimeout;
      if (state.outstandingR !== request || state.stream !== stream || stream.state === 'closed') return;
      this.metrics.ackTimeouts.inc();
      this.logger.info({ connectionId: stream.connectionId }, 'sm: ack timeout; treating the transport as lost');
      stream.destroy('sm-ack-timeout');
    }, this.config.ackTimeout * 1000);
    return true;
  }

  /** (Re)arms the quiet timer: an `<r/>` once nothing was written for `ackRequestQuietMs`. */
  protected armQuiet(state: SmSessionState, now: number = this.clock.now()): void {
    state.quietDeadline = now + this.config.ackRequestQuietMs;
    if (state.timers.quiet?.active) return;
    const fire = (): void => {
      delete state.timers.quiet;
      if (state.phase !== 'attached' || state.outstandingR || state.unackedWritten === 0) return;
      const remaining = state.quietDeadline - this.clock.now();
      if (remaining > 0) state.timers.quiet = this.scheduler.setTimeout(fire, remaining);
      else this.sendRequest(state);
    };
    state.timers.quiet = this.scheduler.setTimeout(fire, this.config.ackRequestQuietMs);
  }

  /**
   * The host's read timeout: SM probes with `<r/>` before keepalive would act. Returns `'pass'`
   * when SM is not active on the stream (or sm:1 has nothing new to number).
   */
  readTimeout(ctx: StreamContext): 'handled' | 'pass' {
    const b = this.activeBinding(ctx.stream);
    if (!b || b.state.phase !== 'attached' || b.state.stream !== ctx.stream) return 'pass';
    if (b.state.outstandingR) return 'handled'; // the ack timeout owns the follow-up
    return this.sendRequest(b.state) ? 'handled' : 'pass';
  }

  // ================================================================== closing

  /**
   * The close handshake starts (idle close, kick, shutdown, protocol error…, or the peer's close
   * tag): the last chance to write. Sends `<a h/>` (the client learns which of its stanzas were
   * handled) and — on our own close, when stanzas are unacked and no `<r/>` is outstanding —
   * `<r/>`; the peer's `<a/>` is still processed until its close tag. After the peer's close tag
   * no `<a/>` can follow, so no `<r/>` is sent then.
   */
  closing(ctx: StreamContext, options: { reason?: string } = {}): void {
    const b = ctx.stream.slots.get(SmStreamKey);
    if (!b || !b.active || b.closing) return;
    b.closing = true;
    const state = b.state;
    if (state.phase === 'enabling') return;
    if (state.ns === SM_NS.SM_1) {
      this.sm1Flush(b);
      if (state.lastHandledU !== undefined) ctx.stream.writeNonza(sm1AckElement(state.lastHandledU));
    } else {
      ctx.stream.writeNonza(ackElement(state.ns, state.inbound));
    }
    const peerClosed = options.reason === 'peer-close';
    if (!peerClosed && !b.protocolFailure && !state.outstandingR && state.unackedWritten > 0) {
      if (state.ns === SM_NS.SM_1) {
        if (state.lastSentU !== state.writtenSeq && ctx.stream.writeNonza(sm1RequestElement(state.writtenSeq))) {
          state.lastSentU = state.writtenSeq;
          state.outstandingR = { at: this.clock.now(), seq: state.writtenSeq };
        }
      } else if (ctx.stream.writeNonza(requestElement(state.ns))) {
        state.outstandingR = { at: this.clock.now(), seq: state.writtenSeq };
      }
    }
    // The close handshake timeout rules from now on.
    this.cancelTimer(state, 'quiet');
    this.cancelTimer(state, 'ackDelayed');
    this.cancelTimer(state, 'ackTimeout');
  }

  /** The stream is closed: no more acks can arrive; a pending spill can run. */
  async closed(ctx: StreamContext): Promise<void> {
    const b = ctx.stream.slots.get(SmStreamKey);
    if (!b) return;
    b.closed = true;
    if (b.superseded) return;
    const state = b.state;
    if (state.stream === ctx.stream) {
      this.cancelTimer(state, 'quiet');
      this.cancelTimer(state, 'ackDelayed');
      this.cancelTimer(state, 'ackTimeout');
    }
    if (state.pendingSpill) await this.spillQueue(state);
  }

  // ================================================================== hibernation

  /**
   * The transport was lost without `</stream:stream>` (§6 "Stream Closure": an unfinished stream).
   * Claims the session for its resumption window when resumption was granted.
   * @returns true when the session is kept (hibernating)
   */
  transportLost(session: Session): boolean {
    const state = this.stateOf(session);
    if (!state || !state.resumable || state.phase === 'ended' || state.phase === 'enabling') return false;
    this.hibernate(session, state);
    return true;
  }

  /** Detaches the SM session from its stream and arms the expiry timer. */
  protected hibernate(session: Session, state: SmSessionState): void {
    const alreadyHibernating = state.phase === 'hibernating';
    this.setPhase(state, 'hibernating');
    if (!alreadyHibernating) this.trackHibernating(session, state);
    state.stream = undefined;
    state.outstandingR = undefined;
    this.cancelTimer(state, 'quiet');
    this.cancelTimer(state, 'ackDelayed');
    this.cancelTimer(state, 'ackTimeout');
    if (!alreadyHibernating || !state.timers.expiry?.active) {
      state.hibernatedAt = this.clock.now();
      this.cancelTimer(state, 'expiry');
      state.timers.expiry = this.scheduler.setTimeout(() => this.expire(session, state), state.timeoutSec * 1000);
      this.logger.debug({ session: session.id, timeoutSec: state.timeoutSec, unacked: state.queue.length }, 'sm: hibernating');
      void this.events.emit('onHibernated', session, {
        smId: state.id!,
        timeoutSec: state.timeoutSec,
        unacked: state.queue.length,
      });
    }
  }

  /**
   * Enforces `maxHibernatingPerUser` and `maxHibernatingTotal` when `state` starts hibernating: the
   * oldest hibernating session of the account (then of the node) is ended like an expiry — its
   * queue is spilled (re-routed, stored offline or bounced), never dropped. The newest hibernating
   * session is the one a client is most likely to resume.
   */
  protected trackHibernating(session: Session, state: SmSessionState): void {
    const bare = session.jid.bare().toString();
    this.hibernatingAll.set(state, { session, bare });
    let mine = this.hibernatingByUser.get(bare);
    if (!mine) this.hibernatingByUser.set(bare, (mine = new Set()));
    mine.add(state);
    while (mine.size > this.config.maxHibernatingPerUser) this.evictHibernating(mine.values().next().value!, 'user');
    while (this.hibernatingAll.size > this.config.maxHibernatingTotal) {
      this.evictHibernating(this.hibernatingAll.keys().next().value!, 'total');
    }
  }

  /** Forgets `state` in the hibernation bookkeeping (it left `hibernating`). */
  private untrackHibernating(state: SmSessionState): void {
    const entry = this.hibernatingAll.get(state);
    if (!entry) return;
    this.hibernatingAll.delete(state);
    const mine = this.hibernatingByUser.get(entry.bare);
    mine?.delete(state);
    if (mine && mine.size === 0) this.hibernatingByUser.delete(entry.bare);
  }

  /** Ends a hibernating session for a hibernation limit, like an expiry. */
  protected evictHibernating(state: SmSessionState, scope: 'user' | 'total'): void {
    const entry = this.hibernatingAll.get(state);
    this.untrackHibernating(state);
    if (!entry) return;
    this.metrics.evicted.inc({ scope });
    this.logger.info({ session: entry.session.id, scope }, 'sm: hibernation limit reached; ending the oldest hibernating session');
    this.cancelTimer(state, 'expiry');
    void this.registry.end(entry.session, 'expired').catch((err: unknown) => this.logger.error({ err }, 'sm: end failed'));
  }

  // ================================================================== hand-over (scale-out)

  /**
   * The session is being handed over to another node (`SessionListener.onDeparting`): waits for
   * sends in flight (the outbound lock), then freezes the state — phase `departed`, timers
   * cancelled, node-local bookkeeping dropped — so the host serialises a consistent queue and
   * counters. Sends that were waiting for the lock are refused and re-routed by the host.
   */
  async departing(session: Session): Promise<void> {
    const state = this.stateOf(session);
    if (!state || state.phase === 'ended' || state.phase === 'departed') return;
    await state.lock.run(() => {
      const binding = state.stream?.slots.get(SmStreamKey);
      if (binding) binding.superseded = true; // the old stream's close is not ours any more
      state.stream = undefined;
      state.outstandingR = undefined;
      state.cancelTimers();
      this.metrics.queueDepth.dec(undefined, state.queue.length);
      this.setPhase(state, 'departed');
      if (state.id !== undefined) this.ids.released(state.id);
    });
    this.logger.debug({ session: session.id, unacked: state.queue.length }, 'sm: session handed over to another node');
  }

  /**
   * A session handed over from another node arrived (`SessionListener.onArrived`): its decoded
   * state hibernates here with the rest of its resumption window (from `hibernatedAt`).
   */
  arrived(session: Session): void {
    const state = this.stateOf(session);
    if (!state || state.phase !== 'hibernating') return;
    this.metrics.queueDepth.inc(undefined, state.queue.length);
    this.metrics.hibernating.inc();
    this.trackHibernating(session, state);
    const since = state.hibernatedAt ?? this.clock.now();
    state.hibernatedAt = since;
    const remainingMs = Math.max(0, state.timeoutSec * 1000 - (this.clock.now() - since));
    state.timers.expiry = this.scheduler.setTimeout(() => this.expire(session, state), remainingMs);
  }

  /** Number of hibernating sessions tracked for the limits (tests, metrics). */
  get hibernatingCount(): number {
    return this.hibernatingAll.size;
  }

  /** The resumption window ran out: the session ends (`expired`), which spills its queue. */
  protected async expire(session: Session, state: SmSessionState): Promise<void> {
    delete state.timers.expiry;
    if (state.phase !== 'hibernating') return;
    this.metrics.expired.inc();
    this.logger.debug({ session: session.id }, 'sm: resumption window expired');
    await this.registry.end(session, 'expired');
  }

  // ================================================================== end of session

  /**
   * The session ended for good (it already left the registry). Remembers the final `h` for
   * `<failed h/>`, then spills the queue once the stream is closed (late `<a/>` first).
   */
  async ended(session: Session, reason: SessionEndReason): Promise<void> {
    const state = this.stateOf(session);
    if (!state || state.phase === 'ended') return;
    this.setPhase(state, 'ended');
    state.cancelTimers();
    if (state.id !== undefined) {
      this.ids.unregister(state.id);
      const h = state.ns === SM_NS.SM_1 ? state.lastHandledU : state.inbound;
      this.ids.retain(
        state.id,
        { bare: session.jid.bare().toString(), ns: state.ns, h },
        this.config.failedHRetention * 1000,
      );
    }
    this.logger.debug({ session: session.id, reason, queued: state.queue.length }, 'sm: session ended');
    const stream = state.stream;
    const streamDone = !stream || stream.state === 'closed' || stream.slots.get(SmStreamKey)?.closed === true;
    if (streamDone) {
      await this.spillQueue(state);
      return;
    }
    state.pendingSpill = true;
    void stream.closed.then(
      () => this.spillQueue(state),
      () => this.spillQueue(state),
    );
  }

  /**
   * Spills every queued stanza exactly once, in original-time order, now that the session is out
   * of the registry (XEP-0198 §4: "treat unacknowledged stanzas in the same way that it would
   * treat a stanza sent to an unavailable resource"): messages are routed again with their
   * original time and an XEP-0203 delay (another resource, offline storage, or an error bounce —
   * RFC 6121 §8.5); iq get/set get a `service-unavailable` error reply; presence is dropped.
   */
  protected async spillQueue(state: SmSessionState): Promise<void> {
    if (state.spilled) return;
    state.spilled = true;
    state.pendingSpill = false;
    const entries = state.queue.drain();
    if (entries.length > 0) this.metrics.queueDepth.dec(undefined, entries.length);
    const ordered = entries.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i);
    for (const { e } of ordered) {
      try {
        const { stanza, at } = e;
        if (stanza.name === 'message') {
          await this.router.route(withDelay(stanza, at, this.server.domain), { originalTime: at });
          this.metrics.spilled.inc({ path: 'route' });
        } else if (stanza.name === 'iq' && (stanza.attrs.type === 'get' || stanza.attrs.type === 'set')) {
          await this.bounce(stanza, 'service-unavailable');
          this.metrics.spilled.inc({ path: 'iq-error' });
        } else {
          this.metrics.spilled.inc({ path: 'dropped' });
        }
      } catch (err) {
        this.logger.error({ err }, 'sm: spilling a stanza failed');
      }
    }
  }

  /** Routes the error reply to `stanza` back to its sender (never an error to an error). */
  protected async bounce(stanza: Element, condition: StanzaErrorCondition): Promise<void> {
    const reply = stanzaErrorReply(stanza, condition);
    if (!reply || !reply.attrs.to) return;
    await this.router.route(reply);
  }

  // ================================================================== resumption

  /**
   * `<resume previd h/>` (§4 "Resumption"). Succeeds only for a live SM session of the same
   * authenticated bare JID and namespace. Any other JID or an unknown ID gets
   * `<failed><item-not-found/></failed>` with no `h`; the owner of a session that ended within
   * `failedHRetention` gets `<failed h><item-not-found/></failed>`.
   */
  protected async resume(ctx: StreamContext, el: Element, ns: SmNamespace): Promise<void> {
    const { stream } = ctx;
    const fail = (condition: StanzaErrorCondition, reason: string, h?: number): void => {
      stream.writeNonza(failedElement(ns, condition, h));
      this.metrics.resumeFailed.inc({ reason });
      this.logger.debug({ reason, connectionId: stream.connectionId }, 'sm: resume failed');
    };
    if (stream.kind !== 'c2s' || !ctx.authenticatedJid) return fail('unexpected-request', 'unexpected-request');
    if (ctx.session || stream.slots.get(SmStreamKey)) return fail('unexpected-request', 'unexpected-request');
    // Per-address limit on failed resumes (guessing SM-IDs), checked before anything is looked up,
    // so the answer says nothing about the ID.
    const limited = !this.exemptAddress(stream.remoteAddress);
    const sourceKey = addressKey(stream.remoteAddress);
    if (limited && !this.resumeFailures.allows(sourceKey, this.clock.now())) return fail('policy-violation', 'rate-limited');
    const failCounted = (condition: StanzaErrorCondition, reason: string, h?: number): void => {
      if (limited) this.resumeFailures.record(sourceKey, this.clock.now());
      fail(condition, reason, h);
    };
    const parsed = parseResume(el, ns);
    if (!parsed.ok) return failCounted('bad-request', 'bad-request');
    const { previd, h } = parsed.value;
    const bare = ctx.authenticatedJid.bare().toString();

    const notFound = async (): Promise<void> => {
      const kept = previd.length <= MAX_PREVID_LENGTH ? await this.ids.retained(previd) : undefined;
      if (kept && kept.bare === bare && kept.ns === ns) return failCounted('item-not-found', 'expired', kept.h);
      const live = previd.length <= MAX_PREVID_LENGTH ? this.ids.lookup(previd) : undefined;
      return failCounted('item-not-found', live || kept ? 'not-owner' : 'unknown');
    };
    // A session owned by another node of a cluster is handed over to this one first (only when the
    // authenticated account could own it: the hand-over closes the other stream).
    const live = previd.length <= MAX_PREVID_LENGTH ? await this.ids.claim(previd, bare) : undefined;
    if (!live || live.bare !== bare || live.ns !== ns) return await notFound();
    const session = live.session;
    const state = this.stateOf(session);
    if (!state || state.phase === 'ended' || session.state === 'ended') return await notFound();

    await state.resumeLock.run(async () => {
      if (state.phase === 'ended' || session.state === 'ended' || this.ids.lookup(previd)?.session !== session) {
        return await notFound();
      }
      if (stream.state !== 'open' && stream.state !== 'opening') return;

      // "handle the element's 'h' attribute as it would handle it on an <a/> element" (§4).
      if (h !== undefined) {
        const ackResult = await state.lock.run(() => state.queue.ack(h, state.writtenSeq));
        if (ackResult.kind === 'too-high') {
          this.metrics.handledCountTooHigh.inc();
          this.metrics.resumeFailed.inc({ reason: 'handled-count-too-high' });
          this.closeWith(stream, handledCountTooHighError(h, ackResult.sendCount), 'handled-count-too-high');
          void this.registry.end(session, 'server-close').catch((err: unknown) => this.logger.error({ err }, 'sm: end failed'));
          return;
        }
        if (ackResult.kind === 'ok' && ackResult.removed.length > 0) this.metrics.queueDepth.dec(undefined, ackResult.removed.length);
      }

      const previousPhase = state.phase;
      const oldStream = state.stream;
      const oldBinding = oldStream?.slots.get(SmStreamKey);
      const hibernatedMs = previousPhase === 'hibernating' && state.hibernatedAt !== undefined ? this.clock.now() - state.hibernatedAt : 0;
      this.cancelTimer(state, 'expiry');
      this.cancelTimer(state, 'quiet');
      this.cancelTimer(state, 'ackDelayed');
      this.cancelTimer(state, 'ackTimeout');
      state.outstandingR = undefined;
      this.setPhase(state, 'resuming');
      if (oldBinding) oldBinding.superseded = true; // its close (conflict) fires stream events only
      const binding = new SmStreamBinding(state, stream);
      stream.slots.set(SmStreamKey, binding);

      try {
        await this.registry.attachStream(session, stream);
      } catch (err) {
        this.logger.info({ err, session: session.id }, 'sm: attaching the stream failed');
        if (stream.slots.get(SmStreamKey) === binding) stream.slots.delete(SmStreamKey);
        if (oldBinding && oldStream && oldStream.state !== 'closed' && session.stream === oldStream) oldBinding.superseded = false;
        if (state.phase === 'resuming') {
          if (oldBinding && !oldBinding.superseded) this.setPhase(state, 'attached');
          else if (!sessionEnded(session)) this.hibernate(session, state);
        }
        return fail('item-not-found', 'attach-failed');
      }

      let retransmitted = 0;
      const resumed = await state.lock.run(() => {
        if (state.phase !== 'resuming') return false; // lost or ended meanwhile
        const hOut = ns === SM_NS.SM_1 ? state.lastHandledU : state.inbound;
        if (!stream.writeNonza(resumedElement(ns, previd, hOut))) return false;
        state.stream = stream;
        // Unacked stanzas, in order, right after <resumed/>; not counted again (§4).
        for (const { seq, item } of state.queue.entries()) {
          if (!session.retransmit(item.stanza)) break;
          state.writtenSeq = seq;
          retransmitted++;
        }
        this.setPhase(state, 'attached');
        if (state.unackedWritten > 0) this.sendRequest(state);
        return true;
      });
      if (!resumed) {
        if (state.phase === 'resuming' && !sessionEnded(session)) this.hibernate(session, state);
        return;
      }
      this.metrics.resumed.inc({ version: smVersionLabel(ns) });
      if (retransmitted > 0) this.metrics.retransmitted.inc(undefined, retransmitted);
      this.logger.debug({ session: session.id, retransmitted }, 'sm: resumed');
      const flushed = await this.flushOffline(session, state);
      await this.events.emit('onResumed', session, {
        smId: previd,
        retransmitted,
        flushedFromOffline: flushed,
        hibernatedMs,
      });
    });
  }

  /**
   * After a resume: sends the messages this session stored offline while hibernating past
   * `maxQueue` (only those — matched by original time and content), oldest first, through
   * `Session.send` (so they are counted), with their XEP-0203 delay, and removes them from storage.
   * @returns how many were flushed
   */
  protected async flushOffline(session: Session, state: SmSessionState): Promise<number> {
    if (state.spilledToOffline.length === 0) return 0;
    const wanted = new Map<string, number>();
    for (const s of state.spilledToOffline) {
      const k = `${s.at}\n${s.xml}`;
      wanted.set(k, (wanted.get(k) ?? 0) + 1);
    }
    state.spilledToOffline = [];
    const bare = session.jid.bare().toString();
    const stored = await this.offline.list(bare);
    const mine = stored.filter((m) => {
      const k = `${m.at}\n${m.stanza.toString()}`;
      const n = wanted.get(k) ?? 0;
      if (n === 0) return false;
      wanted.set(k, n - 1);
      return true;
    });
    const removed: number[] = [];
    for (const m of mine) {
      if (state.phase === 'ended') break;
      await session.send(withDelay(m.stanza, m.at, this.server.domain));
      removed.push(m.id);
    }
    if (removed.length > 0) await this.offline.remove(bare, removed);
    // Whatever could not be flushed stays in storage (delivered at the next login).
    this.metrics.offlineFlushed.inc(undefined, removed.length);
    return removed.length;
  }

  // ================================================================== helpers

  /** The original time of a stanza: its XEP-0203 stamp if it carries one in the past, else now. */
  protected originalTime(stanza: Element): number {
    const now = this.clock.now();
    const delay = mayHaveDelay(stanza) ? stanza.getChild('delay', NS.DELAY) : undefined;
    const stamp = delay?.attrs.stamp as string | undefined;
    if (stamp) {
      const t = Date.parse(stamp);
      if (Number.isFinite(t) && t <= now) return t;
    }
    return now;
  }

  /** Changes phase and keeps the hibernating gauge in step. */
  protected setPhase(state: SmSessionState, phase: SmPhase): void {
    if (state.phase === phase) return;
    if (state.phase === 'hibernating') {
      this.metrics.hibernating.dec();
      this.untrackHibernating(state);
    }
    if (phase === 'hibernating') this.metrics.hibernating.inc();
    state.phase = phase;
  }

  /** Cancels and forgets one timer of `state`. */
  protected cancelTimer(state: SmSessionState, which: keyof SmSessionState['timers']): void {
    state.timers[which]?.cancel();
    delete state.timers[which];
  }

  /**
   * Closes `stream` with a stream error through the core handshake, ending its session (a
   * deliberate server close). Not awaited: the handshake completes when the peer's close tag is
   * processed, which must not wait behind the element being handled now.
   */
  protected closeWith(stream: XmlStream, error: StreamErrorSpec, reason: string): void {
    void stream.close({ error, endSession: true, reason }).catch((err: unknown) => this.logger.error({ err }, 'sm: close failed'));
  }
}
