/**
 * Configuration of `@strand/stream-management` (section `plugins."@strand/stream-management"`).
 *
 * The zod schema checks types, unknown keys and consistency between options (with the path of
 * the offending key); {@link resolveSmConfig} then clamps out-of-range values into their
 * documented range with a logged warning (core `clampOption`, Prosody-style). Durations are in
 * **seconds** as in XEP-0198, except `ackRequestQuietMs`.
 * @packageDocumentation
 */
import { clampOption } from '@strand/core';
import { z } from 'zod';

/** The config key and plugin name. */
export const PLUGIN_NAME = '@strand/stream-management';

/** Allowed ranges; values outside are clamped with a warning. */
export const SM_CONFIG_RANGES = {
  resumeTimeout: [10, 86_400],
  maxResumeTimeout: [10, 86_400],
  maxQueue: [10, 1_000_000],
  hardQueueLimit: [10, 10_000_000],
  ackRequestEvery: [1, 10_000],
  ackRequestQuietMs: [10, 60_000],
  ackTimeout: [5, 3_600],
  ackDelayed: [1, 3_600],
  failedHRetention: [0, 604_800],
  maxHibernatingPerUser: [1, 10_000],
  maxHibernatingTotal: [1, 10_000_000],
  resumeFailuresPerMinute: [0, 1_000_000],
} as const satisfies Record<string, readonly [number, number]>;

const seconds = (def: number) => z.number().finite().default(def);
const count = (def: number) => z.number().int().default(def);

/**
 * The plugin's config schema (zod, strict, with defaults).
 *
 * | key | default | unit | meaning |
 * |---|---|---|---|
 * | `resumeTimeout` | 300 | s | resumption window when the client sends no `max` (also the sm:1 feature `max`) |
 * | `maxResumeTimeout` | 900 | s | upper bound for a client's `max` |
 * | `maxQueue` | 1000 | stanzas | attached: request an ack past it; hibernating: messages past it go to offline storage |
 * | `hardQueueLimit` | 5000 | stanzas | end the session (`resource-constraint`) past it |
 * | `ackRequestEvery` | 5 | stanzas | send `<r/>` after this many stanzas since the last request |
 * | `ackRequestQuietMs` | 1000 | ms | send `<r/>` when stanzas are unacked and nothing was sent for this long |
 * | `ackTimeout` | 60 | s | an unanswered `<r/>` after this long means the transport is lost |
 * | `ackDelayed` | 30 | s | an unanswered `<r/>` after this long fires `SmEvents.onAckDelayed` |
 * | `failedHRetention` | 3600 | s | how long the final `h` of an ended session is kept for `<failed h/>` |
 * | `maxHibernatingPerUser` | 5 | sessions | hibernating sessions per account; past it the oldest ends like an expiry |
 * | `maxHibernatingTotal` | 10000 | sessions | hibernating sessions on this node; past it the oldest ends like an expiry |
 * | `resumeFailuresPerMinute` | 10 | attempts | failed `<resume/>` per source address (IPv6 /64) per sliding minute; then `<failed><policy-violation/>`; 0 = unlimited |
 * | `legacyDraftSm1` | false | — | also offer the 0.7 draft `urn:xmpp:sm:1` |
 * | `location` | — | — | `location` of `<enabled/>` (`host:port`) |
 */
export const smConfigSchema = z
  .object({
    resumeTimeout: seconds(300),
    maxResumeTimeout: seconds(900),
    maxQueue: count(1000),
    hardQueueLimit: count(5000),
    ackRequestEvery: count(5),
    ackRequestQuietMs: z.number().int().default(1000),
    ackTimeout: seconds(60),
    ackDelayed: seconds(30),
    failedHRetention: seconds(3600),
    maxHibernatingPerUser: count(5),
    maxHibernatingTotal: count(10_000),
    resumeFailuresPerMinute: count(10),
    legacyDraftSm1: z.boolean().default(false),
    location: z.string().min(1).max(1023).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.maxResumeTimeout < c.resumeTimeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxResumeTimeout'],
        message: `must be ≥ resumeTimeout (${c.resumeTimeout})`,
      });
    }
    if (c.hardQueueLimit < c.maxQueue) {
      ctx.addIssue({ code: 'custom', path: ['hardQueueLimit'], message: `must be ≥ maxQueue (${c.maxQueue})` });
    }
  });

/** The validated config section (schema output, before clamping). */
export type SmConfigInput = z.output<typeof smConfigSchema>;

/** The effective configuration the plugin runs with (after clamping). */
export interface SmConfig {
  /** Default resumption window, **seconds**. */
  readonly resumeTimeout: number;
  /** Largest resumption window a client may ask for with `max`, **seconds**. */
  readonly maxResumeTimeout: number;
  /** Soft queue limit, stanzas. */
  readonly maxQueue: number;
  /** Hard queue limit, stanzas. */
  readonly hardQueueLimit: number;
  /** Stanzas between ack requests. */
  readonly ackRequestEvery: number;
  /** Quiet delay before an ack request, **milliseconds**. */
  readonly ackRequestQuietMs: number;
  /** Ack timeout, **seconds**. */
  readonly ackTimeout: number;
  /** Ack-delayed event threshold, **seconds**. */
  readonly ackDelayed: number;
  /** Retention of the final `h` of ended sessions, **seconds**. */
  readonly failedHRetention: number;
  /** Hibernating sessions per account before the oldest is ended (like an expiry). */
  readonly maxHibernatingPerUser: number;
  /** Hibernating sessions on this node before the oldest is ended (like an expiry). */
  readonly maxHibernatingTotal: number;
  /** Failed `<resume/>` per source address within a sliding minute (0 = unlimited). */
  readonly resumeFailuresPerMinute: number;
  /** Offer `urn:xmpp:sm:1`. */
  readonly legacyDraftSm1: boolean;
  /** `location` of `<enabled/>`. */
  readonly location: string | undefined;
}
/** DI token of the effective {@link SmConfig}. */
export const SmConfig = Symbol.for('@strand/stream-management/SmConfig');

/**
 * Clamps every numeric option into {@link SM_CONFIG_RANGES}, warning with its path, and returns the
 * effective configuration. Clamping preserves the schema's consistency rules (both pairs share
 * monotone ranges); `resumeTimeout` is additionally capped at `maxResumeTimeout`.
 * @param warn receives one message per corrected option
 */
export function resolveSmConfig(input: SmConfigInput, warn: (msg: string) => void = () => undefined): SmConfig {
  const path = (k: string) => `plugins.${PLUGIN_NAME}.${k}`;
  const c = (k: keyof typeof SM_CONFIG_RANGES) => {
    const [min, max] = SM_CONFIG_RANGES[k];
    return clampOption(input[k], min, max, path(k), warn);
  };
  const maxResumeTimeout = c('maxResumeTimeout');
  const maxQueue = c('maxQueue');
  return {
    resumeTimeout: Math.min(c('resumeTimeout'), maxResumeTimeout),
    maxResumeTimeout,
    maxQueue,
    hardQueueLimit: Math.max(c('hardQueueLimit'), maxQueue),
    ackRequestEvery: c('ackRequestEvery'),
    ackRequestQuietMs: c('ackRequestQuietMs'),
    ackTimeout: c('ackTimeout'),
    ackDelayed: c('ackDelayed'),
    failedHRetention: c('failedHRetention'),
    maxHibernatingPerUser: c('maxHibernatingPerUser'),
    maxHibernatingTotal: c('maxHibernatingTotal'),
    resumeFailuresPerMinute: c('resumeFailuresPerMinute'),
    legacyDraftSm1: input.legacyDraftSm1,
    location: input.location,
  };
}
