/**
 * `@strand/idle-close` — closes idle XMPP streams with the RFC 6120 §4.4 / XEP-0190 close
 * handshake (no stream error, no data loss), and offers {@link SessionCloser} so that other modules
 * close sessions the same way. See README.md for the behaviour, the configuration and overrides.
 *
 * ```ts
 * import idleClose from '@strand/idle-close';
 * // host config: plugins: { "@strand/idle-close": { c2sIdle: 3600 } }
 * ```
 * @packageDocumentation
 */
import { definePlugin } from '@strand/core';
import { PLUGIN_NAME, idleCloseConfigSchema } from './config.js';
import { idleCloseModule } from './module.js';

export * from './config.js';
export * from './metrics.js';
export * from './activity.js';
export * from './session-closer.js';
export * from './sweep.js';
export * from './module.js';

/**
 * The plugin definition: config key `@strand/idle-close`, schema {@link idleCloseConfigSchema},
 * module {@link idleCloseModule}.
 */
const idleClose = definePlugin({
  name: PLUGIN_NAME,
  configKey: PLUGIN_NAME,
  configSchema: idleCloseConfigSchema,
  module: (config) => idleCloseModule(config),
});

export default idleClose;
