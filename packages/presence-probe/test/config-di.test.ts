/**
 * Config schema (strict, defaults, clamping with warnings), the plugin definition, hook wiring,
 * DI overrides through the concrete classes, and metrics.
 */
import { describe, expect, it } from '@jest/globals';
import { ContainerModule, injectable, injectFromBase } from 'inversify';
import { Priority, StanzaHandler, type JID } from '@strand/core';
import { TestHost } from '@strand/testing';
import presenceProbe, {
  ProbeAuthorizerImpl,
  ProbeConfig,
  ProbeResponderImpl,
  ProbeStanzaHandlerImpl,
  probeConfigSchema,
  resolveProbeConfig,
  type ProbeAnswer,
  type ProbeConfig as ProbeConfigT,
} from '../src/index.js';
import { makeHost, probe, setItem } from './helpers.js';

describe('configuration', () => {
  it('has documented defaults', () => {
    const input = probeConfigSchema.parse({});
    expect(input).toEqual({ rateLimit: { probes: 30, window: 60 }, answerForComponents: false, componentAnswerTimeout: 2 });
    expect(resolveProbeConfig(input)).toEqual({
      rateLimitProbes: 30,
      rateLimitWindowMs: 60_000,
      answerForComponents: false,
      componentAnswerTimeoutMs: 2000,
    });
    expect(probeConfigSchema.parse({ rateLimit: { probes: 5 } }).rateLimit).toEqual({ probes: 5, window: 60 });
  });

  it('rejects unknown keys and wrong types with the path', async () => {
    await expect(makeHost({ rateLimits: {} })).rejects.toThrow(/plugins\.@strand\/presence-probe/);
    await expect(makeHost({ rateLimit: { probes: 3, burst: 2 } })).rejects.toThrow(/plugins\.@strand\/presence-probe\.rateLimit/);
    await expect(makeHost({ rateLimit: { probes: 2.5 } })).rejects.toThrow(/plugins\.@strand\/presence-probe\.rateLimit\.probes/);
    await expect(makeHost({ answerForComponents: 'yes' })).rejects.toThrow(/answerForComponents/);
  });

  it('clamps out-of-range values with a logged warning', async () => {
    const host = await makeHost({ rateLimit: { probes: 0, window: 1e9 }, componentAnswerTimeout: 0 });
    const c = host.get<ProbeConfigT>(ProbeConfig);
    expect(c).toEqual({ rateLimitProbes: 1, rateLimitWindowMs: 86_400_000, answerForComponents: false, componentAnswerTimeoutMs: 100 });
    const warnings = host.logs.at('warn').map((e) => e.msg);
    expect(warnings).toEqual([
      'plugins.@strand/presence-probe.rateLimit.probes: 0 is below the minimum 1; using 1',
      'plugins.@strand/presence-probe.rateLimit.window: 1000000000 is above the maximum 86400; using 86400',
      'plugins.@strand/presence-probe.componentAnswerTimeout: 0 is below the minimum 0.1; using 0.1',
    ]);
  });
});

describe('plugin definition and wiring', () => {
  it('declares no disco feature (XEP-0318 defines none) and runs before the host IM handler', async () => {
    expect(presenceProbe.name).toBe('@strand/presence-probe');
    expect(presenceProbe.configKey).toBe('@strand/presence-probe');
    expect(presenceProbe.features).toBeUndefined();
    const host = await makeHost();
    const handlers = host.hooks.stanzaHandlers;
    expect(handlers[0]).toBeInstanceOf(ProbeStanzaHandlerImpl);
    expect(handlers.map((h) => h.priority)).toEqual([Priority.stanza.PRESENCE_PROBE, Priority.stanza.HOST_IM]);
  });

  it('lets an override module rebind the responder by its concrete class (README example)', async () => {
    // Exactly the README's example.
    @injectable() @injectFromBase() // inversify 8: a subclass needs injectFromBase to inherit the @inject parameters
    class NoUptime extends ProbeResponderImpl { override answerServer(): ProbeAnswer { return { outcome: 'server', stanzas: [] }; } }
    const host = await TestHost.create({
      plugins: [presenceProbe],
      overrides: [new ContainerModule(({ rebind }) => void rebind(ProbeResponderImpl).to(NoUptime).inSingletonScope())],
    });
    expect(host.container.getAll(StanzaHandler)).toHaveLength(2); // every contribution intact
    await setItem(host, 'bob', 'alice', 'from');
    const alice = await host.connect({ user: 'alice' });
    expect(await probe(alice, 'localhost')).toEqual([]);
    // Inherited behaviour still has its injected dependencies.
    expect((await probe(alice, 'bob@localhost')).map(String)).toEqual([
      `<presence from="bob@localhost" to="alice@localhost/r1" type="unavailable"/>`,
    ]);
  });

  it('lets an override module rebind the authorizer (e.g. an admin who may probe everyone)', async () => {
    @injectable()
    @injectFromBase()
    class AdminMaySeeAll extends ProbeAuthorizerImpl {
      override async isAuthorised(prober: JID, contact: string): Promise<boolean> {
        return prober.local === 'admin' || super.isAuthorised(prober, contact);
      }
    }
    const host = await TestHost.create({
      plugins: [presenceProbe],
      overrides: [new ContainerModule(({ rebind }) => void rebind(ProbeAuthorizerImpl).to(AdminMaySeeAll).inSingletonScope())],
    });
    await host.connect({ user: 'bob', resource: 'phone', available: true });
    const admin = await host.connect({ user: 'admin' });
    const carol = await host.connect({ user: 'carol' });
    expect((await probe(admin, 'bob@localhost')).map((s) => s.attrs.from)).toEqual(['bob@localhost/phone']);
    expect((await probe(carol, 'bob@localhost')).map((s) => s.attrs.type)).toEqual(['unavailable']);
  });
});

describe('metrics', () => {
  it('counts answers by outcome', async () => {
    const host = await makeHost();
    await setItem(host, 'bob', 'alice', 'from');
    const alice = await host.connect({ user: 'alice' });
    await probe(alice, 'bob@localhost'); // never
    await probe(alice, 'carol@localhost'); // hidden
    await probe(alice, 'localhost'); // server
    await host.connect({ user: 'bob', available: true });
    await probe(alice, 'bob@localhost'); // available
    const text = await host.metrics.expose();
    for (const outcome of ['never', 'hidden', 'server', 'available']) {
      expect(text).toContain(`strand_presence_probe_answers_total{outcome="${outcome}"} 1`);
    }
  });
});
