/** The SQLite adapters against the shared conformance suite, plus SQLite-only behaviour. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Container } from 'inversify';
import { OfflineStore, RosterStore, xml } from '@strand/core';
import {
  OfflineQuota,
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

describe('SQLite stores: beyond the shared contract', () => {
  let db: SqliteDatabase;
  beforeEach(() => {
    db = new SqliteDatabase(':memory:');
  });
  afterEach(() => db.close());

  it('keeps the roster version counter across clear (a re-created account never re-issues a version)', async () => {
    const roster = new SqliteRosterStoreImpl(db);
    const item = { jid: 'bob@x', subscription: 'none', ask: false, pendingIn: false, approved: false, groups: [], visible: true } as const;
    await roster.setItem('alice@x', { ...item, groups: [] });
    await roster.setItem('alice@x', { ...item, groups: [] });
    await roster.clear('alice@x');
    expect(await roster.get('alice@x')).toEqual({ version: '2', items: [] });
    expect(await roster.setItem('alice@x', { ...item, groups: [] })).toBe('3');
  });

  it('resolves from a container with the database and quota tokens (default quota 1000)', async () => {
    const c = new Container();
    c.bind(SqliteDatabaseToken).toConstantValue(db);
    c.bind(OfflineQuota).toConstantValue(1);
    c.bind(OfflineStore).to(SqliteOfflineStoreImpl).inSingletonScope();
    c.bind(RosterStore).to(SqliteRosterStoreImpl).inSingletonScope();
    const offline = c.get<OfflineStore>(OfflineStore);
    expect(await offline.store('a@x', xml('message'), 1)).toBe('stored');
    expect(await offline.store('a@x', xml('message'), 2)).toBe('quota-exceeded');
    expect((await c.get<RosterStore>(RosterStore).get('a@x')).version).toBe('0');

    const d = new Container();
    d.bind(SqliteDatabaseToken).toConstantValue(db);
    d.bind(SqliteOfflineStoreImpl).toSelf();
    expect(d.get(SqliteOfflineStoreImpl).maxPerUser).toBe(1000);
  });
});
