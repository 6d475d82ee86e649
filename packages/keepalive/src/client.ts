/**
 * Client-side XEP-0304 for `@xmpp/client` (0.14): read the advertised range, negotiate an
 * interval, and send whitespace keepalives at it. Typed structurally, so this package does not
 * depend on `@xmpp/client`.
 *
 * ```ts
 * import { client } from '@xmpp/client';
 * import { negotiateKeepalive, watchKeepaliveFeature } from '@strand/keepalive';
 * const xmpp = client({ service: 'xmpp://localhost:5222', username: 'alice', password: 'secret' });
 * const feature = watchKeepaliveFeature(xmpp); // before start()
 * await xmpp.start();
 * const ka = await negotiateKeepalive(xmpp, feature.range?.min ?? 60); // also starts our whitespace
 * // … later: ka.stop()
 * ```
 * @packageDocumentation
 */
import type { Element } from '@strand/core';
import { keepaliveIq, NS, parseKeepaliveFeature, type KeepaliveRange } from './elements.js';

/** The parts of an `@xmpp/client` `Client` the helpers use. */
export interface KeepaliveXmppClient {
  /** `online` once bound; whitespace is only written then. */
  readonly status?: string;
  iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
  /** Writes raw text on the socket (`Connection.write`). */
  write(data: string): Promise<void>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off?(event: string, listener: (...args: any[]) => void): unknown;
  removeListener?(event: string, listener: (...args: any[]) => void): unknown;
  streamFeatures?: {
    use(name: string, xmlns: string, handler: (ctx: any, next: () => any, feature: Element) => any): unknown;
  };
}

/** Timer functions (injectable for tests); default: the global ones. */
export interface ClientTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const defaultTimers: ClientTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.(); // never keeps a process alive
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** A running client-side whitespace sender. */
export interface WhitespaceSender {
  /** The interval, seconds. */
  readonly interval: number;
  /** Spaces written so far. */
  readonly sent: number;
  /** Stops sending (idempotent). */
  stop(): void;
}

/** What {@link negotiateKeepalive} agreed on. */
export interface NegotiatedKeepalive {
  /** The accepted interval, seconds. */
  readonly interval: number;
  /** Our whitespace sender, unless `whitespace: false` was given. */
  readonly sender: WhitespaceSender | undefined;
  /** Stops our whitespace sender. */
  stop(): void;
}

/** The advertised range as seen in the last `<stream:features/>`; see {@link watchKeepaliveFeature}. */
export interface KeepaliveFeatureWatch {
  /** The server's `[min, max]` in seconds, or undefined when it did not offer XEP-0304. */
  readonly range: KeepaliveRange | undefined;
}

/**
 * Records the server's `<keepalive/>` stream feature (XEP-0304 §3.1). Call it before
 * `xmpp.start()`. Accepts both the example form and the schema form of `min`/`max`.
 * @throws Error when the client has no `streamFeatures` (not an `@xmpp/client` client)
 */
export function watchKeepaliveFeature(xmpp: KeepaliveXmppClient): KeepaliveFeatureWatch {
  if (!xmpp.streamFeatures) throw new Error('watchKeepaliveFeature: the client has no streamFeatures middleware');
  let range: KeepaliveRange | undefined;
  xmpp.streamFeatures.use('keepalive', NS, (_ctx, next, feature) => {
    range = parseKeepaliveFeature(feature);
    return next();
  });
  return {
    get range() {
      return range;
    },
  };
}

/**
 * Sends a space whenever the client has written nothing for `seconds` (XEP-0304 §3.2: "both the
 * server and the client send whitespace keepalives at the interval"). Elements sent through the
 * client (its `send` event) reset the timer. One timer, re-armed only when it fires; `unref`'d.
 * Spaces are written only while `xmpp.status` is `online`; write errors are ignored (the
 * connection is going away).
 */
export function startWhitespaceKeepalive(
  xmpp: KeepaliveXmppClient,
  seconds: number,
  timers: ClientTimers = defaultTimers,
): WhitespaceSender {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`interval must be a positive integer, got ${seconds}`);
  const intervalMs = seconds * 1000;
  let lastWrite = timers.now();
  let sent = 0;
  let stopped = false;
  let handle: unknown;
  const onSend = () => {
    lastWrite = timers.now();
  };
  xmpp.on('send', onSend);
  const arm = (ms: number) => {
    handle = timers.setTimeout(tick, Math.max(0, ms));
  };
  function tick(): void {
    if (stopped) return;
    const idle = timers.now() - lastWrite;
    if (idle < intervalMs) {
      arm(intervalMs - idle);
      return;
    }
    if (xmpp.status === undefined || xmpp.status === 'online') {
      lastWrite = timers.now();
      sent++;
      xmpp.write(' ').catch(() => undefined);
    }
    arm(intervalMs);
  }
  arm(intervalMs);
  return {
    interval: seconds,
    get sent() {
      return sent;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      timers.clearTimeout(handle);
      (xmpp.off ?? xmpp.removeListener)?.call(xmpp, 'send', onSend);
    },
  };
}

/** Options of {@link negotiateKeepalive}. */
export interface NegotiateOptions {
  /** Start our own whitespace sender at the agreed interval (default true). */
  whitespace?: boolean;
  /** iq timeout, **ms** (default: iqCaller's 30 s). */
  timeoutMs?: number;
  /** Timers of the whitespace sender (tests). */
  timers?: ClientTimers;
}

/**
 * Negotiates `seconds` with the server (XEP-0304 §3.2): sends
 * `<iq type='set'><keepalive xmlns='urn:xmpp:keepalive:0'><interval>seconds</interval></keepalive></iq>`
 * and, on success, starts the client's whitespace sender at that interval. Call it once online;
 * call it again to renegotiate (stop the previous sender first). The server keeps the interval
 * across stream resumption, so do not renegotiate after a resume.
 * @throws the iqCaller's StanzaError (`condition` `not-acceptable` for an interval the server
 *   refuses, `bad-request`, `service-unavailable` where XEP-0304 is not offered) or a timeout
 */
export async function negotiateKeepalive(
  xmpp: KeepaliveXmppClient,
  seconds: number,
  options: NegotiateOptions = {},
): Promise<NegotiatedKeepalive> {
  if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`interval must be a positive integer, got ${seconds}`);
  await xmpp.iqCaller.request(keepaliveIq(seconds), options.timeoutMs);
  const sender = options.whitespace === false ? undefined : startWhitespaceKeepalive(xmpp, seconds, options.timers);
  return {
    interval: seconds,
    sender,
    stop: () => sender?.stop(),
  };
}
