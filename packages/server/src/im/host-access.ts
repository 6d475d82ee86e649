/**
 * Lazy access to the host services the IM core uses (`SessionRegistryImpl`, `Router`).
 *
 * The host's `HookSet` collects every hook contribution from the container, and the session
 * registry (and through it the router) needs the `HookSet`. The IM core's contributions (roster
 * iq handler, presence and subscription stanza handlers, session listener) would therefore be a
 * circular dependency if they received the registry at construction; they get it on first use
 * instead, after the `HookSet` exists.
 */
import type { ResolutionContext } from 'inversify';
import { Router } from '@strand/core';
import { SessionRegistryImpl } from '../host/registry.js';

/** Host services resolved on first access. */
export interface ImHostServices {
  readonly registry: SessionRegistryImpl;
  readonly router: Router;
}
export const ImHostServices = Symbol.for('@strand/server/im/HostServices');

/** Builds {@link ImHostServices} on a resolution context (bind with `toDynamicValue`). */
export function lazyHostServices(ctx: ResolutionContext): ImHostServices {
  let registry: SessionRegistryImpl | undefined;
  let router: Router | undefined;
  return {
    get registry() {
      return (registry ??= ctx.get(SessionRegistryImpl));
    },
    get router() {
      return (router ??= ctx.get<Router>(Router));
    },
  };
}
