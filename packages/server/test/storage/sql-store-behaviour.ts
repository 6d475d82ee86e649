/**
 * Behaviour the SQL adapters (SQLite, PostgreSQL) share beyond the memory stores' contract: the
 * roster version counter survives `clear`, and the stores resolve from a container with their
 * database token and the optional `OfflineQuota`.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Container } from 'inversify';
import { OfflineStore, RosterStore, xml, type RosterItem } from '@strand/core';
import { OfflineQuota } from '../../src/storage/index.js';

/** One SQL adapter family under test. */
export interface SqlAdapters<D> {
  /** Opens an empty database (once per test). */
  open(): Promise<D>;
  close(db: D): Promise<void>;
  /** The token the stores inject the database with. */
  token: symbol;
  roster: new (db: D) => RosterStore;
  offline: new (db: D, maxPerUser?: number) => OfflineStore & { readonly maxPerUser: number };
}

export function sqlStoreBehaviour<D>(name: string, adapters: SqlAdapters<D>): void {
  describe(`${name} stores: beyond the shared contract`, () => {
    let db: D;
    beforeEach(async () => {
      db = await adapters.open();
    });
    afterEach(async () => {
      await adapters.close(db);
    });

    it('keeps the roster version counter across clear (a re-created account never re-issues a version)', async () => {
      const roster = new adapters.roster(db);
      const item = (): RosterItem => ({ jid: 'bob@x', subscription: 'none', ask: false, pendingIn: false, approved: false, groups: [], visible: true });
      await roster.setItem('alice@x', item());
      await roster.setItem('alice@x', item());
      await roster.clear('alice@x');
      expect(await roster.get('alice@x')).toEqual({ version: '2', items: [] });
      expect(await roster.setItem('alice@x', item())).toBe('3');
    });

    it('resolves from a container with the database and quota tokens (default quota 1000)', async () => {
      const c = new Container();
      c.bind(adapters.token).toConstantValue(db);
      c.bind(OfflineQuota).toConstantValue(1);
      c.bind(OfflineStore).to(adapters.offline).inSingletonScope();
      c.bind(RosterStore).to(adapters.roster).inSingletonScope();
      const offline = c.get<OfflineStore>(OfflineStore);
      expect(await offline.store('a@x', xml('message'), 1)).toBe('stored');
      expect(await offline.store('a@x', xml('message'), 2)).toBe('quota-exceeded');
      expect((await c.get<RosterStore>(RosterStore).get('a@x')).version).toBe('0');

      const d = new Container();
      d.bind(adapters.token).toConstantValue(db);
      d.bind(adapters.offline).toSelf();
      expect(d.get(adapters.offline).maxPerUser).toBe(1000);
    });
  });
}
