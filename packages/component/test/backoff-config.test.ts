/**
 * Pure parts: the reconnect backoff and the configuration (defaults, validation with paths).
 */
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { definePlugin } from '@strand/core';
import { ContainerModule } from 'inversify';
import { backoffDelay, createComponentHost, parseComponentConfig, resolveComponentSettings } from '../src/index.js';

describe('backoffDelay', () => {
  const policy = { initialDelayMs: 1000, maxDelayMs: 30_000, factor: 2, jitter: 0 };

  it('grows exponentially from the initial delay and is capped', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(policy, n))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  it('removes up to `jitter` of each delay, never more', () => {
    const p = { ...policy, jitter: 0.5 };
    expect(backoffDelay(p, 3, () => 0)).toBe(4000);
    expect(backoffDelay(p, 3, () => 0.999999)).toBe(2000);
    expect(backoffDelay(p, 3, () => 0.5)).toBe(3000);
  });

  it('treats attempts below 1 as the first', () => {
    expect(backoffDelay(policy, 0)).toBe(1000);
    expect(backoffDelay(policy, -3)).toBe(1000);
  });
});

describe('component host configuration', () => {
  it('has documented defaults (seconds in, milliseconds out)', () => {
    const settings = resolveComponentSettings(parseComponentConfig(undefined), { domain: 'Svc.Example', service: 'xmpp://h:5347' });
    expect(settings).toEqual({
      domain: 'svc.example',
      service: 'xmpp://h:5347',
      connectTimeoutMs: 10_000,
      closeHandshakeMs: 5_000,
      readTimeoutMs: 300_000,
      keepaliveIntervalMs: 60_000,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2, jitter: 0.2 },
      identity: { category: 'component', type: 'generic', name: 'svc.example' },
    });
  });

  it('reconnect: false disables reconnection; keepalive 0 disables keepalives', () => {
    const s = resolveComponentSettings(parseComponentConfig({ reconnect: false, keepalive: { interval: 0 } }), {
      domain: 'x',
      service: 's',
    });
    expect(s.reconnect).toBeUndefined();
    expect(s.keepaliveIntervalMs).toBe(0);
  });

  it('reports every problem with its path', () => {
    expect(() =>
      parseComponentConfig({ timeouts: { connect: -1 }, reconnect: { initialDelay: 10, maxDelay: 5 }, bogus: 1 }),
    ).toThrow(
      /config\.timeouts\.connect: .*\n.*config\.reconnect\.maxDelay: must be ≥ initialDelay \(10\)[\s\S]*config: Unrecognized key/,
    );
  });

  it('validates plugin sections with the plugin schema, naming the path', async () => {
    const plugin = definePlugin({
      name: '@example/p',
      configKey: '@example/p',
      configSchema: z.object({ n: z.number().int().min(1).default(1) }).strict(),
      module: () => new ContainerModule(() => undefined),
    });
    await expect(
      createComponentHost({ service: 'xmpp://127.0.0.1:1', domain: 'c.example', password: 'x', plugins: [[plugin, { n: 0 }]] }),
    ).rejects.toThrow(/plugins\.@example\/p\.n: /);
    await expect(
      createComponentHost({
        service: 'xmpp://127.0.0.1:1',
        domain: 'c.example',
        password: 'x',
        plugins: [plugin],
        config: { plugins: { '@example/p': { n: 'two' } } },
      }),
    ).rejects.toThrow(/plugins\.@example\/p\.n: /);
  });

  it('refuses a domain that is not a bare domain, and a missing secret', async () => {
    await expect(createComponentHost({ service: 'xmpp://h', domain: 'a@b', password: 'x' })).rejects.toThrow(/bare domain/);
    await expect(createComponentHost({ service: 'xmpp://h', domain: 'b', password: '' })).rejects.toThrow(/secret/);
  });
});
