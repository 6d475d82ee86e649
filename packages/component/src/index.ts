/**
 * `@strand/component` — runs Strand plugins inside an XEP-0114 external component built on
 * `@xmpp/component`, so that the same plugin packages work in a component process as in the
 * reference server. See README.md.
 *
 * ```ts
 * import { createComponentHost } from '@strand/component';
 * import presenceProbe from '@strand/presence-probe';
 * const host = await createComponentHost({
 *   service: 'xmpp://127.0.0.1:5347', domain: 'component.localhost', password: 'secret',
 *   plugins: [presenceProbe],
 * });
 * await host.start();
 * ```
 * @packageDocumentation
 */
import 'reflect-metadata';

export {
  createComponentHost,
  ComponentHost,
  COMPONENT_HOST_VERSION,
  type ComponentHostOptions,
  type ComponentHostEvents,
  type ComponentHostStatus,
  type ComponentPluginEntry,
} from './host.js';
export {
  componentConfigSchema,
  parseComponentConfig,
  resolveComponentSettings,
  ComponentSettings,
  type ComponentHostConfig,
  type ComponentHostConfigInput,
} from './config.js';
export { backoffDelay, type BackoffPolicy } from './backoff.js';
export {
  ComponentError,
  ComponentAuthError,
  ComponentStreamError,
  ComponentConnectionError,
  FATAL_CONDITIONS,
} from './errors.js';
export { ComponentStreamImpl, type ComponentStreamOptions, type ComponentTransport } from './stream.js';
export { ComponentInboundImpl } from './inbound.js';
export { ComponentRouterImpl, NoSessionRegistryImpl, withinDomain } from './router.js';
export { ComponentDiscoInfoImpl, ComponentPingImpl, ComponentKeepaliveImpl, COMPONENT_BUILTIN_FEATURES } from './builtins.js';
export { ComponentHooks, ComponentHooksToken } from './hooks.js';
export { ComponentLink } from './link.js';
export type { XmppComponent } from './xmpp.js';
