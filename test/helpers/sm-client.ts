/**
 * Helpers of the `@xmpp/client` stream-management tests: a deterministic PRNG for reproducible
 * socket-loss points, and access to the client's socket and XEP-0198 state.
 */
import type { Client } from '@xmpp/client';

/** Deterministic PRNG (mulberry32) so a failure is reproducible from the seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The underlying Node socket of an @xmpp/client connection (wrappers expose it as `.socket`). */
export function rawSocket(xmpp: Client): { destroy(): void } {
  let s = (xmpp as unknown as { socket?: unknown }).socket as { socket?: unknown; destroy?: () => void } | undefined;
  while (s && typeof s.destroy !== 'function') s = s.socket as typeof s;
  if (!s) throw new Error('no socket');
  return s as { destroy(): void };
}

/** The XEP-0198 state of an `@xmpp/client` 0.14 client. */
export interface ClientSm {
  enabled: boolean;
  id: string;
  on(ev: string, fn: () => void): void;
  once(ev: string, fn: () => void): void;
}

/** The client's stream management plugin. */
export function smOf(xmpp: Client): ClientSm {
  return (xmpp as unknown as { streamManagement: ClientSm }).streamManagement;
}
