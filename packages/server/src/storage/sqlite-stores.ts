/**
 * SQLite adapters of the core store interfaces. They behave as core's in-memory reference
 * implementations (`memory.ts`), checked by the shared conformance tests, except where noted.
 */
import { inject, injectable, optional } from 'inversify';
import {
  type Element,
  bareOf,
  parseJid,
  type AccountRecord,
  type AccountStore,
  type OfflineMessage,
  type OfflineStore,
  type OfflineStoreResult,
  type PresenceStore,
  type ResourcePresence,
  type Roster,
  type RosterItem,
  type RosterStore,
} from '@strand/core';
import {
  offlineMessageOf,
  resourcePresenceOf,
  restartUnavailable,
  rosterItemOf,
  rosterNullables,
  type OfflineRow,
  type PresenceRow,
  type RosterRow,
} from './rows.js';
import type { SqliteDatabase } from './sqlite.js';
import { DEFAULT_OFFLINE_PER_USER, OfflineQuota, SqliteDatabaseToken } from './tokens.js';

/** Account store in the `accounts` table; credentials as JSON. */
@injectable()
export class SqliteAccountStoreImpl implements AccountStore {
  private readonly q;

  constructor(@inject(SqliteDatabaseToken) database: SqliteDatabase) {
    const db = database.db;
    this.q = {
      get: db.prepare<[string], { username: string; created_at: number; scram: string }>(
        'SELECT username, created_at, scram FROM accounts WHERE username = ?',
      ),
      put: db.prepare(
        `INSERT INTO accounts (username, created_at, scram) VALUES (?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET created_at = excluded.created_at, scram = excluded.scram`,
      ),
      delete: db.prepare<[string]>('DELETE FROM accounts WHERE username = ?'),
      list: db.prepare<[], string>('SELECT username FROM accounts ORDER BY username').pluck(),
    };
  }

  async get(username: string): Promise<AccountRecord | undefined> {
    const row = this.q.get.get(username);
    return row && { username: row.username, createdAt: row.created_at, scram: JSON.parse(row.scram) };
  }

  async put(record: AccountRecord): Promise<void> {
    this.q.put.run(record.username, record.createdAt, JSON.stringify(record.scram));
  }

  async delete(username: string): Promise<boolean> {
    return this.q.delete.run(username).changes > 0;
  }

  /** Usernames in ascending (binary) order. */
  async list(): Promise<string[]> {
    return this.q.list.all();
  }
}

/**
 * Roster store. The version is a per-user counter rendered as a decimal string ("0" for an empty,
 * never-changed roster), bumped by every `setItem` and every `removeItem` that removed something
 * (RFC 6121 §2.6). Items come back in the order they were first added.
 *
 * Unlike the memory store, `clear` keeps the counter, so a re-created account never re-issues a
 * version a client may have cached for the old roster.
 */
@injectable()
export class SqliteRosterStoreImpl implements RosterStore {
  private readonly db;
  private readonly q;

  constructor(@inject(SqliteDatabaseToken) database: SqliteDatabase) {
    const db = (this.db = database.db);
    this.q = {
      version: db.prepare<[string], number>('SELECT version FROM roster_versions WHERE user = ?').pluck(),
      bump: db.prepare<[string], number>(
        `INSERT INTO roster_versions (user, version) VALUES (?, 1)
         ON CONFLICT (user) DO UPDATE SET version = version + 1 RETURNING version`,
      ).pluck(),
      items: db.prepare<[string], RosterRow>('SELECT * FROM roster_items WHERE user = ? ORDER BY rowid'),
      item: db.prepare<[string, string], RosterRow>('SELECT * FROM roster_items WHERE user = ? AND jid = ?'),
      upsert: db.prepare(
        `INSERT INTO roster_items (user, jid, name, subscription, ask, pending_in, approved, groups, visible, pending_in_stanza)
         VALUES (@user, @jid, @name, @subscription, @ask, @pendingIn, @approved, @groups, @visible, @pendingInStanza)
         ON CONFLICT (user, jid) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
           ask = excluded.ask, pending_in = excluded.pending_in, approved = excluded.approved,
           groups = excluded.groups, visible = excluded.visible, pending_in_stanza = excluded.pending_in_stanza`,
      ),
      remove: db.prepare<[string, string]>('DELETE FROM roster_items WHERE user = ? AND jid = ?'),
      clear: db.prepare<[string]>('DELETE FROM roster_items WHERE user = ?'),
    };
  }

  async get(user: string): Promise<Roster> {
    return this.db
      .transaction(() => ({ version: this.currentVersion(user), items: this.q.items.all(user).map(rosterItemOf) }))
      .deferred();
  }

  async getItem(user: string, contact: string): Promise<RosterItem | undefined> {
    const row = this.q.item.get(user, contact);
    return row && rosterItemOf(row);
  }

  async setItem(user: string, item: RosterItem): Promise<string> {
    return this.db
      .transaction(() => {
        this.q.upsert.run({
          user,
          jid: item.jid,
          ...rosterNullables(item),
          subscription: item.subscription,
          ask: item.ask ? 1 : 0,
          pendingIn: item.pendingIn ? 1 : 0,
          approved: item.approved ? 1 : 0,
          groups: JSON.stringify(item.groups),
          visible: item.visible ? 1 : 0,
        });
        return String(this.q.bump.get(user));
      })
      .immediate();
  }

  async removeItem(user: string, contact: string): Promise<string> {
    return this.db
      .transaction(() =>
        this.q.remove.run(user, contact).changes > 0 ? String(this.q.bump.get(user)) : this.currentVersion(user),
      )
      .immediate();
  }

  async clear(user: string): Promise<void> {
    this.q.clear.run(user);
  }

  private currentVersion(user: string): string {
    return String(this.q.version.get(user) ?? 0);
  }
}

/**
 * Presence store; stanzas are kept as serialised XML (`Element.toString()`) and parsed back with
 * ltx, times in epoch ms. Accounts are keyed by normalised bare JID (`bareOf`), resources in the
 * order first seen.
 */
@injectable()
export class SqlitePresenceStoreImpl implements PresenceStore {
  private readonly db;
  private readonly q;

  constructor(@inject(SqliteDatabaseToken) database: SqliteDatabase) {
    const db = (this.db = database.db);
    this.q = {
      available: db.prepare(
        `INSERT INTO presence (bare, resource, current, current_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (bare, resource) DO UPDATE SET current = excluded.current, current_at = excluded.current_at`,
      ),
      unavailable: db.prepare(
        `INSERT INTO presence (bare, resource, last_unavailable, last_unavailable_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (bare, resource) DO UPDATE SET current = NULL, current_at = NULL,
           last_unavailable = excluded.last_unavailable, last_unavailable_at = excluded.last_unavailable_at`,
      ),
      get: db.prepare<[string], PresenceRow>('SELECT * FROM presence WHERE bare = ? ORDER BY rowid'),
      online: db.prepare<[], PresenceRow>('SELECT * FROM presence WHERE current IS NOT NULL'),
      clear: db.prepare<[string]>('DELETE FROM presence WHERE bare = ?'),
    };
  }

  async setAvailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    const j = parseJid(fullJid);
    this.q.available.run(bareOf(j), j.resource, stanza.toString(), at);
  }

  async setUnavailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    const j = parseJid(fullJid);
    this.q.unavailable.run(bareOf(j), j.resource, stanza.toString(), at);
  }

  async get(bareJid: string): Promise<ResourcePresence[]> {
    return this.q.get.all(bareOf(bareJid)).map(resourcePresenceOf);
  }

  /** Replaces every `current` by `<presence from='bare/resource' type='unavailable'/>` at `at`. */
  async markAllUnavailable(at: number): Promise<number> {
    return this.db
      .transaction(() => {
        const rows = this.q.online.all();
        for (const r of rows) this.q.unavailable.run(r.bare, r.resource, restartUnavailable(r.bare, r.resource), at);
        return rows.length;
      })
      .immediate();
  }

  async clear(bareJid: string): Promise<void> {
    this.q.clear.run(bareOf(bareJid));
  }
}

/**
 * Offline store with a per-user quota (messages). Ids come from an AUTOINCREMENT column, so they
 * increase in storage order and are never reused. Users are keyed by the string given, as in the
 * memory store (callers pass normalised bare JIDs).
 */
@injectable()
export class SqliteOfflineStoreImpl implements OfflineStore {
  /** Per-user quota in messages. */
  readonly maxPerUser: number;
  private readonly db;
  private readonly q;

  /** @param maxPerUser quota in messages per user (default 1000) */
  constructor(
    @inject(SqliteDatabaseToken) database: SqliteDatabase,
    @inject(OfflineQuota) @optional() maxPerUser?: number,
  ) {
    this.maxPerUser = maxPerUser ?? DEFAULT_OFFLINE_PER_USER;
    const db = (this.db = database.db);
    this.q = {
      count: db.prepare<[string], number>('SELECT count(*) FROM offline WHERE user = ?').pluck(),
      insert: db.prepare<[string, string, number]>('INSERT INTO offline (user, stanza, at) VALUES (?, ?, ?)'),
      list: db.prepare<[string], OfflineRow>(
        'SELECT id, stanza, at FROM offline WHERE user = ? ORDER BY at, id',
      ),
      remove: db.prepare<[string, string]>('DELETE FROM offline WHERE user = ? AND id IN (SELECT value FROM json_each(?))'),
    };
  }

  async store(bareJid: string, stanza: Element, at: number): Promise<OfflineStoreResult> {
    return this.db
      .transaction((): OfflineStoreResult => {
        if (this.q.count.get(bareJid)! >= this.maxPerUser) return 'quota-exceeded';
        this.q.insert.run(bareJid, stanza.toString(), at);
        return 'stored';
      })
      .immediate();
  }

  async list(bareJid: string): Promise<OfflineMessage[]> {
    return this.q.list.all(bareJid).map(offlineMessageOf);
  }

  async remove(bareJid: string, ids: readonly number[]): Promise<void> {
    if (ids.length > 0) this.q.remove.run(bareJid, JSON.stringify(ids));
  }

  async count(bareJid: string): Promise<number> {
    return this.q.count.get(bareJid)!;
  }
}
