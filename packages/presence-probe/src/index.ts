/**
 * `@strand/presence-probe` — XEP-0318 client-initiated presence probes for Strand: the last
 * presence of contacts with XEP-0203 delays, the server's uptime, and a per-session rate limit.
 * See README.md for the behaviour, the deliberate departure from RFC 6121 §4.3.2 and the config.
 *
 * ```ts
 * import presenceProbe from '@strand/presence-probe';
 * // host config: plugins: { "@strand/presence-probe": { rateLimit: { probes: 30, window: 60 } } }
 * ```
 * @packageDocumentation
 */
import { definePlugin } from '@strand/core';
import { PLUGIN_NAME, probeConfigSchema } from './config.js';
import { presenceProbeModule } from './module.js';

export * from './config.js';
export * from './elements.js';
export * from './rate-limit.js';
export * from './authorizer.js';
export * from './responder.js';
export * from './components.js';
export * from './metrics.js';
export * from './handler.js';
export * from './module.js';

/**
 * The plugin definition: config key `@strand/presence-probe`, schema {@link probeConfigSchema},
 * module {@link presenceProbeModule}. No disco feature: XEP-0318 defines none (it is a best
 * practice on plain RFC 6121 probes).
 */
const presenceProbe = definePlugin({
  name: PLUGIN_NAME,
  configKey: PLUGIN_NAME,
  configSchema: probeConfigSchema,
  module: (config) => presenceProbeModule(config),
});

export default presenceProbe;
