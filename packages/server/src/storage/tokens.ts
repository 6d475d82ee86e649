/** Injection tokens of the storage adapters. */

/** The open {@link SqliteDatabase} the SQLite stores share (bind with `toConstantValue`). */
export const SqliteDatabaseToken = Symbol.for('@strand/server/SqliteDatabase');

/** The open {@link PostgresDatabase} the PostgreSQL stores share (bind with `toConstantValue`). */
export const PostgresDatabaseToken = Symbol.for('@strand/server/PostgresDatabase');

/**
 * Offline storage quota in messages per user (config `limits.offlinePerUser`). Optional:
 * {@link SqliteOfflineStoreImpl} and {@link PostgresOfflineStoreImpl} default to {@link DEFAULT_OFFLINE_PER_USER}.
 */
export const OfflineQuota = Symbol.for('@strand/server/OfflineQuota');

/** Default per-user offline quota, as in core's `MemoryOfflineStoreImpl`. */
export const DEFAULT_OFFLINE_PER_USER = 1000;

/** Default PostgreSQL pool size (connections per node), config `storage.poolSize`. */
export const DEFAULT_POOL_SIZE = 10;
/** Largest accepted PostgreSQL pool size (connections per node); PostgreSQL's default `max_connections` is 100. */
export const MAX_POOL_SIZE = 100;
