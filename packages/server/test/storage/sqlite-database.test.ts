/** SqliteDatabase: pragmas, directory creation and the migration mechanism. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { STRAND_MIGRATIONS, SchemaTooNewError, SqliteDatabase, type Migration } from '../../src/storage/index.js';

let dir: string;
let file: string;
const open: SqliteDatabase[] = [];
const openDb = (migrations?: readonly Migration[]) => {
  const db = new SqliteDatabase(file, migrations ? { migrations } : {});
  open.push(db);
  return db;
};
const tables = (db: SqliteDatabase) =>
  db.db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'strand-migrate-'));
  file = join(dir, 'a', 'b', 'strand.db');
});
afterEach(() => {
  for (const db of open.splice(0)) db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteDatabase', () => {
  it('creates missing directories and a fresh file at the latest schema version', () => {
    const db = openDb();
    expect(existsSync(file)).toBe(true);
    expect(db.version).toBe(STRAND_MIGRATIONS.at(-1)!.version);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['accounts', 'offline', 'presence', 'roster_items', 'roster_versions']),
    );
  });

  it('uses WAL, synchronous=NORMAL, a busy timeout and foreign keys', () => {
    const db = new SqliteDatabase(file, { busyTimeoutMs: 1234 });
    open.push(db);
    expect(db.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.db.pragma('synchronous', { simple: true })).toBe(1);
    expect(db.db.pragma('busy_timeout', { simple: true })).toBe(1234);
    expect(db.db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('works in memory', () => {
    const db = new SqliteDatabase(':memory:');
    expect(db.version).toBe(STRAND_MIGRATIONS.at(-1)!.version);
    db.close();
    db.close(); // idempotent
  });

  it('applies only the migrations above the stored version, each once', () => {
    const calls: number[] = [];
    const v1: Migration = { version: 1, up: 'CREATE TABLE t1 (x INTEGER)' };
    const v2: Migration = { version: 2, up: (db) => (calls.push(2), db.exec('CREATE TABLE t2 (y TEXT)')) };
    const v5: Migration = { version: 5, up: (db) => (calls.push(5), db.exec('ALTER TABLE t2 ADD COLUMN z INTEGER')) };

    openDb([v1]).close();
    expect(openDb([v1, v2]).version).toBe(2);
    openDb([v1, v2]); // reopening: nothing to do
    expect(calls).toEqual([2]);
    const db = openDb([v1, v2, v5]);
    expect(calls).toEqual([2, 5]);
    expect(db.version).toBe(5);
    expect(tables(db)).toEqual(['t1', 't2']);
  });

  it('refuses a file written by a newer schema, with a clear error', () => {
    const raw = new Database(file.replace('a/b/', ''));
    raw.pragma('user_version = 99');
    raw.close();
    file = file.replace('a/b/', '');
    expect(() => openDb()).toThrow(SchemaTooNewError);
    expect(() => openDb()).toThrow(/schema version 99, but this Strand only knows up to version 1/);
  });

  it('rolls a failing migration back and keeps the previous version', () => {
    const v1: Migration = { version: 1, up: 'CREATE TABLE t1 (x INTEGER)' };
    const bad: Migration = { version: 2, up: 'CREATE TABLE t2 (y INTEGER); INSERT INTO nope VALUES (1);' };
    openDb([v1]).close();
    expect(() => openDb([v1, bad])).toThrow(/no such table: nope/);
    const db = openDb([v1]);
    expect(db.version).toBe(1);
    expect(tables(db)).toEqual(['t1']);
  });

  it('rejects a migration list that is not strictly increasing', () => {
    const m = (version: number): Migration => ({ version, up: '' });
    expect(() => openDb([m(1), m(1)])).toThrow(/increasing order/);
    expect(() => openDb([m(0)])).toThrow(/positive integers/);
    expect(() => openDb([m(2), m(1)])).toThrow(/at index 1/);
    expect(existsSync(file)).toBe(false);
  });
});
