/**
 * Whitespace keepalives (RFC 6120 §4.6.1, XEP-0304 §3.2): a space whenever the server has written
 * nothing for the interval. On WebSocket `XmlStream.sendKeepalive()` sends a ping frame instead.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import type { XmlStream } from '@strand/core';
import type { KeepalivePolicy } from './interval-policy.js';
import { KeepaliveMetricsImpl } from './metrics.js';

/**
 * Decides and sends keepalives. Stateless: every decision compares `stream.lastWriteAt` with the
 * policy's interval at check time, so any write (stanza, nonza, keepalive) resets the timer for free.
 */
@injectable()
export class WhitespaceKeepaliveImpl {
  constructor(@inject(KeepaliveMetricsImpl) private readonly metrics: KeepaliveMetricsImpl) {}

  /** When the next keepalive is due (epoch ms), or undefined when none is configured. */
  nextDue(stream: XmlStream, policy: KeepalivePolicy): number | undefined {
    return policy.keepaliveAfterMs > 0 ? stream.lastWriteAt + policy.keepaliveAfterMs : undefined;
  }

  /**
   * Sends a keepalive when the stream has written nothing for the interval.
   * @returns true when one was sent
   */
  check(stream: XmlStream, policy: KeepalivePolicy, now: number): boolean {
    if (policy.keepaliveAfterMs <= 0 || stream.state !== 'open') return false;
    if (now - stream.lastWriteAt < policy.keepaliveAfterMs) return false;
    stream.sendKeepalive();
    this.metrics.sent.inc({ mode: policy.negotiated ? 'negotiated' : 'default' });
    return true;
  }
}
