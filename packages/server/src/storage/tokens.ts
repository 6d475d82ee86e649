/** Injection tokens of the storage adapters. */

/** The open {@link SqliteDatabase} the SQLite stores share (bind with `toConstantValue`). */
export const SqliteDatabaseToken = Symbol.for('@strand/server/SqliteDatabase');

/**
 * Offline storage quota in messages per user (config `limits.offlinePerUser`). Optional:
 * {@link SqliteOfflineStoreImpl} defaults to {@link DEFAULT_OFFLINE_PER_USER}.
 */
export const OfflineQuota = Symbol.for('@strand/server/OfflineQuota');

/** Default per-user offline quota, as in core's `MemoryOfflineStoreImpl`. */
export const DEFAULT_OFFLINE_PER_USER = 1000;
