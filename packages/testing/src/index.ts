/**
 * `@strand/testing` — helpers for Strand plugin unit tests: fake time, in-memory streams and
 * sessions, and a fake host that reproduces the host semantics of DESIGN.md without sockets.
 * See README.md for an example test.
 * @packageDocumentation
 */
import 'reflect-metadata';

export * from './time.js';
export * from './logger.js';
export * from './xml.js';
export * from './stream.js';
export * from './session.js';
export * from './hooks.js';
export * from './registry.js';
export * from './router.js';
export * from './builtins.js';
export * from './host.js';
