/**
 * Configuration of `@strand/idle-close` (section `plugins."@strand/idle-close"`).
 *
 * The zod schema checks types, signs and unknown keys (reported with their path);
 * {@link resolveIdleCloseConfig} then clamps a non-zero limit into {@link IDLE_CLOSE_RANGES} with a
 * logged warning (core `clampOption`, Prosody-style). Durations are in **seconds**; `0` = off.
 *
 * | key | default | unit | meaning |
 * |---|---|---|---|
 * | `c2sIdle` | 0 (off) | s | close an authenticated client stream whose peer sent no stanza for this long |
 * | `componentIdle` | 0 (off) | s | close a component stream (XEP-0114) whose peer sent no stanza for this long |
 *
 * Why both are off by default: RFC 6120 §4.6 treats an idle peer as healthy (dead and broken
 * connections are found by keepalives, pings and SM acks, §4.6.4), and the clients that sit idle
 * longest are mobile clients with XEP-0198/XEP-0352 that stay connected on purpose; closing them
 * costs a full reconnect, ends their resumable session and flaps their presence. An idle component
 * is normal too, and while it reconnects every stanza to its domain bounces. Closing idle streams
 * is therefore an operator's policy: the plugin never guesses a limit. See README.md.
 * @packageDocumentation
 */
import { clampOption } from '@strand/core';
import { z } from 'zod';

/** The plugin name and config key. */
export const PLUGIN_NAME = '@strand/idle-close';

/**
 * Allowed range of a **non-zero** limit, in seconds; values outside are clamped with a warning.
 * The upper bound (7 days) mostly catches milliseconds written where seconds are expected.
 */
export const IDLE_CLOSE_RANGES = {
  c2sIdle: [1, 604_800],
  componentIdle: [1, 604_800],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * A c2s limit below this (seconds) is accepted but warned about: shorter than the ping/ack intervals
 * of common clients, so their sessions would end over and over.
 */
export const C2S_IDLE_WARN_BELOW = 60;

const idleSeconds = () => z.number().finite().nonnegative().default(0);

/** The plugin's config schema (zod, strict, with defaults). */
export const idleCloseConfigSchema = z
  .object({
    /** Seconds without an inbound stanza after which an authenticated c2s stream is closed; 0 = off. */
    c2sIdle: idleSeconds(),
    /** Seconds without an inbound stanza after which a component stream is closed; 0 = off. */
    componentIdle: idleSeconds(),
  })
  .strict();

/** The validated config section (schema output, before clamping). */
export type IdleCloseConfigInput = z.output<typeof idleCloseConfigSchema>;

/** The effective configuration (after clamping). `0` = off. */
export interface IdleCloseConfig {
  /** Idle limit of authenticated c2s streams, **seconds**. */
  readonly c2sIdle: number;
  /** Idle limit of component streams, **seconds**. */
  readonly componentIdle: number;
}
/** DI token of the effective {@link IdleCloseConfig}. */
export const IdleCloseConfig = Symbol.for('@strand/idle-close/IdleCloseConfig');

/**
 * Clamps each non-zero limit into {@link IDLE_CLOSE_RANGES}, warning with its path; `0` stays off.
 * Also warns when both limits are off (the plugin then closes nothing) and when `c2sIdle` is below
 * {@link C2S_IDLE_WARN_BELOW}.
 * @param warn receives one message per corrected or suspicious option
 */
export function resolveIdleCloseConfig(
  input: IdleCloseConfigInput,
  warn: (msg: string) => void = () => undefined,
): IdleCloseConfig {
  const path = (k: string) => `plugins.${PLUGIN_NAME}.${k}`;
  const c = (k: keyof typeof IDLE_CLOSE_RANGES): number => {
    const v = input[k];
    if (v === 0) return 0;
    const [min, max] = IDLE_CLOSE_RANGES[k];
    return clampOption(v, min, max, path(k), warn);
  };
  const config = { c2sIdle: c('c2sIdle'), componentIdle: c('componentIdle') };
  if (config.c2sIdle === 0 && config.componentIdle === 0) {
    warn(`${PLUGIN_NAME} is enabled but c2sIdle and componentIdle are both 0 (off): no stream will be closed for idleness`);
  } else if (config.c2sIdle > 0 && config.c2sIdle < C2S_IDLE_WARN_BELOW) {
    warn(
      `${path('c2sIdle')}: ${config.c2sIdle} s is shorter than the ping/ack intervals of common clients; ` +
        'their sessions will be closed over and over',
    );
  }
  return config;
}
