/**
 * Configuration of `@strand/keepalive` (section `plugins."@strand/keepalive"` of the host config).
 *
 * The zod schema checks types, unknown keys and consistency (`maxInterval ≥ minInterval`, reported
 * with the path of `maxInterval`); {@link resolveKeepaliveConfig} then clamps out-of-range numbers
 * into {@link KEEPALIVE_CONFIG_RANGES} with a logged warning (core `clampOption`). Durations are in
 * **seconds**, as in XEP-0304.
 * @packageDocumentation
 */
import { clampOption } from '@strand/core';
import { z } from 'zod';
import { MAX_POSITIVE_SHORT } from './elements.js';

/** The package name, also the config key. */
export const PLUGIN_NAME = '@strand/keepalive';

/** Allowed ranges (inclusive); values outside are clamped with a warning. */
export const KEEPALIVE_CONFIG_RANGES = {
  /** XEP-0304 §8: intervals are positiveShort. */
  minInterval: [1, MAX_POSITIVE_SHORT],
  maxInterval: [1, MAX_POSITIVE_SHORT],
  /** 0 turns the default whitespace off. */
  defaultInterval: [0, MAX_POSITIVE_SHORT],
  /** XEP-0304 §3.2 "significantly longer than the negotiated value": at least twice. */
  silenceFactor: [2, 100],
  pingTimeout: [1, 3_600],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * The plugin's config schema (zod, strict, with defaults).
 *
 * | key | default | unit | meaning |
 * |---|---|---|---|
 * | `minInterval` | 60 | s | smallest interval a client may negotiate (advertised `min`) |
 * | `maxInterval` | 300 | s | largest interval a client may negotiate (advertised `max`); must be ≥ `minInterval` |
 * | `defaultInterval` | 120 | s | whitespace interval for streams that did not negotiate; 0 = off; never a reason to drop |
 * | `silenceFactor` | 3 | × | a *negotiated* stream silent for longer than `silenceFactor × interval` is a dead peer |
 * | `pingTimeout` | 30 | s | how long the XEP-0199 ping sent after a read timeout may stay unanswered |
 */
export const keepaliveConfigSchema = z
  .object({
    minInterval: z.number().int().default(60),
    maxInterval: z.number().int().default(300),
    defaultInterval: z.number().int().default(120),
    silenceFactor: z.number().finite().default(3),
    pingTimeout: z.number().finite().default(30),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.maxInterval < c.minInterval) {
      ctx.addIssue({ code: 'custom', path: ['maxInterval'], message: `must be ≥ minInterval (${c.minInterval})` });
    }
  });

/** The validated config section (schema output, before clamping). */
export type KeepaliveConfigInput = z.output<typeof keepaliveConfigSchema>;

/** The effective configuration the plugin runs with (after clamping). */
export interface KeepaliveConfig {
  /** Advertised and accepted minimum, **seconds**. */
  readonly minInterval: number;
  /** Advertised and accepted maximum, **seconds**. */
  readonly maxInterval: number;
  /** Whitespace interval for streams without a negotiated one, **seconds**; 0 = off. */
  readonly defaultInterval: number;
  /** Dead-peer silence limit of a negotiated stream, as a multiple of its interval. */
  readonly silenceFactor: number;
  /** Wait for the XEP-0199 pong, **milliseconds**. */
  readonly pingTimeoutMs: number;
}
/** DI token of the effective {@link KeepaliveConfig}. */
export const KeepaliveConfig = Symbol.for('@strand/keepalive/KeepaliveConfig');

/**
 * Clamps every numeric option into {@link KEEPALIVE_CONFIG_RANGES} (warning with its path, e.g.
 * `plugins.@strand/keepalive.minInterval: 0 is below the minimum 1; using 1`) and returns the
 * effective configuration. `minInterval ≤ maxInterval` survives clamping: both share one range.
 * @param warn receives one message per corrected option
 */
export function resolveKeepaliveConfig(
  input: KeepaliveConfigInput,
  warn: (msg: string) => void = () => undefined,
): KeepaliveConfig {
  const c = (k: keyof typeof KEEPALIVE_CONFIG_RANGES) => {
    const [min, max] = KEEPALIVE_CONFIG_RANGES[k];
    return clampOption(input[k], min, max, `plugins.${PLUGIN_NAME}.${k}`, warn);
  };
  return {
    minInterval: c('minInterval'),
    maxInterval: c('maxInterval'),
    defaultInterval: c('defaultInterval'),
    silenceFactor: c('silenceFactor'),
    pingTimeoutMs: c('pingTimeout') * 1000,
  };
}
