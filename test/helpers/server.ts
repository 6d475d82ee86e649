/**
 * Starts an in-process Strand server on ephemeral loopback ports for a test, and stops it.
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { ContainerModule } from 'inversify';
import type { Logger, PluginDefinition } from '@strand/core';
import { StrandServer, type ServerConfig } from '@strand/server';

const certs = join(process.cwd(), 'test', '.certs');

/** A complete test configuration: memory storage, ports 0, the test CA's localhost certificate. */
export function testConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    domain: 'localhost',
    listen: { host: '127.0.0.1', c2s: 0, c2sTls: 0, http: 0, component: null },
    tls: { cert: join(certs, 'localhost.crt'), key: join(certs, 'localhost.key'), selfSigned: false },
    timeouts: { preAuth: 60, closeHandshake: 2, read: 300, stanza: 60 },
    limits: {
      maxStanzaBytes: 262144,
      maxDepth: 64,
      maxAttributes: 64,
      maxHeaderBytes: 4096,
      maxResourcesPerAccount: 10,
      offlinePerUser: 1000,
      maxSaslFailures: 3,
      // Loopback is exempt from the per-address limits, so tests and benchmarks are not throttled;
      // tests of those limits pass `exemptAddresses: []`.
      exemptAddresses: ['127.0.0.0/8', '::1'],
      connectionsPerSecond: 20,
      saslFailuresPerMinute: 10,
    },
    auth: { scramIterations: 4096, allowPlaintextOnLoopback: true, requireEncryption: true },
    storage: { kind: 'memory' },
    accounts: [
      { username: 'alice', password: 'secret' },
      { username: 'bob', password: 'secret' },
      { username: 'carol', password: 'secret' },
    ],
    components: [],
    log: { level: process.env.STRAND_TEST_LOG ?? 'silent' },
    plugins: {},
    overrides: [],
    ...overrides,
  };
}

export interface RunningServer {
  server: StrandServer;
  ports: { c2s: number; c2sTls: number; http: number };
  stop(): Promise<void>;
}

/** Creates and starts a server; `stop()` shuts it down and removes its temp directory. */
export async function startServer(
  overrides: Partial<ServerConfig> = {},
  options: { plugins?: Record<string, PluginDefinition>; modules?: ContainerModule[]; logger?: Logger } = {},
): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strand-test-'));
  const server = await StrandServer.create(testConfig(overrides), { ...options, dataDir });
  const ports = await server.start();
  return {
    server,
    ports: { c2s: ports.c2s ?? 0, c2sTls: ports.c2sTls ?? 0, http: ports.http ?? 0 },
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
