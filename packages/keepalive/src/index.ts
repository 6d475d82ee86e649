/**
 * `@strand/keepalive` — XEP-0304 whitespace keepalive negotiation, RFC 6120 §4.6 whitespace
 * keepalives and dead-peer detection (XEP-0199 ping after a read timeout) for Strand, plus a small
 * `@xmpp/client` helper. See README.md for the configuration and every interpretation of the XEP.
 *
 * ```ts
 * // host config: plugins: { "@strand/keepalive": { minInterval: 60, maxInterval: 300 } }
 * ```
 * @packageDocumentation
 */
import { definePlugin } from '@strand/core';
import { keepaliveConfigSchema, PLUGIN_NAME } from './config.js';
import { NS } from './elements.js';
import { keepaliveModule } from './module.js';

export * from './elements.js';
export * from './config.js';
export * from './priorities.js';
export * from './metrics.js';
export * from './deadline-wheel.js';
export * from './interval-policy.js';
export * from './whitespace.js';
export * from './dead-peer.js';
export * from './keepalive-scheduler.js';
export * from './negotiation.js';
export * from './listeners.js';
export * from './module.js';
export * from './client.js';

/**
 * The plugin definition: config key `@strand/keepalive`, schema {@link keepaliveConfigSchema},
 * disco feature `urn:xmpp:keepalive:0`, module {@link keepaliveModule}.
 */
const keepalive = definePlugin({
  name: PLUGIN_NAME,
  configKey: PLUGIN_NAME,
  configSchema: keepaliveConfigSchema,
  features: [NS],
  module: (config) => keepaliveModule(config),
});

export default keepalive;
