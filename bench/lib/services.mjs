/**
 * Backing services of the cluster bench (bench/cluster.mjs): a private Redis and a private
 * PostgreSQL 15, both from Debian packages, on loopback ports, in fresh temp directories, stopped
 * by PID. Plain-JS equivalents of test/helpers/redis.ts and test/helpers/postgres.ts (the bench
 * runs under plain node, without the TS test helpers): same flags, same approach — PostgreSQL
 * refuses to run as root, so under root initdb and the server run as the `postgres` system user.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, openSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, childrenOf, cpuSeconds, portFree, stopPid, waitFor } from './proc.mjs';

export const REDIS_SERVER = '/usr/bin/redis-server';
export const PG_BIN = '/usr/lib/postgresql/15/bin';
/** The superuser initdb creates (trust authentication on loopback). */
export const PG_USER = 'strand';

/** Every PID started here, SIGKILLed synchronously if the bench process exits without stop(). */
const started = new Set();
process.once('exit', () => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

function logged(dir, name) {
  const file = join(dir, name);
  const fd = openSync(file, 'a');
  return { fd, file, read: () => readFileSync(file, 'utf8'), close: () => closeSync(fd) };
}

export function redisVersion() {
  try {
    return execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

export function postgresVersion() {
  try {
    return execFileSync(join(PG_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

/**
 * Starts redis-server in the foreground on 127.0.0.1:`port` (no persistence) and waits until it
 * accepts connections. Returns `{ pid, port, url, cpuSeconds(), stop() }`.
 */
export async function startRedis({ port, log = () => undefined }) {
  if (!(await portFree(port))) throw new Error(`port ${port} for redis-server is in use (--port-base)`);
  const dir = mkdtempSync(join(tmpdir(), 'strand-bench-redis-'));
  const out = logged(dir, 'redis.log');
  const p = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'notice'],
    { stdio: ['ignore', out.fd, out.fd], cwd: dir },
  );
  out.close();
  const pid = p.pid;
  started.add(pid);
  let exited;
  p.on('exit', (code, signal) => (exited = { code, signal }));
  const stop = async () => {
    if (alive(pid)) await stopPid(pid, 5000);
    started.delete(pid);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () => {
        if (exited) throw new Error(`redis-server exited during start (${JSON.stringify(exited)}): ${out.read().slice(-2000)}`);
        return /Ready to accept connections/.test(out.read());
      },
      15000,
      'redis-server ready',
    );
  } catch (err) {
    await stop();
    throw err;
  }
  log(`redis-server PID ${pid} on 127.0.0.1:${port}`);
  return { pid, port, url: `redis://127.0.0.1:${port}`, cpuSeconds: () => cpuSeconds(pid), stop, log: () => out.read() };
}

/** uid/gid to run PostgreSQL as: the `postgres` user when this process is root, else undefined. */
function runAs() {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * initdb into a fresh temp directory, then the server in the foreground on 127.0.0.1:`port`
 * (durability off, as in the tests), then `CREATE DATABASE`. Returns `{ pid, port, url,
 * cpuSeconds(), stop() }`; `cpuSeconds()` sums the postmaster and its current children (the
 * backends of the nodes' pools live as long as the pools).
 */
export async function startPostgres({ port, database = 'strand_bench', log = () => undefined }) {
  if (!(await portFree(port))) throw new Error(`port ${port} for PostgreSQL is in use (--port-base)`);
  const dir = mkdtempSync(join(tmpdir(), 'strand-bench-pg-'));
  const data = join(dir, 'data');
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  const init = spawnSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
    { encoding: 'utf8', timeout: 60000, env, cwd: dir, ...user },
  );
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.signal ?? init.error?.message}): ${init.stdout}${init.stderr}`);
  }
  const out = logged(dir, 'postgres.log');
  if (user) chownSync(out.file, user.uid, user.gid);
  const p = spawn(
    join(PG_BIN, 'postgres'),
    [
      '-D', data,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${dir}`,
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=32MB',
      '-c', 'max_connections=100',
      '-c', 'logging_collector=off',
    ],
    { stdio: ['ignore', out.fd, out.fd], env, cwd: dir, ...user },
  );
  out.close();
  const pid = p.pid;
  started.add(pid);
  let exited;
  p.on('exit', (code, signal) => (exited = { code, signal }));
  let stopped;
  const stop = () =>
    (stopped ??= (async () => {
      if (alive(pid)) {
        // SIGINT = PostgreSQL's fast shutdown; SIGKILL after 5 s
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          /* gone */
        }
        await waitFor(() => !alive(pid), 5000, 'postgres exit').catch(() => stopPid(pid, 1000));
      }
      started.delete(pid);
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await waitFor(
      () => {
        if (exited) throw new Error(`postgres exited during start (${JSON.stringify(exited)}): ${out.read().slice(-2000)}`);
        return /database system is ready to accept connections/.test(out.read());
      },
      20000,
      'PostgreSQL to accept connections',
    );
    const created = spawnSync(join(PG_BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, database], {
      encoding: 'utf8',
      timeout: 30000,
      env,
    });
    if (created.status !== 0) throw new Error(`createdb failed: ${created.stdout}${created.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`postgres PID ${pid} on 127.0.0.1:${port}, database ${database}`);
  const treeCpu = () => {
    let s = cpuSeconds(pid) ?? 0;
    for (const c of childrenOf(pid)) s += cpuSeconds(c.pid) ?? 0;
    return s;
  };
  return { pid, port, url: `postgres://${PG_USER}@127.0.0.1:${port}/${database}`, cpuSeconds: treeCpu, stop, log: () => out.read() };
}
