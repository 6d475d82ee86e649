/**
 * Storage: the SQLite connection and the PostgreSQL pool with their migrations, and the SQLite and
 * PostgreSQL adapters of the core stores.
 */
export * from './tokens.js';
export * from './sqlite.js';
export * from './migrations.js';
export * from './sqlite-stores.js';
export * from './postgres.js';
export * from './postgres-migrations.js';
export * from './postgres-stores.js';
