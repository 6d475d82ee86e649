/**
 * A private Redis (Debian package `redis-server`) for cluster tests: loopback, a free port, no
 * persistence, its own temp directory; stopped by PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisInstance {
  /** The current redis-server process (a new one after {@link restart}). */
  proc: Proc;
  port: number;
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  /**
   * Kills the server by PID (SIGKILL: an outage, nothing saved) and starts a new, empty one on the
   * same port after `downMs`.
   */
  restart(downMs: number): Promise<void>;
  /** SIGTERM by PID, SIGKILL after 5 s; removes the temp directory. */
  stop(): Promise<void>;
}

/** Starts redis-server in the foreground and waits until it accepts connections. */
export async function startRedis(): Promise<RedisInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'strand-redis-'));
  const port = await freePort();
  const spawnServer = async (): Promise<Proc> => {
    const proc = Proc.spawn(REDIS_SERVER, [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--loglevel', 'notice',
    ]);
    try {
      await proc.waitFor(() => (/Ready to accept connections/.test(proc.stdout + proc.stderr) ? true : undefined), 15_000, 'redis-server ready');
    } catch (err) {
      await proc.terminate('SIGKILL', 1000);
      throw err;
    }
    return proc;
  };
  let proc: Proc;
  try {
    proc = await spawnServer();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const instance: RedisInstance = {
    proc,
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs) {
      await instance.proc.kill();
      await new Promise((r) => setTimeout(r, downMs));
      instance.proc = await spawnServer();
    },
    async stop() {
      await instance.proc.terminate('SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return instance;
}
