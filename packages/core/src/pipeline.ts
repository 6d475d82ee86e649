/**
 * Small helpers hosts use to run contributions in priority order. Shared by `@strand/server`,
 * `@strand/testing` and `@strand/component` so that every host orders hooks the same way.
 */
import type { Logger } from './services.js';

/** Anything with a numeric priority. */
export interface Prioritized {
  readonly priority: number;
}

/** Returns a copy sorted by descending priority (stable for equal priorities). */
export function byPriority<T extends Prioritized>(items: readonly T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => b.item.priority - a.item.priority || a.index - b.index)
    .map((x) => x.item);
}

/**
 * Composes interceptors into one function: `items[0]` (highest priority) is outermost.
 * @param call invokes one interceptor with the continuation
 * @param last the innermost step
 */
export function composeInterceptors<I, R>(
  items: readonly I[],
  call: (item: I, next: () => Promise<R>) => Promise<R>,
  last: () => Promise<R>,
): () => Promise<R> {
  let next = last;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    const inner = next;
    next = () => call(item, inner);
  }
  return next;
}

/** Name of a contribution for log lines: its class name. */
export function contributionName(item: unknown): string {
  const ctor = (item as { constructor?: { name?: string } } | null)?.constructor;
  return ctor?.name ?? 'anonymous';
}

/**
 * Calls `method` on every listener that has it, in the given order, awaiting each. A listener that
 * throws is logged (with its class name) and the others still run (fault isolation).
 */
export async function notifyAll<L extends object, K extends keyof L>(
  listeners: readonly L[],
  method: K,
  logger: Logger,
  ...args: NonNullable<L[K]> extends (...a: infer A) => unknown ? A : never
): Promise<void> {
  for (const l of listeners) {
    const fn = l[method] as unknown as ((...a: unknown[]) => unknown) | undefined;
    if (typeof fn !== 'function') continue;
    try {
      await fn.apply(l, args);
    } catch (err) {
      logger.error({ err, listener: contributionName(l), hook: String(method) }, 'listener failed');
    }
  }
}
