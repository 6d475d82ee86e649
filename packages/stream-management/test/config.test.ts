import { describe, expect, it } from '@jest/globals';
import { SM_CONFIG_RANGES, resolveSmConfig, smConfigSchema } from '../src/config.js';
import sm, { SmConfig, type SmConfig as SmConfigT } from '../src/index.js';
import { smHost } from './helpers.js';

describe('config schema', () => {
  it('has the documented defaults', () => {
    expect(smConfigSchema.parse({})).toEqual({
      resumeTimeout: 300,
      maxResumeTimeout: 900,
      maxQueue: 1000,
      hardQueueLimit: 5000,
      ackRequestEvery: 5,
      ackRequestQuietMs: 1000,
      ackTimeout: 60,
      ackDelayed: 30,
      failedHRetention: 3600,
      maxHibernatingPerUser: 5,
      maxHibernatingTotal: 10000,
      resumeFailuresPerMinute: 10,
      legacyDraftSm1: false,
    });
  });

  it('rejects unknown keys (strict) and wrong types', () => {
    expect(smConfigSchema.safeParse({ resumeTimeOut: 5 }).success).toBe(false);
    expect(smConfigSchema.safeParse({ maxQueue: '10' }).success).toBe(false);
    expect(smConfigSchema.safeParse({ maxQueue: 10.5 }).success).toBe(false);
    expect(smConfigSchema.safeParse({ legacyDraftSm1: 'yes' }).success).toBe(false);
  });

  it('rejects maxResumeTimeout < resumeTimeout and hardQueueLimit < maxQueue with the path', () => {
    const r = smConfigSchema.safeParse({ resumeTimeout: 600, maxResumeTimeout: 300, maxQueue: 100, hardQueueLimit: 50 });
    expect(r.success).toBe(false);
    const issues = r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(['maxResumeTimeout: must be ≥ resumeTimeout (600)', 'hardQueueLimit: must be ≥ maxQueue (100)']);
  });

  it('reports the full path through the host loader', async () => {
    await expect(smHost({ resumeTimeout: 600, maxResumeTimeout: 300 })).rejects.toThrow(
      'plugins.@strand/stream-management.maxResumeTimeout: must be ≥ resumeTimeout (600)',
    );
  });

  it('clamps out-of-range values with a warning naming the path', () => {
    const warnings: string[] = [];
    const cfg = resolveSmConfig(smConfigSchema.parse({ resumeTimeout: 1, maxResumeTimeout: 10_000_000, ackRequestEvery: 0, ackTimeout: 1 }), (m) => warnings.push(m));
    expect(cfg.resumeTimeout).toBe(SM_CONFIG_RANGES.resumeTimeout[0]);
    expect(cfg.maxResumeTimeout).toBe(SM_CONFIG_RANGES.maxResumeTimeout[1]);
    expect(cfg.ackRequestEvery).toBe(1);
    expect(cfg.ackTimeout).toBe(5);
    expect(warnings).toEqual([
      'plugins.@strand/stream-management.maxResumeTimeout: 10000000 is above the maximum 86400; using 86400',
      'plugins.@strand/stream-management.resumeTimeout: 1 is below the minimum 10; using 10',
      'plugins.@strand/stream-management.ackRequestEvery: 0 is below the minimum 1; using 1',
      'plugins.@strand/stream-management.ackTimeout: 1 is below the minimum 5; using 5',
    ]);
  });

  it('logs the clamping on the host logger when the plugin is loaded', async () => {
    const host = await smHost({ maxQueue: 5, hardQueueLimit: 5 });
    const cfg = host.get<SmConfigT>(SmConfig);
    expect(cfg.maxQueue).toBe(10);
    expect(cfg.hardQueueLimit).toBe(10);
    expect(host.logs.has('warn', 'plugins.@strand/stream-management.maxQueue: 5 is below the minimum 10; using 10')).toBe(true);
  });

  it('is the plugin definition of the package', () => {
    expect(sm.name).toBe('@strand/stream-management');
    expect(sm.configKey).toBe('@strand/stream-management');
    expect(sm.configSchema).toBe(smConfigSchema);
  });
});
