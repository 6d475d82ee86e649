/**
 * PostgreSQL adapters of the core store interfaces. They behave as the SQLite adapters (same
 * columns, same row mapping, same conformance tests) and stay correct when several nodes share
 * one database: every read-modify-write is one statement or one transaction.
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
import type { PostgresDatabase } from './postgres.js';
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
import { DEFAULT_OFFLINE_PER_USER, OfflineQuota, PostgresDatabaseToken } from './tokens.js';

/**
 * First key of the per-user advisory locks (`pg_advisory_xact_lock(int, int)`) of the offline
 * quota; the second is `hashtext(owner)`. (A hash collision only serialises two users' stores.)
 */
export const OFFLINE_LOCK_NAMESPACE = 0x4f66666c; // "Offl"

/** Account store in the `accounts` table; credentials as JSONB. */
@injectable()
export class PostgresAccountStoreImpl implements AccountStore {
  constructor(@inject(PostgresDatabaseToken) private readonly db: PostgresDatabase) {}

  async get(username: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.db.query<{ username: string; created_at: string; scram: AccountRecord['scram'] }>(
      'SELECT username, created_at, scram FROM accounts WHERE username = $1',
      [username],
    );
    const row = rows[0];
    return row && { username: row.username, createdAt: Number(row.created_at), scram: row.scram };
  }

  async put(record: AccountRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO accounts (username, created_at, scram) VALUES ($1, $2, $3)
       ON CONFLICT (username) DO UPDATE SET created_at = excluded.created_at, scram = excluded.scram`,
      [record.username, record.createdAt, JSON.stringify(record.scram)],
    );
  }

  async delete(username: string): Promise<boolean> {
    return ((await this.db.query('DELETE FROM accounts WHERE username = $1', [username])).rowCount ?? 0) > 0;
  }

  /** Usernames in ascending (binary, `COLLATE "C"`) order. */
  async list(): Promise<string[]> {
    const { rows } = await this.db.query<{ username: string }>('SELECT username FROM accounts ORDER BY username COLLATE "C"');
    return rows.map((r) => r.username);
  }
}

const ROSTER_COLUMNS = 'jid, name, subscription, ask, pending_in, approved, groups, visible, pending_in_stanza';

/**
 * Roster store. The version is a per-user counter rendered as a decimal string ("0" for an empty,
 * never-changed roster), bumped by every `setItem` and every `removeItem` that removed something
 * (RFC 6121 §2.6); the change and its bump are one statement, so concurrent changes from several
 * nodes each get their own version. Items come back in the order they were first added.
 *
 * As the SQLite store, `clear` keeps the counter, so a re-created account never re-issues a
 * version a client may have cached for the old roster.
 */
@injectable()
export class PostgresRosterStoreImpl implements RosterStore {
  constructor(@inject(PostgresDatabaseToken) private readonly db: PostgresDatabase) {}

  /** The version and the items, read in one statement (one snapshot). */
  async get(user: string): Promise<Roster> {
    const { rows } = await this.db.query<Partial<RosterRow> & { version: string }>(
      `SELECT v.version, i.jid, i.name, i.subscription, i.ask, i.pending_in, i.approved, i.groups, i.visible,
              i.pending_in_stanza
         FROM (SELECT coalesce((SELECT version FROM roster_versions WHERE owner = $1), 0) AS version) v
         LEFT JOIN roster_items i ON i.owner = $1
        ORDER BY i.seq`,
      [user],
    );
    return {
      version: String(rows[0]?.version ?? 0),
      items: rows.filter((r) => r.jid != null).map((r) => rosterItemOf(r as RosterRow)),
    };
  }

  async getItem(user: string, contact: string): Promise<RosterItem | undefined> {
    const { rows } = await this.db.query<RosterRow>(
      `SELECT ${ROSTER_COLUMNS} FROM roster_items WHERE owner = $1 AND jid = $2`,
      [user, contact],
    );
    return rows[0] && rosterItemOf(rows[0]);
  }

  async setItem(user: string, item: RosterItem): Promise<string> {
    const { name, pendingInStanza } = rosterNullables(item);
    const { rows } = await this.db.query<{ version: string }>(
      `WITH upsert AS (
         INSERT INTO roster_items (owner, ${ROSTER_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (owner, jid) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
           ask = excluded.ask, pending_in = excluded.pending_in, approved = excluded.approved,
           groups = excluded.groups, visible = excluded.visible, pending_in_stanza = excluded.pending_in_stanza
       )
       INSERT INTO roster_versions (owner, version) VALUES ($1, 1)
       ON CONFLICT (owner) DO UPDATE SET version = roster_versions.version + 1
       RETURNING version`,
      [
        user,
        item.jid,
        name,
        item.subscription,
        item.ask,
        item.pendingIn,
        item.approved,
        item.groups,
        item.visible,
        pendingInStanza,
      ],
    );
    return String(rows[0]!.version);
  }

  async removeItem(user: string, contact: string): Promise<string> {
    // The bump happens only if the DELETE removed a row; otherwise the current version is read.
    const { rows } = await this.db.query<{ version: string }>(
      `WITH removed AS (
         DELETE FROM roster_items WHERE owner = $1 AND jid = $2 RETURNING owner
       ), bumped AS (
         INSERT INTO roster_versions (owner, version) SELECT owner, 1 FROM removed
         ON CONFLICT (owner) DO UPDATE SET version = roster_versions.version + 1
         RETURNING version
       )
       SELECT coalesce((SELECT version FROM bumped), (SELECT version FROM roster_versions WHERE owner = $1), 0) AS version`,
      [user, contact],
    );
    return String(rows[0]!.version);
  }

  async clear(user: string): Promise<void> {
    await this.db.query('DELETE FROM roster_items WHERE owner = $1', [user]);
  }
}

/**
 * Presence store; stanzas are kept as serialised XML (`Element.toString()`) and parsed back with
 * ltx, times in epoch ms. Accounts are keyed by normalised bare JID (`bareOf`), resources in the
 * order first seen.
 */
@injectable()
export class PostgresPresenceStoreImpl implements PresenceStore {
  constructor(@inject(PostgresDatabaseToken) private readonly db: PostgresDatabase) {}

  async setAvailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    const j = parseJid(fullJid);
    await this.db.query(
      `INSERT INTO presence (bare, resource, current, current_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (bare, resource) DO UPDATE SET current = excluded.current, current_at = excluded.current_at`,
      [bareOf(j), j.resource, stanza.toString(), at],
    );
  }

  async setUnavailable(fullJid: string, stanza: Element, at: number): Promise<void> {
    const j = parseJid(fullJid);
    await this.db.query(
      `INSERT INTO presence (bare, resource, last_unavailable, last_unavailable_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (bare, resource) DO UPDATE SET current = NULL, current_at = NULL,
         last_unavailable = excluded.last_unavailable, last_unavailable_at = excluded.last_unavailable_at`,
      [bareOf(j), j.resource, stanza.toString(), at],
    );
  }

  async get(bareJid: string): Promise<ResourcePresence[]> {
    const { rows } = await this.db.query<PresenceRow>(
      `SELECT bare, resource, current, current_at, last_unavailable, last_unavailable_at
         FROM presence WHERE bare = $1 ORDER BY seq`,
      [bareOf(bareJid)],
    );
    return rows.map(resourcePresenceOf);
  }

  /**
   * Replaces every `current` by `<presence from='bare/resource' type='unavailable'/>` at `at`, in
   * one transaction. Note that it covers the whole database: with several nodes on one database,
   * it also ends the presences of sessions on the other nodes.
   */
  async markAllUnavailable(at: number): Promise<number> {
    return this.db.transaction(async (client) => {
      const { rows } = await client.query<{ bare: string; resource: string }>(
        'SELECT bare, resource FROM presence WHERE current IS NOT NULL FOR UPDATE',
      );
      if (rows.length === 0) return 0;
      const updated = await client.query(
        `UPDATE presence p SET current = NULL, current_at = NULL, last_unavailable = u.stanza, last_unavailable_at = $4
           FROM unnest($1::text[], $2::text[], $3::text[]) AS u(bare, resource, stanza)
          WHERE p.bare = u.bare AND p.resource = u.resource AND p.current IS NOT NULL`,
        [
          rows.map((r) => r.bare),
          rows.map((r) => r.resource),
          rows.map((r) => restartUnavailable(r.bare, r.resource)),
          at,
        ],
      );
      return updated.rowCount ?? 0;
    });
  }

  async clear(bareJid: string): Promise<void> {
    await this.db.query('DELETE FROM presence WHERE bare = $1', [bareOf(bareJid)]);
  }
}

/**
 * Offline store with a per-user quota (messages). The quota check and the insert run in one
 * transaction holding a per-user advisory lock (see {@link OFFLINE_LOCK_NAMESPACE}), so concurrent
 * stores from several nodes never exceed it. Ids come from an identity column: they increase in
 * storage order and are never reused. Users are keyed by the string given, as in the memory store
 * (callers pass normalised bare JIDs).
 */
@injectable()
export class PostgresOfflineStoreImpl implements OfflineStore {
  /** Per-user quota in messages. */
  readonly maxPerUser: number;

  /** @param maxPerUser quota in messages per user (default 1000) */
  constructor(
    @inject(PostgresDatabaseToken) private readonly db: PostgresDatabase,
    @inject(OfflineQuota) @optional() maxPerUser?: number,
  ) {
    this.maxPerUser = maxPerUser ?? DEFAULT_OFFLINE_PER_USER;
  }

  async store(bareJid: string, stanza: Element, at: number): Promise<OfflineStoreResult> {
    return this.db.transaction(async (client): Promise<OfflineStoreResult> => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [OFFLINE_LOCK_NAMESPACE, bareJid]);
      // READ COMMITTED: this statement's snapshot is taken after the lock, so it sees every
      // message committed by the previous holder.
      const inserted = await client.query(
        `INSERT INTO offline (owner, stanza, at)
         SELECT $1, $2, $3 WHERE (SELECT count(*) FROM offline WHERE owner = $1) < $4`,
        [bareJid, stanza.toString(), at, this.maxPerUser],
      );
      return inserted.rowCount === 1 ? 'stored' : 'quota-exceeded';
    });
  }

  async list(bareJid: string): Promise<OfflineMessage[]> {
    const { rows } = await this.db.query<OfflineRow>('SELECT id, stanza, at FROM offline WHERE owner = $1 ORDER BY at, id', [
      bareJid,
    ]);
    return rows.map(offlineMessageOf);
  }

  async remove(bareJid: string, ids: readonly number[]): Promise<void> {
    if (ids.length > 0) {
      await this.db.query('DELETE FROM offline WHERE owner = $1 AND id = ANY($2::bigint[])', [bareJid, [...ids]]);
    }
  }

  async count(bareJid: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM offline WHERE owner = $1', [bareJid]);
    return rows[0]!.n;
  }
}
