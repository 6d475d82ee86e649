/**
 * Configuration: defaults, strictness, the min/max consistency rule with its path, clamping.
 */
import { describe, expect, it } from '@jest/globals';
import { validatePluginConfig } from '@strand/testing';
import { KeepaliveConfig, resolveKeepaliveConfig, type KeepaliveConfig as KeepaliveConfigT } from '../src/index.js';
import { hostWith, keepalive } from './helpers.js';

describe('config', () => {
  it('has documented defaults, in seconds', () => {
    expect(validatePluginConfig(keepalive, {})).toEqual({
      minInterval: 60,
      maxInterval: 300,
      defaultInterval: 120,
      silenceFactor: 3,
      pingTimeout: 30,
    });
    expect(validatePluginConfig(keepalive, undefined)).toMatchObject({ minInterval: 60 });
  });

  it('reports maxInterval < minInterval as a schema error with its path', () => {
    expect(() => validatePluginConfig(keepalive, { minInterval: 120, maxInterval: 60 })).toThrow(
      'plugins.@strand/keepalive.maxInterval: must be ≥ minInterval (120)',
    );
    expect(() => validatePluginConfig(keepalive, { maxInterval: 30 })).toThrow(
      'plugins.@strand/keepalive.maxInterval: must be ≥ minInterval (60)',
    );
  });

  it('rejects unknown keys and wrong types with their path', () => {
    expect(() => validatePluginConfig(keepalive, { interval: 60 })).toThrow(/plugins\.@strand\/keepalive.*interval/);
    expect(() => validatePluginConfig(keepalive, { minInterval: 1.5 })).toThrow(/plugins\.@strand\/keepalive\.minInterval/);
    expect(() => validatePluginConfig(keepalive, { pingTimeout: 'soon' })).toThrow(/plugins\.@strand\/keepalive\.pingTimeout/);
  });

  it('clamps out-of-range numbers with one logged warning each (core clampOption)', async () => {
    const host = await hostWith({ minInterval: 0, maxInterval: 70_000, defaultInterval: -1, silenceFactor: 1, pingTimeout: 99_999 });
    const cfg = host.get<KeepaliveConfigT>(KeepaliveConfig);
    expect(cfg).toEqual({ minInterval: 1, maxInterval: 65_535, defaultInterval: 0, silenceFactor: 2, pingTimeoutMs: 3_600_000 });
    const warnings = host.logs.at('warn').map((e) => e.msg);
    expect(warnings).toEqual(
      expect.arrayContaining([
        'plugins.@strand/keepalive.minInterval: 0 is below the minimum 1; using 1',
        'plugins.@strand/keepalive.maxInterval: 70000 is above the maximum 65535; using 65535',
        'plugins.@strand/keepalive.defaultInterval: -1 is below the minimum 0; using 0',
        'plugins.@strand/keepalive.silenceFactor: 1 is below the minimum 2; using 2',
        'plugins.@strand/keepalive.pingTimeout: 99999 is above the maximum 3600; using 3600',
      ]),
    );
    expect(warnings).toHaveLength(5);
    // The clamped range is what the feature advertises.
    const c = await host.connect();
    expect(c.features('post-auth')[0]!.toString()).toContain('<interval min="1" max="65535"/>');
  });

  it('resolveKeepaliveConfig keeps in-range values and converts pingTimeout to ms', () => {
    const warn: string[] = [];
    expect(
      resolveKeepaliveConfig({ minInterval: 5, maxInterval: 10, defaultInterval: 0, silenceFactor: 2.5, pingTimeout: 4 }, (m) => warn.push(m)),
    ).toEqual({ minInterval: 5, maxInterval: 10, defaultInterval: 0, silenceFactor: 2.5, pingTimeoutMs: 4000 });
    expect(warn).toEqual([]);
  });
});
