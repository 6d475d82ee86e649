/**
 * Which keepalive rules apply to a stream: the negotiated interval (XEP-0304) or the default one.
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { defineSessionKey, jsonCodec, type XmlStream } from '@strand/core';
import { KeepaliveConfig, type KeepaliveConfig as KeepaliveConfigT } from './config.js';

/**
 * The interval (seconds) negotiated by the session's client (XEP-0304 §3.2). A session slot, so it
 * survives stream resumption (XEP-0304 §4 note 1) and can be serialised with the session.
 */
export const KeepaliveInterval = defineSessionKey<number>('@strand/keepalive/interval', jsonCodec<number>());

/** The keepalive rules for one stream at one moment. */
export interface KeepalivePolicy {
  /** True when the interval was negotiated with XEP-0304 (then silence can mean a dead peer). */
  readonly negotiated: boolean;
  /** Write silence after which a keepalive is sent, **ms**; 0 = none. */
  readonly keepaliveAfterMs: number;
  /**
   * Read silence *longer* than this means a dead peer, **ms**; undefined = silence alone never
   * drops the stream (only an unanswered probe does).
   */
  readonly silenceLimitMs: number | undefined;
}

/**
 * Computes the {@link KeepalivePolicy} of a stream. Rebind it (by this class) to vary the rules,
 * e.g. per account or per network.
 */
@injectable()
export class KeepalivePolicyImpl {
  constructor(@inject(KeepaliveConfig) protected readonly config: KeepaliveConfigT) {}

  /** The rules for `stream` now (reads the negotiated interval from its session, if any). */
  of(stream: XmlStream): KeepalivePolicy {
    const negotiated = stream.session?.slots.get(KeepaliveInterval);
    if (typeof negotiated === 'number' && negotiated > 0) {
      const ms = negotiated * 1000;
      return { negotiated: true, keepaliveAfterMs: ms, silenceLimitMs: ms * this.config.silenceFactor };
    }
    return { negotiated: false, keepaliveAfterMs: this.config.defaultInterval * 1000, silenceLimitMs: undefined };
  }
}
