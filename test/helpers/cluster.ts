/**
 * Cluster test harness: a private Redis and a private PostgreSQL (Debian packages, loopback, stopped
 * by PID), and in-process Strand nodes joined to them, each on its own ephemeral ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginDefinition } from '@strand/core';
import type { ServerConfig } from '@strand/server';
import idleClose from '@strand/idle-close';
import keepalive from '@strand/keepalive';
import presenceProbe from '@strand/presence-probe';
import streamManagement from '@strand/stream-management';
import { startPostgres, type Postgres } from './postgres.js';
import { startRedis, type RedisInstance } from './redis.js';
import { startServer, type RunningServer } from './server.js';

/** The four plugin packages, unchanged: every test node loads them. */
export const CLUSTER_PLUGINS: Record<string, PluginDefinition> = {
  '@strand/stream-management': streamManagement,
  '@strand/presence-probe': presenceProbe,
  '@strand/keepalive': keepalive,
  '@strand/idle-close': idleClose,
};

/** Backing services of a test cluster. */
export interface ClusterEnv {
  redis: RedisInstance;
  postgres: Postgres;
  /** The shared storage section every node uses. */
  storage: ServerConfig['storage'];
  /** Temp directory (node configuration files). */
  dir: string;
  /** Unique Redis key prefix of this cluster. */
  keyPrefix: string;
  stop(): Promise<void>;
}

let clusters = 0;

/** Starts Redis and PostgreSQL (a fresh database) for one test cluster. */
export async function startClusterEnv(): Promise<ClusterEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'strand-cluster-'));
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const url = await postgres.createDatabase();
  return {
    redis,
    postgres,
    storage: { kind: 'postgres', url, poolSize: 4 },
    dir,
    keyPrefix: `test${++clusters}`,
    async stop() {
      await Promise.all([redis.stop(), postgres.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Options of one test node. */
export interface NodeOptions {
  /** `cluster.heartbeatTtl`, seconds (default 3: short, with a 1 s margin for a busy test machine). */
  heartbeatTtl?: number;
  /** `cluster.handoverTimeout`, seconds (default 3). */
  handoverTimeout?: number;
  /** Plugin config sections (default: SM with a 60 s window, presence-probe defaults). */
  plugins?: Record<string, unknown>;
  overrides?: Partial<ServerConfig>;
}

/** Starts an in-process node `nodeId` of the cluster. */
export function startNode(env: ClusterEnv, nodeId: string, options: NodeOptions = {}): Promise<RunningServer> {
  return startServer(
    {
      storage: env.storage,
      cluster: {
        redis: env.redis.url,
        nodeId,
        heartbeatTtl: options.heartbeatTtl ?? 3,
        handoverTimeout: options.handoverTimeout ?? 3,
        keyPrefix: env.keyPrefix,
        inboxMaxLen: 100_000,
      },
      plugins: options.plugins ?? {
        '@strand/stream-management': { resumeTimeout: 60 },
        '@strand/presence-probe': {},
        '@strand/keepalive': {},
        '@strand/idle-close': {},
      },
      ...options.overrides,
    },
    { plugins: CLUSTER_PLUGINS },
  );
}

/** Starts one node per id and resolves once every node sees all of them alive. */
export async function startNodes(env: ClusterEnv, ids: string[], options: NodeOptions = {}): Promise<RunningServer[]> {
  const nodes: RunningServer[] = [];
  for (const id of ids) nodes.push(await startNode(env, id, options));
  const deadline = Date.now() + 5000;
  while (!nodes.every((n) => n.server.cluster!.liveNodes.length === ids.length)) {
    if (Date.now() > deadline) throw new Error(`nodes ${ids.join(', ')} did not see each other`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return nodes;
}
