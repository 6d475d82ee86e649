/**
 * Per-session and per-stream state of stream management.
 *
 * The state of an SM session lives in the session slot {@link SmSessionKey} (declared with a
 * JSON codec, so it survives resumption — the same `Session` object is kept — and can be moved to
 * another node later). What only makes sense for one connection (whether it carries SM, the
 * sm:1 requests waiting for their stanzas to be handled) lives in the stream slot
 * {@link SmStreamKey}.
 * @packageDocumentation
 */
import {
  Element as XmlElement,
  cloneElement,
  defineSessionKey,
  defineStreamKey,
  type Element,
  type JsonValue,
  type SlotCodec,
  type Timer,
  type XmlStream,
} from '@strand/core';
import { distance32 } from './counters.js';
import { UnackedQueue } from './unacked-queue.js';
import { isSmNamespace, type SmNamespace } from './namespaces.js';
import { SerialLock } from './serial-lock.js';

/** A stanza in the outbound queue with the time the server first accepted it (epoch **ms**). */
export interface QueuedStanza {
  readonly stanza: Element;
  /** Original time, used for XEP-0203 `<delay/>` and offline ordering when it is spilled. */
  readonly at: number;
}

/**
 * Lifecycle of an SM session:
 * - `enabling`: `<enable/>` received, `<enabled/>` not yet written (inbound `h` already counts);
 * - `attached`: a stream carries the session; outbound stanzas are written and recorded;
 * - `hibernating`: the transport was lost and the session is claimed for resumption; outbound
 *   stanzas are held;
 * - `resuming`: a `<resume/>` is being processed; outbound stanzas are held until `<resumed/>`
 *   and the retransmission are written;
 * - `departed`: the session was handed over to another node (scale-out): nothing changes here any
 *   more, sends are refused (the host re-routes them to the new node);
 * - `ended`: the session ended; its stanzas were (or are being) spilled.
 */
export type SmPhase = 'enabling' | 'attached' | 'hibernating' | 'resuming' | 'departed' | 'ended';

/** Timers of one SM session (all via the host `Scheduler`). */
export interface SmTimers {
  /** Resumption window while hibernating. */
  expiry?: Timer;
  /** Quiet delay before an ack request. */
  quiet?: Timer;
  /** Fires `SmEvents.onAckDelayed`. */
  ackDelayed?: Timer;
  /** Treats the transport as lost. */
  ackTimeout?: Timer;
}

/**
 * The state of one stream management session. Counter fields are modulo 2^32.
 * Fields under "runtime" are not serialised by {@link smSessionCodec}.
 */
export class SmSessionState {
  /** Namespace the session was enabled with (resumption must use the same). */
  readonly ns: SmNamespace;
  /** The SM-ID, when resumption was granted. */
  id: string | undefined;
  /** Resumption window in **seconds** (0 when not resumable). */
  timeoutSec: number;
  /** `h`: inbound stanzas handled since `<enable/>` (sm:3/sm:2, §4). */
  inbound = 0;
  /** Outbound stanzas sent or held and not yet acknowledged, with their original times. */
  queue: UnackedQueue<QueuedStanza>;
  /** The highest outbound count actually written to a stream (acks beyond it are too high). */
  writtenSeq = 0;
  /** The outbound count when our last `<r/>` was written. */
  lastRequestSeq = 0;
  /** sm:1: the last client `u` echoed (or echoable) — `<resumed h/>`. */
  lastHandledU: number | undefined;
  /** sm:1: our last `u` sent (kept strictly increasing). */
  lastSentU: number | undefined;
  /** Messages stored offline while hibernating past `maxQueue`, flushed after a resume. */
  spilledToOffline: Array<{ at: number; xml: string }> = [];
  phase: SmPhase;
  /** When the session started hibernating (epoch ms). */
  hibernatedAt: number | undefined;

  // ---- runtime (not serialised)
  /** The stream currently carrying SM (undefined while hibernating). */
  stream: XmlStream | undefined;
  /**
   * Orders every outbound send and the writing of `<enabled/>`/`<resumed/>` + retransmission.
   * Re-entrant (see {@link SerialLock}) unless the engine knows no send can nest inside another.
   */
  readonly lock: SerialLock;
  /** Serialises concurrent `<resume/>` attempts for this session (never nested; made on first use). */
  get resumeLock(): SerialLock {
    return (this._resumeLock ??= new SerialLock({ reentrant: false }));
  }
  private _resumeLock: SerialLock | undefined;
  readonly timers: SmTimers = {};
  /** Our outstanding `<r/>`: when it was written and the count it covers. */
  outstandingR: { at: number; seq: number } | undefined;
  /** When the quiet timer should request an ack (epoch ms). */
  quietDeadline = 0;
  /** Spill waits for the stream to be closed (late `<a/>` may still arrive). */
  pendingSpill = false;
  /** Spill done (exactly once). */
  spilled = false;
  /** A close for queue overflow was started. */
  overflowing = false;

  /**
   * @param ns the namespace SM was enabled with
   * @param opts SM-ID, resumption window (**seconds**), initial acknowledged count, phase, and
   *   whether {@link lock} must be re-entrant (default true)
   */
  constructor(
    ns: SmNamespace,
    opts: { id?: string; timeoutSec?: number; acked?: number; phase?: SmPhase; reentrantLock?: boolean } = {},
  ) {
    this.lock = new SerialLock({ reentrant: opts.reentrantLock ?? true });
    this.ns = ns;
    this.id = opts.id;
    this.timeoutSec = opts.timeoutSec ?? 0;
    this.queue = new UnackedQueue<QueuedStanza>(opts.acked ?? 0);
    this.writtenSeq = this.queue.sent;
    this.lastRequestSeq = this.queue.sent;
    this.phase = opts.phase ?? 'enabling';
  }

  /** Resumption was granted (an SM-ID exists). */
  get resumable(): boolean {
    return this.id !== undefined;
  }

  /** Number of unacknowledged stanzas that were actually written. */
  get unackedWritten(): number {
    return Math.min(this.queue.length, distance32(this.queue.acked, this.writtenSeq));
  }

  /** Cancels every timer. */
  cancelTimers(): void {
    for (const k of Object.keys(this.timers) as (keyof SmTimers)[]) {
      this.timers[k]?.cancel();
      delete this.timers[k];
    }
  }

  /** Cancels the ack-request timers (quiet, delayed, timeout). */
  cancelAckTimers(): void {
    for (const k of ['quiet', 'ackDelayed', 'ackTimeout'] as const) {
      this.timers[k]?.cancel();
      delete this.timers[k];
    }
  }
}

/** An element as JSON: text nodes are strings; elements are `{ n: name, a: attrs, c: children }`. */
export type ElementJson = string | { n: string; a: Record<string, string>; c: ElementJson[] };

/** Serialises an element tree to {@link ElementJson} (no XML parser needed to read it back). */
export function elementToJson(el: Element): ElementJson {
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(el.attrs)) if (v !== undefined && v !== null) attrs[k] = String(v);
  return {
    n: el.name,
    a: attrs,
    c: el.children.map((c) => (typeof c === 'string' ? c : elementToJson(c as Element))),
  };
}

/** Rebuilds an element from {@link elementToJson} output. @throws Error on a malformed value */
export function elementFromJson(j: ElementJson): Element {
  if (typeof j === 'string' || !j || typeof j.n !== 'string') throw new Error('not an element');
  const el = new XmlElement(j.n, j.a);
  for (const c of j.c) {
    if (typeof c === 'string') el.children.push(c);
    else el.cnode(elementFromJson(c));
  }
  return el;
}

/** Serialised form of {@link SmSessionState} (version 1). */
export interface SmSessionJson {
  v: 1;
  ns: SmNamespace;
  id: string | null;
  timeoutSec: number;
  inbound: number;
  acked: number;
  queue: Array<{ stanza: ElementJson; at: number }>;
  writtenSeq: number;
  lastRequestSeq: number;
  lastHandledU: number | null;
  lastSentU: number | null;
  spilledToOffline: Array<{ xml: string; at: number }>;
  phase: SmPhase;
  hibernatedAt: number | null;
}

/**
 * Codec of {@link SmSessionKey}: stanzas are serialised as JSON element trees ({@link ElementJson}). A decoded state has no
 * stream, so an `enabling`/`attached`/`resuming` state decodes as `hibernating` (another node
 * picks the session up detached); timers are not serialised and must be re-armed by the owner.
 */
export const smSessionCodec: SlotCodec<SmSessionState> = {
  /** State → JSON (runtime fields left out). */
  encode(s: SmSessionState): JsonValue {
    const json: SmSessionJson = {
      v: 1,
      ns: s.ns,
      id: s.id ?? null,
      timeoutSec: s.timeoutSec,
      inbound: s.inbound,
      acked: s.queue.acked,
      queue: s.queue.toArray().map((q) => ({ stanza: elementToJson(q.stanza), at: q.at })),
      writtenSeq: s.writtenSeq,
      lastRequestSeq: s.lastRequestSeq,
      lastHandledU: s.lastHandledU ?? null,
      lastSentU: s.lastSentU ?? null,
      spilledToOffline: s.spilledToOffline.map((x) => ({ ...x })),
      phase: s.phase,
      hibernatedAt: s.hibernatedAt ?? null,
    };
    return json as unknown as JsonValue;
  },
  /**
   * JSON → state, detached (`hibernating`, including a `departed` state: it hibernates on the node
   * that decodes it) unless it had ended. @throws Error if not a v1 state
   */
  decode(raw: JsonValue): SmSessionState {
    const j = raw as unknown as SmSessionJson;
    if (!j || j.v !== 1 || !isSmNamespace(j.ns)) throw new Error('not a stream management session state (v1)');
    const phase: SmPhase = j.phase === 'ended' ? 'ended' : 'hibernating';
    const s = new SmSessionState(j.ns, {
      ...(j.id !== null ? { id: j.id } : {}),
      timeoutSec: j.timeoutSec,
      acked: j.acked,
      phase,
    });
    s.inbound = j.inbound;
    s.queue = UnackedQueue.from(
      j.acked,
      j.queue.map((q) => ({ stanza: elementFromJson(q.stanza), at: q.at })),
    );
    s.writtenSeq = j.writtenSeq;
    s.lastRequestSeq = j.lastRequestSeq;
    s.lastHandledU = j.lastHandledU ?? undefined;
    s.lastSentU = j.lastSentU ?? undefined;
    s.spilledToOffline = j.spilledToOffline.map((x) => ({ ...x }));
    s.hibernatedAt = j.hibernatedAt ?? undefined;
    return s;
  },
};

/** Session slot holding the {@link SmSessionState} (survives resumption). */
export const SmSessionKey = defineSessionKey<SmSessionState>('@strand/stream-management/session', smSessionCodec);

/**
 * Per-stream SM state: which SM session this connection carries and the inbound bookkeeping of
 * this connection.
 */
export class SmStreamBinding {
  /** Another stream took the session over (resumption): this one neither counts nor acks. */
  superseded = false;
  /** Our close handshake started (`onClosing`). */
  closing = false;
  /** The stream is closed (`onClosed`). */
  closed = false;
  /** The peer broke the protocol (e.g. `handled-count-too-high`): no more `<r/>`. */
  protocolFailure = false;
  /** Inbound stanzas that entered processing on this stream since SM started on it. */
  entered = 0;
  /** …and that finished processing. */
  finished = 0;
  /** sm:1 requests waiting until every stanza received before them is handled. */
  readonly pendingU: Array<{ u: number; threshold: number }> = [];

  constructor(
    readonly state: SmSessionState,
    readonly stream: XmlStream,
  ) {}

  /** True while this stream carries SM for its session. */
  get active(): boolean {
    return !this.superseded && this.state.phase !== 'ended';
  }
}

/** Stream slot holding the {@link SmStreamBinding}. */
export const SmStreamKey = defineStreamKey<SmStreamBinding>('@strand/stream-management/stream');

/** A deep copy of `stanza` (for offline storage, which may outlive the session). @internal */
export function queueCopy(stanza: Element): Element {
  return cloneElement(stanza);
}
