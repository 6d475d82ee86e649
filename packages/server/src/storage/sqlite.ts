/** A better-sqlite3 connection with Strand's pragmas and a schema migration mechanism. */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { STRAND_MIGRATIONS, assertIncreasingVersions } from './migrations.js';

/** One schema step. `up` is SQL (may hold several statements) or a function on the connection. */
export interface Migration {
  /** The schema version after this step: positive integers, strictly increasing in a list. */
  version: number;
  up: string | ((db: Database.Database) => void);
}

/** Options of {@link SqliteDatabase}. */
export interface SqliteDatabaseOptions {
  /** Migrations to apply, in order. Default: {@link STRAND_MIGRATIONS}. */
  migrations?: readonly Migration[];
  /** How long a statement waits for another connection's lock, in **milliseconds**. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Thrown when a database's schema is newer than the newest migration this code knows (it was
 * migrated by a newer Strand). Both the SQLite and the PostgreSQL adapters throw it.
 */
export class SchemaTooNewError extends Error {
  /**
   * @param file the SQLite file, or the PostgreSQL database (its URL without the password)
   * @param fileVersion the schema version found in the database
   * @param supportedVersion the newest version this code knows
   * @param engine the database engine, named in the message
   */
  constructor(
    readonly file: string,
    readonly fileVersion: number,
    readonly supportedVersion: number,
    readonly engine: 'SQLite' | 'PostgreSQL' = 'SQLite',
  ) {
    super(
      `${engine} database ${file} has schema version ${fileVersion}, but this Strand only knows up to ` +
        `version ${supportedVersion}: it was written by a newer Strand. Upgrade Strand or use another ` +
        `${engine === 'SQLite' ? 'file' : 'database'}.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

/**
 * One SQLite connection: WAL journal, `synchronous=NORMAL`, a busy timeout and foreign keys on.
 * Opening creates missing parent directories and brings the schema up to date: every migration
 * whose version is above `PRAGMA user_version` runs in its own transaction, which also sets
 * `user_version`, so a failed step leaves the file at the previous version.
 */
export class SqliteDatabase {
  /** The underlying better-sqlite3 connection (for the store adapters). */
  readonly db: Database.Database;

  /**
   * @param file path of the database file, or `:memory:`
   * @throws SchemaTooNewError when the file was migrated by a newer version
   * @throws Error when the migration list is not strictly increasing, or a migration fails
   */
  constructor(
    readonly file: string,
    options: SqliteDatabaseOptions = {},
  ) {
    const migrations = options.migrations ?? STRAND_MIGRATIONS;
    assertIncreasingVersions(migrations);
    const memory = file === ':memory:' || file === '';
    if (!memory) mkdirSync(dirname(resolve(file)), { recursive: true });
    this.db = new Database(file, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      if (!memory) this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      this.migrate(migrations);
    } catch (e) {
      this.db.close();
      throw e;
    }
  }

  /** The schema version of the file (`PRAGMA user_version`). */
  get version(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  /** Closes the connection; idempotent. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(migrations: readonly Migration[]): void {
    const latest = migrations.at(-1)?.version ?? 0;
    if (this.version > latest) throw new SchemaTooNewError(this.file, this.version, latest);
    for (const m of migrations) {
      if (m.version <= this.version) continue;
      this.db
        .transaction(() => {
          if (typeof m.up === 'string') this.db.exec(m.up);
          else m.up(this.db);
          this.db.pragma(`user_version = ${m.version}`);
        })
        .immediate();
    }
  }
}
