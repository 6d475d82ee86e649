/**
 * Reconnection delays: exponential backoff with full jitter, capped.
 * @packageDocumentation
 */

/** How the host reconnects after losing an established connection. Times in **milliseconds**. */
export interface BackoffPolicy {
  /** Delay before the first retry. */
  readonly initialDelayMs: number;
  /** Upper bound of any delay. */
  readonly maxDelayMs: number;
  /** Growth per failed attempt (≥ 1). */
  readonly factor: number;
  /**
   * Share of each delay that is randomised, 0–1: the delay is drawn uniformly from
   * `[d × (1 − jitter), d]`, so that many components restarted together do not reconnect in step.
   */
  readonly jitter: number;
}

/**
 * The delay before retry number `attempt` (1 = the first retry):
 * `min(maxDelay, initialDelay × factor^(attempt − 1))`, minus up to `jitter` of it.
 * @param random a number in [0, 1), `Math.random()` by default (tests pass a constant)
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(attempt));
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.factor, n - 1));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(base * (1 - jitter * random()));
}
