/**
 * A private PostgreSQL 15 (Debian package `postgresql`) for tests: `initdb` into a fresh temp
 * directory, the server in the foreground on a free loopback port (its unix socket in the same
 * directory; durability off for speed), fresh databases per test with {@link Postgres.createDatabase};
 * stopped by PID. PostgreSQL refuses to run as root: under root, initdb and the server run as the
 * `postgres` system user (spawned with its uid/gid), which owns the directory.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import pg from 'pg';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
/** The superuser initdb creates (trust authentication on loopback and the socket). */
export const PG_USER = 'strand';

export interface Postgres {
  /** The postmaster's PID. */
  pid: number;
  port: number;
  dir: string;
  proc: Proc;
  /** URL of a database on this server (default `postgres`). */
  url(database?: string): string;
  /** Creates an empty database with a unique name and returns its URL. */
  createDatabase(): Promise<string>;
  /** Drops a database made by {@link createDatabase} (its connections are terminated). */
  dropDatabase(url: string): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
  /** SIGINT (fast shutdown) by PID, SIGKILL after 5 s; removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** uid/gid to run PostgreSQL as: the `postgres` user when this process is root, else undefined. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

let seq = 0;

/** Starts a fresh PostgreSQL and waits until it accepts connections. */
export async function startPostgres(): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'strand-pg-'));
  const data = join(dir, 'data');
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  const init = spawnSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    { encoding: 'utf8', timeout: 60_000, env, cwd: dir, ...user },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.signal ?? init.error?.message}): ${init.stdout}${init.stderr}`);
  }

  // A port that was free a moment ago may be taken before the server binds it: retry on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = Proc.spawn(
      join(PG_BIN, 'postgres'),
      [
        '-D', data,
        '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `unix_socket_directories=${dir}`,
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=16MB',
        '-c', 'max_connections=100',
        '-c', 'logging_collector=off',
      ],
      { env, cwd: dir, ...user },
    );
    // Should the test process exit without stop() (a crashed worker), the server goes with it.
    const killOnExit = () => proc.signal('SIGKILL');
    process.once('exit', killOnExit);
    let stopped: Promise<void> | undefined;
    const stop = () =>
      (stopped ??= (async () => {
        await proc.terminate('SIGINT', 5000); // SIGINT: PostgreSQL's fast shutdown
        process.off('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
      })());
    try {
      await proc.waitFor(
        () => (/database system is ready to accept connections/.test(proc.stderr) ? true : undefined),
        20_000,
        'PostgreSQL to accept connections',
      );
    } catch (err) {
      const portTaken = /could not bind|Address already in use/.test(proc.stderr);
      if (portTaken && attempt < 3) {
        await proc.kill();
        process.off('exit', killOnExit);
        continue;
      }
      await stop();
      throw err;
    }
    const url = (database = 'postgres') => `postgres://${PG_USER}@127.0.0.1:${port}/${database}`;
    const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    return {
      pid: proc.pid,
      port,
      dir,
      proc,
      url,
      async createDatabase() {
        const name = `strand_test_${process.pid}_${++seq}`;
        await admin((c) => c.query(`CREATE DATABASE ${name}`));
        return url(name);
      },
      async dropDatabase(dbUrl: string) {
        const name = new URL(dbUrl).pathname.slice(1);
        if (!/^strand_test_\d+_\d+$/.test(name)) throw new Error(`not a test database: ${name}`);
        await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      },
      log: () => proc.stderr,
      stop,
    };
  }
}

/**
 * One PostgreSQL for the calling test file: started in `beforeAll`, stopped by PID in `afterAll`
 * (also when tests failed). Call at the top level of the file; the getter throws if the start failed.
 */
export function usePostgres(): () => Postgres {
  let server: Postgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (!server) throw new Error('PostgreSQL did not start (see beforeAll)');
    return server;
  };
}
