/**
 * Per-session probe rate limit (XEP-0318 §2: "Clients MUST NOT send presence probes to all
 * contacts that they think are offline after login").
 * @packageDocumentation
 */
import { inject, injectable } from 'inversify';
import { Clock, defineSessionKey, jsonCodec, type Clock as ClockT, type Session } from '@strand/core';
import { ProbeConfig, type ProbeConfig as ProbeConfigT } from './config.js';

/**
 * Times (epoch ms) of the probes a session sent within the current window. A session slot, so the
 * count survives stream resumption (XEP-0198): reconnecting does not reset the limit.
 */
export const ProbeTimes = defineSessionKey<number[]>('@strand/presence-probe/probe-times', jsonCodec<number[]>());

/** Outcome of {@link ProbeRateLimiterImpl.tryAcquire}. */
export type RateDecision = { allowed: true } | { allowed: false; /** ms until the next probe is allowed */ retryAfterMs: number };

/**
 * Sliding-window limit: a session may send `rateLimit.probes` probes within any `rateLimit.window`
 * seconds; a probe counts from the moment it was accepted until exactly one window later. Refused
 * probes do not count. Every session is limited, loopback connections included.
 */
@injectable()
export class ProbeRateLimiterImpl {
  constructor(
    @inject(ProbeConfig) private readonly config: ProbeConfigT,
    @inject(Clock) private readonly clock: ClockT,
  ) {}

  /** Counts one probe of `session` if the limit allows it. */
  tryAcquire(session: Session): RateDecision {
    const now = this.clock.now();
    const { rateLimitProbes: max, rateLimitWindowMs: windowMs } = this.config;
    const times = (session.slots.get(ProbeTimes) ?? []).filter((t) => t > now - windowMs && t <= now);
    if (times.length >= max) {
      session.slots.set(ProbeTimes, times);
      return { allowed: false, retryAfterMs: Math.max(1, times[0]! + windowMs - now) };
    }
    times.push(now);
    session.slots.set(ProbeTimes, times);
    return { allowed: true };
  }
}
