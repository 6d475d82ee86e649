/**
 * PostgresDatabase: pool options and the migration mechanism (fresh database, re-run, several
 * nodes migrating at once, a newer schema refused, a failing step rolled back), against a private
 * PostgreSQL 15 with a fresh database per test.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  DEFAULT_POOL_SIZE,
  POSTGRES_MIGRATIONS,
  PostgresDatabase,
  SchemaTooNewError,
  type PostgresDatabaseOptions,
  type PostgresMigration,
} from '../../src/storage/index.js';
import { freePort } from '../../../../test/helpers/ports.js';
import { usePostgres } from '../../../../test/helpers/postgres.js';

const server = usePostgres();

let url: string;
const open: PostgresDatabase[] = [];
const openDb = async (options: PostgresDatabaseOptions = {}) => {
  const db = await PostgresDatabase.open(url, options);
  open.push(db);
  return db;
};
const migrations = (...m: PostgresMigration[]) => ({ migrations: m });
const tables = async (db: PostgresDatabase) =>
  (
    await db.query<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename COLLATE \"C\"",
    )
  ).rows.map((r) => r.name);
const schemaRows = async (db: PostgresDatabase) =>
  (await db.query<{ version: number }>('SELECT version FROM strand_schema ORDER BY version')).rows.map((r) => r.version);

beforeEach(async () => {
  url = await server().createDatabase();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((db) => db.close()));
  await server().dropDatabase(url);
});

describe('PostgresDatabase', () => {
  it('migrates a fresh database to the latest schema version', async () => {
    const db = await openDb();
    expect(await db.version()).toBe(POSTGRES_MIGRATIONS.at(-1)!.version);
    expect(await tables(db)).toEqual(['accounts', 'offline', 'presence', 'roster_items', 'roster_versions', 'strand_schema']);
    expect(await schemaRows(db)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  it('sizes the pool from poolSize (default 10) and rejects sizes outside 1..100', async () => {
    const db = await openDb();
    expect(db.pool.options.max).toBe(DEFAULT_POOL_SIZE);
    expect((await openDb({ poolSize: 3 })).pool.options.max).toBe(3);
    for (const poolSize of [0, 101, 2.5]) {
      await expect(PostgresDatabase.open(url, { poolSize })).rejects.toThrow(/pool size must be an integer from 1 to 100/);
    }
  });

  it('applies only the migrations above the stored version, each once; re-opening is a no-op', async () => {
    const calls: number[] = [];
    const v1: PostgresMigration = { version: 1, up: 'CREATE TABLE t1 (x INTEGER)' };
    const v2: PostgresMigration = { version: 2, up: async (c) => void (calls.push(2), await c.query('CREATE TABLE t2 (y TEXT)')) };
    const v5: PostgresMigration = {
      version: 5,
      up: async (c) => void (calls.push(5), await c.query('ALTER TABLE t2 ADD COLUMN z INTEGER')),
    };
    await (await openDb(migrations(v1))).close();
    expect(await (await openDb(migrations(v1, v2))).version()).toBe(2);
    await openDb(migrations(v1, v2)); // nothing to do
    expect(calls).toEqual([2]);
    const db = await openDb(migrations(v1, v2, v5));
    expect(calls).toEqual([2, 5]);
    expect(await db.version()).toBe(5);
    expect(await schemaRows(db)).toEqual([1, 2, 5]);
    expect(await tables(db)).toEqual(['strand_schema', 't1', 't2']);
    await openDb(migrations(v1, v2, v5));
    expect(calls).toEqual([2, 5]);
  });

  it('migrates exactly once when several nodes start at the same time', async () => {
    const calls: number[] = [];
    // Slow steps widen the window in which unserialised nodes would apply a step twice.
    const slow = (version: number, sql: string): PostgresMigration => ({
      version,
      up: async (c) => {
        calls.push(version);
        await c.query('SELECT pg_sleep(0.2)');
        await c.query(sql);
      },
    });
    const list = migrations(slow(1, 'CREATE TABLE t1 (x INTEGER)'), slow(2, 'CREATE TABLE t2 (x INTEGER)'));
    const nodes = await Promise.all([openDb(list), openDb(list), openDb(list)]);
    expect(calls).toEqual([1, 2]);
    for (const db of nodes) expect(await db.version()).toBe(2);
    expect(await schemaRows(nodes[0]!)).toEqual([1, 2]);

    // And with the real schema: two pools at once on a fresh database.
    await server().dropDatabase(url);
    url = await server().createDatabase();
    const [a, b] = await Promise.all([openDb(), openDb()]);
    expect(await a!.version()).toBe(POSTGRES_MIGRATIONS.at(-1)!.version);
    expect(await schemaRows(b!)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  it('refuses a database written by a newer schema, with a clear error and no pool left open', async () => {
    const db = await openDb();
    await db.query('INSERT INTO strand_schema (version, applied_at) VALUES (99, 0)');
    const connections = async () =>
      (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()')).rows[0]!.n;
    const before = await connections();
    const err = await PostgresDatabase.open(url).catch((e: unknown) => e);
    // A closed connection's backend leaves pg_stat_activity a moment later; a pool left open
    // would keep its idle connection for 10 s.
    const deadline = Date.now() + 3000;
    while ((await connections()) > before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await connections()).toBe(before);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toMatch(
      /^PostgreSQL database postgres:\/\/strand@127\.0\.0\.1:\d+\/strand_test_\d+_\d+ has schema version 99, but this Strand only knows up to version 1: .*use another database\.$/,
    );
    expect(await db.version()).toBe(99);
  });

  it('masks the password in messages', async () => {
    const withPassword = url.replace('strand@', 'strand:hunter2@');
    const db = await PostgresDatabase.open(withPassword, { poolSize: 1 }); // trust auth ignores it
    open.push(db);
    expect(db.url).not.toContain('hunter2');
    expect(db.url).toContain('strand:***@');
  });

  it('rolls a failing migration back and keeps the previous version', async () => {
    const v1: PostgresMigration = { version: 1, up: 'CREATE TABLE t1 (x INTEGER)' };
    const bad: PostgresMigration = { version: 2, up: 'CREATE TABLE t2 (y INTEGER); INSERT INTO nope VALUES (1);' };
    await (await openDb(migrations(v1))).close();
    await expect(PostgresDatabase.open(url, migrations(v1, bad))).rejects.toThrow(
      /^PostgreSQL database .*: relation "nope" does not exist$/,
    );
    const db = await openDb(migrations(v1));
    expect(await db.version()).toBe(1);
    expect(await tables(db)).toEqual(['strand_schema', 't1']);
  });

  it('rejects a migration list that is not strictly increasing, before connecting', async () => {
    const m = (version: number): PostgresMigration => ({ version, up: '' });
    await expect(PostgresDatabase.open(url, migrations(m(1), m(1)))).rejects.toThrow(/increasing order/);
    await expect(PostgresDatabase.open(url, migrations(m(0)))).rejects.toThrow(/positive integers/);
    await expect(PostgresDatabase.open(url, migrations(m(2), m(1)))).rejects.toThrow(/at index 1/);
    const raw = new pg.Client(url);
    await raw.connect();
    try {
      expect((await raw.query("SELECT to_regclass('strand_schema') AS t")).rows[0].t).toBeNull();
    } finally {
      await raw.end();
    }
  });

  it('fails with the reason when the server cannot be reached', async () => {
    const port = await freePort();
    await expect(PostgresDatabase.open(`postgres://strand@127.0.0.1:${port}/x`, { connectTimeoutMs: 2000 })).rejects.toThrow(
      new RegExp(`^PostgreSQL database postgres://strand@127\\.0\\.0\\.1:${port}/x: .*ECONNREFUSED`),
    );
  });

  it('closes idempotently; transactions roll back on errors', async () => {
    const db = await openDb(migrations({ version: 1, up: 'CREATE TABLE t (x INTEGER)' }));
    await expect(
      db.transaction(async (c) => {
        await c.query('INSERT INTO t VALUES (1)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.transaction(async (c) => (await c.query('INSERT INTO t VALUES (2) RETURNING x')).rows[0].x)).toBe(2);
    expect((await db.query<{ x: number }>('SELECT x FROM t')).rows).toEqual([{ x: 2 }]);
    await db.close();
    await db.close();
    expect(db.pool.ended).toBe(true);
  });
});
