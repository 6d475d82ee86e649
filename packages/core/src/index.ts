/**
 * `@strand/core` — the Strand hook API: tokens, interfaces and small helpers for XMPP server
 * plugins. No I/O. See README.md for the priority table and a plugin walkthrough.
 * @packageDocumentation
 */
import 'reflect-metadata';

export * from './namespaces.js';
export * from './xml.js';
export * from './jid.js';
export * from './errors.js';
export * from './slots.js';
export * from './stream.js';
export * from './hooks.js';
export * from './services.js';
export * from './priorities.js';
export * from './plugin.js';
export * from './delay.js';
export * from './scram.js';
export * from './memory.js';
export * from './runtime.js';
export * from './pipeline.js';
export * from './limits.js';
export * from './random.js';
export * from './cluster.js';
