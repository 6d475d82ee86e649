/**
 * The PostgreSQL adapters against the shared conformance suite (a real PostgreSQL 15 from Debian,
 * one server for this file, a fresh database per test), plus behaviour beyond the contract: the
 * offline quota under concurrent stores from two pools (two nodes), concurrent roster changes,
 * the SQL adapters' shared behaviour, and 64-bit times.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { xml, type OfflineStore } from '@strand/core';
import {
  PostgresAccountStoreImpl,
  PostgresDatabase,
  PostgresDatabaseToken,
  PostgresOfflineStoreImpl,
  PostgresPresenceStoreImpl,
  PostgresRosterStoreImpl,
} from '../../src/storage/index.js';
import { usePostgres } from '../../../../test/helpers/postgres.js';
import {
  accountStoreConformance,
  offlineStoreConformance,
  presenceStoreConformance,
  rosterStoreConformance,
  type OfflineOptions,
  type StoreFactory,
} from './store-conformance.js';
import { sqlStoreBehaviour } from './sql-store-behaviour.js';

const server = usePostgres();

/** Opens each store on a fresh database; `reopen` closes the pool and opens a new one on it. */
function postgres<S, O = undefined>(make: (db: PostgresDatabase, options?: O) => S): StoreFactory<S, O> {
  return {
    persistent: true,
    open: async (options) => {
      const url = await server().createDatabase();
      let db = await PostgresDatabase.open(url, { poolSize: 4 });
      return {
        store: make(db, options),
        reopen: async () => {
          await db.close();
          db = await PostgresDatabase.open(url, { poolSize: 4 });
          return make(db, options);
        },
        close: async () => {
          await db.close();
          await server().dropDatabase(url);
        },
      };
    },
  };
}

accountStoreConformance('postgres', postgres((db) => new PostgresAccountStoreImpl(db)));
rosterStoreConformance('postgres', postgres((db) => new PostgresRosterStoreImpl(db)));
presenceStoreConformance('postgres', postgres((db) => new PostgresPresenceStoreImpl(db)));
offlineStoreConformance(
  'postgres',
  postgres<OfflineStore, OfflineOptions>((db, o) => new PostgresOfflineStoreImpl(db, o?.maxPerUser)),
);

sqlStoreBehaviour('PostgreSQL', {
  open: async () => PostgresDatabase.open(await server().createDatabase(), { poolSize: 2 }),
  close: async (db) => {
    await db.close();
    await server().dropDatabase(db.url);
  },
  token: PostgresDatabaseToken,
  roster: PostgresRosterStoreImpl,
  offline: PostgresOfflineStoreImpl,
});

describe('PostgreSQL stores: under concurrency, and times', () => {
  let url: string;
  const dbs: PostgresDatabase[] = [];
  /**
   * A separate pool on the test database, as another node would have, with all its connections
   * open (so that concurrent calls really run in parallel transactions).
   */
  const node = async () => {
    const db = await PostgresDatabase.open(url, { poolSize: 8 });
    dbs.push(db);
    await Promise.all(Array.from({ length: 8 }, () => db.query('SELECT pg_sleep(0.05)')));
    return db;
  };
  beforeEach(async () => {
    url = await server().createDatabase();
  });
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    await server().dropDatabase(url);
  });

  it('never exceeds the offline quota under concurrent stores from two nodes', async () => {
    const quota = 5;
    const a = new PostgresOfflineStoreImpl(await node(), quota);
    const b = new PostgresOfflineStoreImpl(await node(), quota);
    const U = 'alice@localhost';
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).store(U, xml('message', { id: `m${i}` }), i)),
    );
    expect(results.filter((r) => r === 'stored')).toHaveLength(quota);
    expect(results.filter((r) => r === 'quota-exceeded')).toHaveLength(40 - quota);
    expect(await a.count(U)).toBe(quota);
    expect(await b.list(U)).toHaveLength(quota);
    // Another user's box is independent of the first one's lock and count.
    expect(await b.store('bob@localhost', xml('message'), 1)).toBe('stored');
  });

  it('gives concurrent roster changes from two nodes distinct, increasing versions', async () => {
    const a = new PostgresRosterStoreImpl(await node());
    const b = new PostgresRosterStoreImpl(await node());
    const U = 'alice@localhost';
    const item = (jid: string) => ({ jid, subscription: 'none', ask: false, pendingIn: false, approved: false, groups: ['G'], visible: true }) as const;
    const versions = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).setItem(U, { ...item(`c${i}@x`), groups: ['G'] })),
    );
    expect(versions.map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    const roster = await a.get(U);
    expect(roster.version).toBe('20');
    expect(roster.items).toHaveLength(20);
    const removals = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).removeItem(U, `c${i}@x`)));
    expect(removals.map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 21));
  });

  it('keeps epoch-ms times beyond 32 bits exactly', async () => {
    const offline = new PostgresOfflineStoreImpl(await node());
    const at = Date.UTC(2100, 0, 1, 0, 0, 0, 123);
    await offline.store('a@x', xml('message'), at);
    expect((await offline.list('a@x'))[0]!.at).toBe(at);
  });
});
