/** Host configuration: schema, loader, plugin section validation. */
export * from './schema.js';
export * from './load.js';
