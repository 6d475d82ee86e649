/** Storage: the SQLite connection with migrations, and SQLite adapters of the core stores. */
export * from './tokens.js';
export * from './sqlite.js';
export * from './migrations.js';
export * from './sqlite-stores.js';
