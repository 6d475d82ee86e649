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
  proc: Proc;
  pid: number;
  port: number;
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  /** SIGTERM by PID, SIGKILL after 5 s; removes the temp directory. */
  stop(): Promise<void>;
}

/** Starts redis-server in the foreground and waits until it accepts connections. */
export async function startRedis(): Promise<RedisInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'strand-redis-'));
  const port = await freePort();
  const proc = Proc.spawn(REDIS_SERVER, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--loglevel', 'notice',
  ]);
  const stop = async (): Promise<void> => {
    await proc.terminate('SIGTERM', 5000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await proc.waitFor(() => (/Ready to accept connections/.test(proc.stdout + proc.stderr) ? true : undefined), 15_000, 'redis-server ready');
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, pid: proc.pid, port, url: `redis://127.0.0.1:${port}`, stop };
}
