/**
 * `@strand/stream-management` — XEP-0198 stream management for Strand: stanza acknowledgements
 * and stream resumption (`urn:xmpp:sm:3`, `urn:xmpp:sm:2`, and optionally the 0.7 draft
 * `urn:xmpp:sm:1`). See README.md for the configuration, the delivery promise and the sm:1 mapping.
 *
 * ```ts
 * import streamManagement from '@strand/stream-management';
 * // host config: plugins: { "@strand/stream-management": { resumeTimeout: 300 } }
 * ```
 * @packageDocumentation
 */
import { definePlugin } from '@strand/core';
import { PLUGIN_NAME, smConfigSchema } from './config.js';
import { streamManagementModule } from './module.js';

export * from './namespaces.js';
export * from './counters.js';
export * from './unacked-queue.js';
export * from './sm-id.js';
export * from './feature.js';
export * from './enable.js';
export * from './acks.js';
export * from './resumption.js';
export * from './errors.js';
export * from './legacy-sm1.js';
export * from './config.js';
export * from './serial-lock.js';
export * from './sm-session.js';
export * from './sm-id-registry.js';
export * from './events.js';
export * from './metrics.js';
export * from './stream-manager.js';
export * from './contributions.js';
export * from './module.js';

/**
 * The plugin definition: config key `@strand/stream-management`, schema {@link smConfigSchema},
 * module {@link streamManagementModule}.
 */
const streamManagement = definePlugin({
  name: PLUGIN_NAME,
  configKey: PLUGIN_NAME,
  configSchema: smConfigSchema,
  module: (config) => streamManagementModule(config),
});

/** The plugin definition (default export). */
export default streamManagement;
