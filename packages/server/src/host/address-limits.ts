/**
 * Per-source-address limits of the host (see SECURITY.md): new connections per second and failed
 * SASL authentications per minute, with an allow-list (`limits.exemptAddresses`, loopback by
 * default). Addresses are accounted with core `addressKey` (IPv6 by /64).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { escapeXML } from '@xmpp/xml';
import {
  addressKey,
  addressMatcher,
  DEFAULT_EXEMPT_ADDRESSES,
  NS,
  SlidingWindowLimiter,
  streamError,
  type Clock,
} from '@strand/core';

/** The `limits.*` keys this class reads (defaults as in the config schema). */
export interface AddressLimitsConfig {
  exemptAddresses?: readonly string[] | undefined;
  /** 0 = unlimited. Default 20. */
  connectionsPerSecond?: number | undefined;
  /** 0 = unlimited. Default 10. */
  saslFailuresPerMinute?: number | undefined;
}

export class AddressLimits {
  /** True for addresses on the allow-list (no per-address limit applies). */
  readonly exempt: (address: string) => boolean;
  private readonly connections: SlidingWindowLimiter;
  private readonly saslFailures: SlidingWindowLimiter;

  constructor(
    config: AddressLimitsConfig,
    private readonly clock: Clock,
  ) {
    this.exempt = addressMatcher(config.exemptAddresses ?? DEFAULT_EXEMPT_ADDRESSES);
    this.connections = new SlidingWindowLimiter(config.connectionsPerSecond ?? 20, 1000);
    this.saslFailures = new SlidingWindowLimiter(config.saslFailuresPerMinute ?? 10, 60_000);
  }

  /**
   * Counts a new connection from `address`. @returns false when the address already opened
   * `connectionsPerSecond` connections within the last second (the refused one is not counted).
   */
  admitConnection(address: string | undefined): boolean {
    if (!address || this.exempt(address)) return true;
    return this.connections.tryAcquire(addressKey(address), this.clock.now());
  }

  /** True while `address` has `saslFailuresPerMinute` failed authentications within the last minute. */
  saslLocked(address: string): boolean {
    if (!address || this.exempt(address)) return false;
    return !this.saslFailures.allows(addressKey(address), this.clock.now());
  }

  /** Records a failed authentication (credentials refused) from `address`. */
  saslFailed(address: string): void {
    if (!address || this.exempt(address)) return;
    this.saslFailures.record(addressKey(address), this.clock.now());
  }

  /** Forgets addresses whose windows are empty (called periodically). */
  prune(): void {
    const now = this.clock.now();
    this.connections.prune(now);
    this.saslFailures.prune(now);
  }
}

/**
 * Refuses a connection before reading anything from it: writes our stream header with a
 * `<policy-violation/>` stream error and the close tag (RFC 6120 §4.9.1.2 allows an error right
 * after the header), half-closes, and destroys the socket after `closeMs` at the latest. Input is
 * discarded.
 */
export function refuseConnection(socket: Socket, options: { domain: string; kind: 'c2s' | 'component'; text: string; closeMs: number }): void {
  socket.on('error', () => undefined);
  const xmlns = options.kind === 'component' ? NS.COMPONENT_ACCEPT : NS.CLIENT;
  const id = randomBytes(16).toString('base64url');
  const version = options.kind === 'c2s' ? " version='1.0' xml:lang='en'" : '';
  const header = `<?xml version='1.0'?><stream:stream xmlns='${xmlns}' xmlns:stream='${NS.STREAM}' id='${id}' from='${escapeXML(options.domain)}'${version}>`;
  const error = streamError({ condition: 'policy-violation', text: options.text }).toString();
  socket.resume(); // discard whatever the peer sends
  socket.end(`${header}${error}</stream:stream>`);
  const timer = setTimeout(() => socket.destroy(), options.closeMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
