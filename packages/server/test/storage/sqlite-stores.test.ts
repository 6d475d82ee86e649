/** The SQLite adapters against the shared conformance suite, plus the SQL adapters' shared behaviour. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OfflineStore } from '@strand/core';
import {
  SqliteAccountStoreImpl,
  SqliteDatabase,
  SqliteDatabaseToken,
  SqliteOfflineStoreImpl,
  SqlitePresenceStoreImpl,
  SqliteRosterStoreImpl,
} from '../../src/storage/index.js';
import {
  accountStoreConformance,
  offlineStoreConformance,
  presenceStoreConformance,
  rosterStoreConformance,
  type OfflineOptions,
  type StoreFactory,
} from './store-conformance.js';
import { sqlStoreBehaviour } from './sql-store-behaviour.js';

/** Opens each store on a fresh file in a temp dir (in a not-yet-existing subdirectory). */
function sqlite<S, O = undefined>(make: (db: SqliteDatabase, options?: O) => S): StoreFactory<S, O> {
  return {
    persistent: true,
    open: async (options) => {
      const dir = mkdtempSync(join(tmpdir(), 'strand-sqlite-'));
      const file = join(dir, 'nested', 'strand.db');
      let db = new SqliteDatabase(file);
      return {
        store: make(db, options),
        reopen: async () => {
          db.close();
          db = new SqliteDatabase(file);
          return make(db, options);
        },
        close: async () => {
          db.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

accountStoreConformance('sqlite', sqlite((db) => new SqliteAccountStoreImpl(db)));
rosterStoreConformance('sqlite', sqlite((db) => new SqliteRosterStoreImpl(db)));
presenceStoreConformance('sqlite', sqlite((db) => new SqlitePresenceStoreImpl(db)));
offlineStoreConformance(
  'sqlite',
  sqlite<OfflineStore, OfflineOptions>((db, o) => new SqliteOfflineStoreImpl(db, o?.maxPerUser)),
);

sqlStoreBehaviour('SQLite', {
  open: async () => new SqliteDatabase(':memory:'),
  close: async (db) => db.close(),
  token: SqliteDatabaseToken,
  roster: SqliteRosterStoreImpl,
  offline: SqliteOfflineStoreImpl,
});
