/** A PostgreSQL connection pool (`pg`) with Strand's schema migrations, safe for several nodes. */
import pg from 'pg';
import { assertIncreasingVersions } from './migrations.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { SchemaTooNewError } from './sqlite.js';
import { DEFAULT_POOL_SIZE, MAX_POOL_SIZE } from './tokens.js';

/** One PostgreSQL schema step. `up` is SQL (may hold several statements) or a function on the transaction's client. */
export interface PostgresMigration {
  /** The schema version after this step: positive integers, strictly increasing in a list. */
  version: number;
  up: string | ((client: pg.PoolClient) => Promise<void>);
}

/**
 * Key of the transaction-level advisory lock (`pg_advisory_xact_lock(bigint)`) that serialises
 * schema migrations of one database between nodes starting at the same time.
 */
export const MIGRATION_LOCK_KEY = 0x5374726e; // "Strn"

/** Options of {@link PostgresDatabase.open}. */
export interface PostgresDatabaseOptions {
  /** Maximum connections of the pool, 1 to {@link MAX_POOL_SIZE}. Default {@link DEFAULT_POOL_SIZE}. */
  poolSize?: number;
  /** Migrations to apply, in order. Default: {@link POSTGRES_MIGRATIONS}. */
  migrations?: readonly PostgresMigration[];
  /** How long getting a connection may take, in **milliseconds** (0 = no limit). Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Called with errors of idle pooled connections (e.g. the server restarted); the pool drops such
   * a connection and opens a new one when needed. Default: ignored.
   */
  onIdleError?: (err: Error) => void;
}

/** The URL with its password masked, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function schemaVersion(client: pg.PoolClient | pg.Pool): Promise<number> {
  const r = await client.query<{ version: number | null }>(
    `SELECT CASE WHEN to_regclass('strand_schema') IS NULL THEN 0
            ELSE (SELECT coalesce(max(version), 0) FROM strand_schema) END AS version`,
  );
  return Number(r.rows[0]?.version ?? 0);
}

/**
 * A `pg.Pool` on one database. {@link PostgresDatabase.open} brings the schema up to date: the
 * applied versions are rows of the `strand_schema` table; each pending migration runs in its own
 * transaction holding `pg_advisory_xact_lock(MIGRATION_LOCK_KEY)`, which also records its
 * version, so nodes starting at once apply every step exactly once, and a failed step leaves the
 * database at the previous version.
 */
export class PostgresDatabase {
  private closing: Promise<void> | undefined;

  private constructor(
    /** The pool (for the store adapters). */
    readonly pool: pg.Pool,
    /** The database URL with its password masked. */
    readonly url: string,
  ) {}

  /**
   * Opens a pool on `url` (`postgres://user:password@host:port/database`) and migrates the schema.
   * @throws SchemaTooNewError when the database was migrated by a newer version of Strand
   * @throws RangeError when `poolSize` is out of range
   * @throws Error when the migration list is not strictly increasing, the database cannot be
   *   reached, or a migration fails (the pool is closed again)
   */
  static async open(url: string, options: PostgresDatabaseOptions = {}): Promise<PostgresDatabase> {
    const migrations = options.migrations ?? POSTGRES_MIGRATIONS;
    assertIncreasingVersions(migrations);
    const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE) {
      throw new RangeError(`PostgreSQL pool size must be an integer from 1 to ${MAX_POOL_SIZE}, got ${poolSize}`);
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    });
    pool.on('error', options.onIdleError ?? (() => undefined));
    const db = new PostgresDatabase(pool, redact(url));
    try {
      await db.migrate(migrations);
    } catch (e) {
      await pool.end().catch(() => undefined);
      if (e instanceof SchemaTooNewError) throw e;
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(`PostgreSQL database ${db.url}: ${message}`, { cause: e });
    }
    return db;
  }

  /** The schema version of the database (the highest row of `strand_schema`; 0 before any migration). */
  version(): Promise<number> {
    return schemaVersion(this.pool);
  }

  /** Runs one statement on a pooled connection. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /**
   * Runs `fn` in a transaction (READ COMMITTED) on one pooled connection: committed when `fn`
   * resolves, rolled back when it throws (and the error rethrown). A connection whose rollback
   * fails is discarded, not returned to the pool.
   */
  async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let result: T;
    try {
      await client.query('BEGIN');
      result = await fn(client);
      await client.query('COMMIT');
    } catch (e) {
      try {
        await client.query('ROLLBACK');
        client.release();
      } catch (rollbackError) {
        client.release(rollbackError as Error);
      }
      throw e;
    }
    client.release();
    return result;
  }

  /** Closes every connection of the pool; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }

  private async migrate(migrations: readonly PostgresMigration[]): Promise<void> {
    const latest = migrations.at(-1)?.version ?? 0;
    // One transaction per step; each re-reads the version under the lock (another node may have
    // applied steps while this one waited).
    for (let done = false; !done; ) {
      done = await this.transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        await client.query(
          `CREATE TABLE IF NOT EXISTS strand_schema (
             version    INTEGER PRIMARY KEY,
             applied_at BIGINT NOT NULL  -- epoch ms
           )`,
        );
        const current = await schemaVersion(client);
        if (current > latest) throw new SchemaTooNewError(this.url, current, latest, 'PostgreSQL');
        const next = migrations.find((m) => m.version > current);
        if (!next) return true;
        if (typeof next.up === 'string') await client.query(next.up);
        else await next.up(client);
        await client.query('INSERT INTO strand_schema (version, applied_at) VALUES ($1, $2)', [next.version, Date.now()]);
        return false;
      });
    }
  }
}
