/**
 * Plugin definition: what a plugin package default-exports.
 */
import type { ContainerModule } from 'inversify';
import type { z } from 'zod';

/** A Strand plugin: a config schema and a DI module built from the validated config. */
export interface PluginDefinition<S extends z.ZodType = z.ZodType> {
  /** npm package name, e.g. `@strand/keepalive`. */
  readonly name: string;
  /** Key of the plugin's section under `plugins:` in the host config (usually `name`). */
  readonly configKey: string;
  /** zod schema with defaults; unknown keys should be rejected (`.strict()`). */
  readonly configSchema: S;
  /** Disco#info features this plugin contributes to the server's JID (XEP-0030). */
  readonly features?: readonly string[];
  /** Builds the container module from the validated config section. */
  module(config: z.output<S>): ContainerModule;
}

/** Identity helper that gives plugin definitions their types. */
export function definePlugin<S extends z.ZodType>(def: PluginDefinition<S>): PluginDefinition<S> {
  return def;
}

/**
 * Clamps a numeric option into `[min, max]`, calling `warn` with the option's path when it had to
 * (Prosody-style: out-of-range options are corrected with a logged warning, not fatal).
 */
export function clampOption(
  value: number,
  min: number,
  max: number,
  path: string,
  warn: (msg: string) => void,
): number {
  if (value < min) {
    warn(`${path}: ${value} is below the minimum ${min}; using ${min}`);
    return min;
  }
  if (value > max) {
    warn(`${path}: ${value} is above the maximum ${max}; using ${max}`);
    return max;
  }
  return value;
}
