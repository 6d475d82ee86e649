import { describe, expect, it } from '@jest/globals';
import { TestHost, validatePluginConfig } from '@strand/testing';
import idleClose, {
  IdleCloseConfig,
  idleCloseConfigSchema,
  resolveIdleCloseConfig,
  type IdleCloseConfig as IdleCloseConfigT,
} from '../src/index.js';

describe('config', () => {
  it('defaults both limits to 0 (off) and rejects unknown keys and negative values with their path', () => {
    expect(idleCloseConfigSchema.parse({})).toEqual({ c2sIdle: 0, componentIdle: 0 });
    expect(() => validatePluginConfig(idleClose, { c2sIdel: 60 })).toThrow(/plugins\.@strand\/idle-close/);
    expect(() => validatePluginConfig(idleClose, { c2sIdle: -1 })).toThrow(/plugins\.@strand\/idle-close\.c2sIdle/);
    expect(() => validatePluginConfig(idleClose, { componentIdle: '60' })).toThrow(/plugins\.@strand\/idle-close\.componentIdle/);
    expect(() => validatePluginConfig(idleClose, { c2sIdle: Infinity })).toThrow(/c2sIdle/);
  });

  it('clamps non-zero limits into [1 s, 7 days] with a warning and keeps 0 as off', () => {
    const warnings: string[] = [];
    const c = resolveIdleCloseConfig({ c2sIdle: 3_600_000, componentIdle: 0.2 }, (m) => warnings.push(m));
    expect(c).toEqual({ c2sIdle: 604_800, componentIdle: 1 });
    expect(warnings).toEqual([
      'plugins.@strand/idle-close.c2sIdle: 3600000 is above the maximum 604800; using 604800',
      'plugins.@strand/idle-close.componentIdle: 0.2 is below the minimum 1; using 1',
    ]);
    const quiet: string[] = [];
    expect(resolveIdleCloseConfig({ c2sIdle: 3600, componentIdle: 0 }, (m) => quiet.push(m))).toEqual({ c2sIdle: 3600, componentIdle: 0 });
    expect(quiet).toEqual([]);
  });

  it('warns when the plugin is enabled with both limits off, or with a very short c2s limit', () => {
    const off: string[] = [];
    resolveIdleCloseConfig({ c2sIdle: 0, componentIdle: 0 }, (m) => off.push(m));
    expect(off).toEqual([expect.stringMatching(/both 0 \(off\): no stream will be closed/)]);
    const short: string[] = [];
    resolveIdleCloseConfig({ c2sIdle: 5, componentIdle: 0 }, (m) => short.push(m));
    expect(short).toEqual([expect.stringMatching(/c2sIdle: 5 s is shorter than the ping\/ack intervals/)]);
  });

  it('resolves the clamped config in the container, warning on the host logger', async () => {
    const host = await TestHost.create({ plugins: [[idleClose, { c2sIdle: 10_000_000 }]] });
    expect(host.get<IdleCloseConfigT>(IdleCloseConfig)).toEqual({ c2sIdle: 604_800, componentIdle: 0 });
    expect(host.logs.has('warn', 'c2sIdle: 10000000 is above the maximum 604800')).toBe(true);
  });
});
