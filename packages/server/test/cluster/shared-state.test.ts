/**
 * `SharedState` conformance: core's single-node `MemorySharedStateImpl` and the cluster's
 * Redis-backed implementation (a real `redis-server`) keep JSON values with a time to live.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { MemorySessionHandoverImpl, MemorySharedStateImpl, type Clock, type Session, type SharedState } from '@strand/core';
import { RedisClusterImpl, type ClusterHost } from '../../src/cluster/redis-cluster.js';
import { startRedis, type RedisInstance } from '../../../../test/helpers/redis.js';

/** A clock the test moves by hand (no real sleeps). */
function manualClock(): Clock & { advance(ms: number): void } {
  let now = 1_700_000_000_000;
  return { now: () => now, advance: (ms) => void (now += ms) } as Clock & { advance(ms: number): void };
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } } as never;
const noTimers = { setTimeout: () => ({ cancel() {}, active: false }), setInterval: () => ({ cancel() {}, active: false }) } as never;

function conformance(name: string, open: () => SharedState) {
  describe(`SharedState conformance: ${name}`, () => {
    it('stores JSON values and deletes them', async () => {
      const s = open();
      await s.set('k1', { a: [1, 'two', null, true] }, 60_000);
      expect(await s.get('k1')).toEqual({ a: [1, 'two', null, true] });
      await s.set('k1', 7, 60_000); // replaced
      expect(await s.get('k1')).toBe(7);
      await s.delete('k1');
      expect(await s.get('k1')).toBeUndefined();
      expect(await s.get('never-set')).toBeUndefined();
    });
    it('refuses a non-positive time to live', async () => {
      const s = open();
      await expect(s.set('k2', 1, 0)).rejects.toThrow(RangeError);
      await expect(s.set('k2', 1, -5)).rejects.toThrow(RangeError);
      expect(await s.get('k2')).toBeUndefined();
    });
  });
}

const clock = manualClock();
conformance('memory', () => new MemorySharedStateImpl(clock));

describe('MemorySharedStateImpl expiry', () => {
  it('forgets a value once its time to live has passed', async () => {
    const c = manualClock();
    const s = new MemorySharedStateImpl(c);
    await s.set('short', 'x', 1000);
    await s.set('long', 'y', 5000);
    c.advance(999);
    expect(await s.get('short')).toBe('x');
    c.advance(1);
    expect(await s.get('short')).toBeUndefined();
    expect(await s.get('long')).toBe('y');
  });
});

describe('MemorySessionHandoverImpl', () => {
  it('names sessions of this node; claim checks the account and never returns an ended session', async () => {
    const h = new MemorySessionHandoverImpl();
    const session = { state: 'active', jid: { bare: () => ({ toString: () => 'alice@localhost' }) } } as unknown as Session & { state: string };
    h.publish('sm-1', session);
    expect(h.lookup('sm-1')).toBe(session);
    expect(await h.claim('sm-1', 'alice@localhost')).toBe(session);
    expect(await h.claim('sm-1', 'mallory@localhost')).toBeUndefined();
    (session as { state: string }).state = 'ended';
    expect(h.lookup('sm-1')).toBeUndefined();
    expect(h.size).toBe(0);
  });
});

describe('RedisClusterImpl as SharedState (real redis-server)', () => {
  let redis: RedisInstance;
  let cluster: RedisClusterImpl;
  let probe: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    cluster = new RedisClusterImpl(
      { redis: redis.url, nodeId: 'n1', heartbeatTtl: 10, handoverTimeout: 5, keyPrefix: 'ss', inboxMaxLen: 1000 },
      silent,
      clock,
      noTimers,
    );
    const host = { registry: { all: () => [][Symbol.iterator]() }, router: {}, sessionLost: async () => undefined } as unknown as ClusterHost;
    await cluster.start(host);
    probe = new Redis(redis.url);
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
    probe?.disconnect();
    await redis?.stop();
  });

  conformance('redis', () => cluster);

  it('keeps values under the cluster key prefix with the requested expiry (PX)', async () => {
    await cluster.set('@strand/test/x', { h: 5 }, 60_000);
    expect(await probe.get('ss:kv:@strand/test/x')).toBe('{"h":5}');
    const pttl = await probe.pttl('ss:kv:@strand/test/x');
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('joined the cluster: its liveness key and node set entry exist, and are removed on stop', async () => {
    expect(await probe.sismember('ss:nodes', 'n1')).toBe(1);
    expect(await probe.pttl('ss:node:n1')).toBeGreaterThan(0);
  });
});
