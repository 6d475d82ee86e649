/** Strand's SQLite schema, as an ordered migration list. Append new steps; never edit old ones. */
import type { Migration } from './sqlite.js';

/**
 * Checks a migration list (SQLite or PostgreSQL): versions are positive integers, strictly
 * increasing.
 * @throws Error naming the first offending index
 */
export function assertIncreasingVersions(migrations: readonly { version: number }[]): void {
  migrations.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version < 1 || (i > 0 && m.version <= migrations[i - 1]!.version)) {
      throw new Error(`migration versions must be positive integers in increasing order (at index ${i})`);
    }
  });
}

/**
 * The schema of the SQLite store adapters. Times are epoch milliseconds; stanzas are serialised
 * XML; booleans are 0/1; roster groups are a JSON array.
 */
export const STRAND_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE accounts (
        username   TEXT PRIMARY KEY,
        created_at INTEGER NOT NULL,
        scram      TEXT NOT NULL           -- JSON: { "SHA-1": ScramCredentials, "SHA-256": ... }
      );
      CREATE TABLE roster_versions (
        user    TEXT PRIMARY KEY,
        version INTEGER NOT NULL
      );
      CREATE TABLE roster_items (
        user              TEXT NOT NULL,
        jid               TEXT NOT NULL,
        name              TEXT,
        subscription      TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
        ask               INTEGER NOT NULL,
        pending_in        INTEGER NOT NULL,
        approved          INTEGER NOT NULL,
        groups            TEXT NOT NULL,
        visible           INTEGER NOT NULL,
        pending_in_stanza TEXT,
        PRIMARY KEY (user, jid)
      );
      CREATE TABLE presence (
        bare                TEXT NOT NULL,
        resource            TEXT NOT NULL,
        current             TEXT,
        current_at          INTEGER,
        last_unavailable    TEXT,
        last_unavailable_at INTEGER,
        PRIMARY KEY (bare, resource)
      );
      CREATE TABLE offline (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        user   TEXT NOT NULL,
        stanza TEXT NOT NULL,
        at     INTEGER NOT NULL
      );
      CREATE INDEX offline_user_at ON offline (user, at, id);
    `,
  },
];
