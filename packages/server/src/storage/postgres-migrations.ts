/** Strand's PostgreSQL schema, as an ordered migration list. Append new steps; never edit old ones. */
import type { PostgresMigration } from './postgres.js';

/**
 * The schema of the PostgreSQL store adapters: the SQLite schema's tables and columns (see
 * `migrations.ts`), with native types. Times are epoch **milliseconds** (`BIGINT`); stanzas are
 * serialised XML (`TEXT`); flags are `BOOLEAN`; roster groups a `TEXT[]`; credentials `JSONB`.
 * `seq` identity columns keep the first-insertion order that SQLite gets from `rowid`. The user
 * column is `owner` (`user` is reserved in PostgreSQL).
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE accounts (
        username   TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL,
        scram      JSONB NOT NULL           -- { "SHA-1": ScramCredentials, "SHA-256": ... }
      );
      CREATE TABLE roster_versions (
        owner   TEXT PRIMARY KEY,
        version BIGINT NOT NULL
      );
      CREATE TABLE roster_items (
        owner             TEXT NOT NULL,
        jid               TEXT NOT NULL,
        seq               BIGINT GENERATED ALWAYS AS IDENTITY,
        name              TEXT,
        subscription      TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
        ask               BOOLEAN NOT NULL,
        pending_in        BOOLEAN NOT NULL,
        approved          BOOLEAN NOT NULL,
        groups            TEXT[] NOT NULL,
        visible           BOOLEAN NOT NULL,
        pending_in_stanza TEXT,
        PRIMARY KEY (owner, jid)
      );
      CREATE INDEX roster_items_owner_seq ON roster_items (owner, seq);
      CREATE TABLE presence (
        bare                TEXT NOT NULL,
        resource            TEXT NOT NULL,
        seq                 BIGINT GENERATED ALWAYS AS IDENTITY,
        current             TEXT,
        current_at          BIGINT,
        last_unavailable    TEXT,
        last_unavailable_at BIGINT,
        PRIMARY KEY (bare, resource)
      );
      CREATE INDEX presence_online ON presence (bare, resource) WHERE current IS NOT NULL;
      CREATE TABLE offline (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        owner  TEXT NOT NULL,
        stanza TEXT NOT NULL,
        at     BIGINT NOT NULL
      );
      CREATE INDEX offline_owner_at ON offline (owner, at, id);
    `,
  },
];
