/**
 * Configuration of `@strand/presence-probe` (section `plugins."@strand/presence-probe"`).
 *
 * The zod schema checks types and rejects unknown keys (with the path of the offending key);
 * {@link resolveProbeConfig} then clamps out-of-range numbers into {@link PROBE_CONFIG_RANGES} with a
 * logged warning (core `clampOption`). Durations are in **seconds**, as everywhere in the host
 * configuration; the effective config carries milliseconds in `…Ms` fields.
 * @packageDocumentation
 */
import { clampOption } from '@strand/core';
import { z } from 'zod';

/** The plugin name and config key. */
export const PLUGIN_NAME = '@strand/presence-probe';

/** Defaults (also the documented values in README.md). */
export const PROBE_CONFIG_DEFAULTS = {
  rateLimit: { probes: 30, window: 60 },
  answerForComponents: false,
  componentAnswerTimeout: 2,
} as const;

/** Allowed ranges `[min, max]`; values outside are clamped with a warning. */
export const PROBE_CONFIG_RANGES = {
  /** Probes per window and session. */
  'rateLimit.probes': [1, 10_000],
  /** Window length, seconds (up to a day). */
  'rateLimit.window': [1, 86_400],
  /** Seconds a connected component gets to answer a probe itself. */
  componentAnswerTimeout: [0.1, 30],
} as const satisfies Record<string, readonly [number, number]>;

const rateLimitSchema = z
  .object({
    probes: z.number().int().default(PROBE_CONFIG_DEFAULTS.rateLimit.probes),
    window: z.number().finite().default(PROBE_CONFIG_DEFAULTS.rateLimit.window),
  })
  .strict();

/**
 * The plugin's config schema (zod, strict, with defaults).
 *
 * | key | default | unit | range | meaning |
 * |---|---|---|---|---|
 * | `rateLimit.probes` | 30 | probes | 1–10000 | probes one session may send per window; the next gets `policy-violation` |
 * | `rateLimit.window` | 60 | s | 1–86400 | length of the sliding window |
 * | `answerForComponents` | false | — | — | answer probes to a connected component's JID with its connect time when it does not answer itself |
 * | `componentAnswerTimeout` | 2 | s | 0.1–30 | how long a component gets to answer before the plugin does |
 */
export const probeConfigSchema = z
  .object({
    rateLimit: rateLimitSchema.default({ ...PROBE_CONFIG_DEFAULTS.rateLimit }),
    answerForComponents: z.boolean().default(PROBE_CONFIG_DEFAULTS.answerForComponents),
    componentAnswerTimeout: z.number().finite().default(PROBE_CONFIG_DEFAULTS.componentAnswerTimeout),
  })
  .strict();

/** The validated config section (schema output, before clamping). */
export type ProbeConfigInput = z.output<typeof probeConfigSchema>;

/** The effective configuration the plugin runs with (after clamping). */
export interface ProbeConfig {
  /** Probes allowed per session within {@link ProbeConfig.rateLimitWindowMs}. */
  readonly rateLimitProbes: number;
  /** Sliding window of the rate limit, **milliseconds**. */
  readonly rateLimitWindowMs: number;
  /** Answer for components that do not answer probes themselves. */
  readonly answerForComponents: boolean;
  /** How long a component gets to answer, **milliseconds**. */
  readonly componentAnswerTimeoutMs: number;
}
/** DI token of the effective {@link ProbeConfig}. */
export const ProbeConfig = Symbol.for('@strand/presence-probe/ProbeConfig');

/**
 * Clamps every numeric option into {@link PROBE_CONFIG_RANGES}, warning with its path (e.g.
 * `plugins.@strand/presence-probe.rateLimit.probes: 0 is below the minimum 1; using 1`), and
 * converts seconds to milliseconds.
 * @param warn receives one message per corrected option
 */
export function resolveProbeConfig(input: ProbeConfigInput, warn: (msg: string) => void = () => undefined): ProbeConfig {
  const clamp = (key: keyof typeof PROBE_CONFIG_RANGES, value: number) => {
    const [min, max] = PROBE_CONFIG_RANGES[key];
    return clampOption(value, min, max, `plugins.${PLUGIN_NAME}.${key}`, warn);
  };
  return {
    rateLimitProbes: clamp('rateLimit.probes', input.rateLimit.probes),
    rateLimitWindowMs: Math.round(clamp('rateLimit.window', input.rateLimit.window) * 1000),
    answerForComponents: input.answerForComponents,
    componentAnswerTimeoutMs: Math.round(clamp('componentAnswerTimeout', input.componentAnswerTimeout) * 1000),
  };
}
