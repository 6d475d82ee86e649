/**
 * The configuration of a component host (`createComponentHost({ config })`): validated with zod,
 * unknown keys rejected with their path. Durations are in **seconds**, as in the server's config
 * file; the resolved {@link ComponentSettings} carry milliseconds in `…Ms` fields.
 * @packageDocumentation
 */
import { z } from 'zod';
import type { BackoffPolicy } from './backoff.js';

const seconds = () => z.number().finite().positive();

/** `timeouts`, seconds. */
export const ComponentTimeoutsSchema = z
  .object({
    /** TCP connect, stream header and handshake together must complete within this. */
    connect: seconds().default(10),
    /** How long a close waits for the server's `</stream:stream>` (RFC 6120 §4.4). */
    closeHandshake: seconds().default(5),
    /** Silence after which `StreamListener.onReadTimeout` runs; 0 = never. */
    read: z.number().finite().nonnegative().default(300),
  })
  .strict();

/** `keepalive`: whitespace keepalives sent by the component (RFC 6120 §4.6.1). */
export const ComponentKeepaliveSchema = z
  .object({
    /** A single space is written when nothing was written for this long; 0 = off. */
    interval: z.number().finite().nonnegative().default(60),
  })
  .strict();

/** `reconnect`: backoff after an established connection is lost; `false` = never reconnect. */
export const ComponentReconnectSchema = z
  .object({
    /** Delay before the first retry. */
    initialDelay: seconds().default(1),
    /** Upper bound of the delay. */
    maxDelay: seconds().default(60),
    /** Growth of the delay per failed attempt. */
    factor: z.number().finite().min(1).default(2),
    /** Share of each delay that is randomised (0–1). */
    jitter: z.number().finite().min(0).max(1).default(0.2),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.maxDelay < r.initialDelay) {
      ctx.addIssue({ code: 'custom', path: ['maxDelay'], message: `must be ≥ initialDelay (${r.initialDelay})` });
    }
  });

/** `identity`: the XEP-0030 identity the component's built-in disco#info answers with. */
export const ComponentIdentitySchema = z
  .object({
    category: z.string().min(1).default('component'),
    type: z.string().min(1).default('generic'),
    name: z.string().min(1).optional(),
  })
  .strict();

/** The whole component host configuration. */
export const componentConfigSchema = z
  .object({
    timeouts: ComponentTimeoutsSchema.prefault({}),
    keepalive: ComponentKeepaliveSchema.prefault({}),
    reconnect: z.union([z.literal(false), ComponentReconnectSchema]).default({
      initialDelay: 1,
      maxDelay: 60,
      factor: 2,
      jitter: 0.2,
    }),
    identity: ComponentIdentitySchema.prefault({}),
    /** Raw plugin sections by config key; each is validated by its plugin's own schema. */
    plugins: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** What `config` may contain (everything optional). */
export type ComponentHostConfigInput = z.input<typeof componentConfigSchema>;
/** The validated configuration. */
export type ComponentHostConfig = z.output<typeof componentConfigSchema>;

/** The effective settings of a component host (bound to {@link ComponentSettings}). */
export interface ComponentSettings {
  /** The component's domain (lower case), its JID. */
  readonly domain: string;
  /** `xmpp://host:port` of the server. */
  readonly service: string;
  readonly connectTimeoutMs: number;
  readonly closeHandshakeMs: number;
  /** 0 = no read-timeout listeners. */
  readonly readTimeoutMs: number;
  /** 0 = no whitespace keepalives. */
  readonly keepaliveIntervalMs: number;
  /** Undefined: no reconnection. */
  readonly reconnect: BackoffPolicy | undefined;
  readonly identity: { readonly category: string; readonly type: string; readonly name: string };
}
/** DI token of the {@link ComponentSettings}. */
export const ComponentSettings = Symbol.for('@strand/component/ComponentSettings');

/**
 * Validates a raw `config`.
 * @throws Error listing every problem with its path, e.g. `config.reconnect.maxDelay: must be ≥ …`
 */
export function parseComponentConfig(raw: unknown): ComponentHostConfig {
  const r = componentConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `config${i.path.length ? '.' + i.path.map(String).join('.') : ''}: ${i.message}`);
  throw new Error(`invalid component host configuration:\n  ${lines.join('\n  ')}`);
}

/** The {@link ComponentSettings} of a validated configuration. */
export function resolveComponentSettings(
  config: ComponentHostConfig,
  connection: { domain: string; service: string },
): ComponentSettings {
  const r = config.reconnect;
  return {
    domain: connection.domain.toLowerCase(),
    service: connection.service,
    connectTimeoutMs: Math.round(config.timeouts.connect * 1000),
    closeHandshakeMs: Math.round(config.timeouts.closeHandshake * 1000),
    readTimeoutMs: Math.round(config.timeouts.read * 1000),
    keepaliveIntervalMs: Math.round(config.keepalive.interval * 1000),
    reconnect:
      r === false
        ? undefined
        : {
            initialDelayMs: Math.round(r.initialDelay * 1000),
            maxDelayMs: Math.round(r.maxDelay * 1000),
            factor: r.factor,
            jitter: r.jitter,
          },
    identity: {
      category: config.identity.category,
      type: config.identity.type,
      name: config.identity.name ?? connection.domain.toLowerCase(),
    },
  };
}
